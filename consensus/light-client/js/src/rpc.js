'use strict';
// A node's JSON-RPC over fetch (docs/light-client.md, section 10). Nothing it answers is trusted:
// the light client (WebAssembly) verifies every answer it takes from here.

/** JSON-RPC error code of "the node does not have it" (`kessai_rpc_api::codes::NOT_FOUND`). */
const NOT_FOUND = -32004;
/** "pruned: the earliest state kept is height H": the node no longer has it. */
const PRUNED = -32050;

/** An error of the node's RPC, with its JSON-RPC `code`; `notFound` when the node lacks the thing. */
class RpcError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.notFound = code === NOT_FOUND || code === PRUNED;
  }
}

/**
 * One node's JSON-RPC at `url` (`http://host:port`). `call(method, params)` resolves to the
 * method's `result`; the other methods are what the light client asks for (its provider).
 * A witness (`maxLagMs` set) asked for a header above its latest height is given that long to
 * commit it before it counts as behind, as the Rust client's witnesses are (10 s).
 */
class RpcProvider {
  constructor(url, { maxLagMs = 0, timeoutMs = 60_000, fetch: fetchImpl } = {}) {
    this.url = url;
    this.maxLagMs = maxLagMs;
    this.timeoutMs = timeoutMs;
    this.fetch = fetchImpl || globalThis.fetch;
    if (typeof this.fetch !== 'function') {
      throw new Error('no fetch: run on Node 18 or later, or pass { fetch }');
    }
    this.nextId = 1;
  }

  async call(method, params = []) {
    const id = this.nextId++;
    let response;
    try {
      response = await this.fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new RpcError(`${method} to ${this.url}: ${e.cause?.message || e.message}`, undefined);
    }
    const text = await response.text();
    let answer;
    try {
      answer = JSON.parse(text);
    } catch {
      throw new RpcError(`${method} to ${this.url}: HTTP ${response.status}, not JSON`, undefined);
    }
    if (answer.error) {
      throw new RpcError(`${this.url} refused ${method}: ${answer.error.message}`, answer.error.code);
    }
    return answer.result;
  }

  // The light client's provider: each resolves to the RPC's result as is.
  latestHeight() {
    return this.call('kessai_status');
  }
  async header(height) {
    try {
      return await this.call('kessai_header', [height]);
    } catch (e) {
      if (!(e.notFound && this.maxLagMs > 0)) throw e;
      await this.waitFor(height);
      return this.call('kessai_header', [height]);
    }
  }
  commit(height) {
    return this.call('kessai_commit', [height]);
  }
  validators(height) {
    return this.call('kessai_validators', [height]);
  }
  state(flatKeyHex, height) {
    return this.call('kessai_state', [flatKeyHex, height]);
  }
  tx(txIdHex) {
    return this.call('kessai_tx', [txIdHex]);
  }

  /** Resolves once the node's latest height is at least `height`; "not found" after maxLagMs. */
  async waitFor(height) {
    const deadline = Date.now() + this.maxLagMs;
    for (;;) {
      const status = await this.call('kessai_status');
      if (status.height >= height) return;
      if (Date.now() >= deadline) {
        throw new RpcError(
          `${this.url} is behind: its latest height is ${status.height}, it did not reach ` +
            `height ${height} within ${this.maxLagMs / 1000} s`,
          NOT_FOUND,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

module.exports = { RpcProvider, RpcError, NOT_FOUND };
