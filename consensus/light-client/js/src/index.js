'use strict';
// @kessai/light-client: the Kessai light client (Rust, `kessai-light-client`, compiled to
// WebAssembly) with JSON-RPC over fetch and subscriptions over WebSocket. Every verification runs
// in the WebAssembly module; this layer only fetches, queues calls and converts.

const wasm = require('../pkg/kessai_light_client_wasm.js');
const { RpcProvider, RpcError } = require('./rpc.js');
const {
  Subscription,
  SubscriptionError,
  follow,
  followHeads,
  followEvents,
  followEventPages,
} = require('./subscribe.js');

/** How long a witness behind the primary is given to reach a height (as the Rust CLI: 10 s). */
const WITNESS_MAX_LAG_MS = 10_000;

function provider(node, opts) {
  return typeof node === 'string' ? new RpcProvider(node, opts) : node;
}

/**
 * A verifying client of one primary node, optionally cross-checked with witnesses. Create it with
 * `connect`. Calls run one at a time, in the order made.
 */
class LightClient {
  constructor(inner, primary, { now = Date.now } = {}) {
    this.inner = inner;
    this.primary = primary;
    this.now = now;
    this.queue = Promise.resolve();
  }

  _run(op) {
    const result = this.queue.then(op);
    this.queue = result.catch(() => {});
    return result;
  }

  /** Verifies the header at `height` (default: the primary's latest); resolves to its summary. */
  sync(height) {
    return this._run(() => this.inner.syncTo(height ?? undefined, this.now()));
  }

  /** Verifies a head that arrived by subscription (`{header, commit}`); resolves to its summary. */
  verifyHead(head) {
    return this._run(() => this.inner.verifyHead(head.header, head.commit, this.now()));
  }

  /** Proves the value (or absence) of a flat key (hex) after block `height`. */
  verifyState(flatKey, height) {
    return this._run(() => this.inner.verifyState(flatKey, height, this.now()));
  }

  /** Proves the address the chain names `name` at `height` (`address` null: no such contract). */
  verifyContractName(name, height) {
    return this._run(() => this.inner.verifyContractName(name, height, this.now()));
  }

  /** Proves a committed transaction and its receipt; null when the node does not know it. */
  verifyTx(txId) {
    return this._run(() => this.inner.verifyTx(txId, this.now()));
  }

  /**
   * Proves an event (as `kessai_events` or `kessai_subscribeEvents` give it): its transaction's
   * receipt is verified under the header of its block, and the event must be in that receipt at
   * the event's cursor, with the same contract, topic and data. Resolves to the verified
   * transaction; rejects with kind "verification" otherwise.
   */
  async verifyEvent(event) {
    const tx = await this.verifyTx(event.tx_id);
    const fail = (why) => {
      const error = new Error(`event of transaction ${event.tx_id}: ${why}`);
      error.kind = 'verification';
      throw error;
    };
    if (tx === null) fail('the node does not know the transaction');
    const { cursor } = event;
    if (tx.height !== event.height || (cursor && (cursor.height !== tx.height || cursor.tx !== tx.index))) {
      fail(`the event says block ${event.height} (cursor ${JSON.stringify(cursor)}), the proof block ${tx.height} index ${tx.index}`);
    }
    const events = tx.receipt.events;
    const candidates = cursor ? [events[cursor.event]] : events;
    const same = (e) =>
      e &&
      e.contract.toLowerCase() === event.event.contract.toLowerCase() &&
      e.topic === event.event.topic &&
      e.data.toLowerCase() === event.event.data.toLowerCase();
    if (!candidates.some(same)) fail('the event is not in the proven receipt');
    return tx;
  }

  /** The latest verified header's summary. */
  latest() {
    return this.inner.latest();
  }

  /** The latest trusted state: keep it (JSON.stringify) and pass it back as `trust: { state }`. */
  trustedState() {
    return this.inner.trustedState();
  }

  /** Each witness's last comparison (`null`, or `{height, outcome, reason?}`). */
  witnessChecks() {
    return this.inner.witnessChecks();
  }

  /** The conflicting headers if a fork was detected, else null. */
  forkEvidence() {
    return this.inner.forkEvidence();
  }

  /**
   * Follows the primary's heads over WebSocket and verifies each: yields the verified summaries in
   * height order. A head that does not verify ends the iteration with the error.
   */
  async *verifiedHeads({ afterHeight = null, url = this.primary.url, ...opts } = {}) {
    for await (const head of followHeads(url, { afterHeight, ...opts })) {
      yield await this.verifyHead(head);
    }
  }

  /**
   * Follows a contract's events over WebSocket and proves each (`verifyEvent`): yields
   * `{event, tx}` — the event as the node sent it and the verified transaction with its receipt.
   */
  async *verifiedEvents(contract, { topic = null, after = null, url = this.primary.url, ...opts } = {}) {
    for await (const event of followEvents(url, contract, { topic, after, ...opts })) {
      yield { event, tx: await this.verifyEvent(event) };
    }
  }
}

/**
 * Connects to a primary node (a URL, or an object with the provider methods) and initialises trust:
 * - `trust: { height, hash }`: a header hash obtained out of band;
 * - `trust: { chainId, validators }`: the chain spec's genesis validators signed block 1;
 * - `trust: { state }`: a trusted state kept from an earlier run (`client.trustedState()`).
 * `witnesses` (URLs) are asked for every header verified forward; with witnesses, one at least must
 * confirm. `options`: `{trustingPeriodMs, trustThreshold: [n, d], maxClockDriftMs}`.
 */
async function connect({ rpc, witnesses = [], trust, options, now = Date.now }) {
  const primary = provider(rpc);
  const others = witnesses.map((w) => provider(w, { maxLagMs: WITNESS_MAX_LAG_MS }));
  let inner;
  if (trust && trust.state) {
    inner = wasm.fromTrustedState(primary, others, trust.state, options);
  } else if (trust && trust.hash !== undefined) {
    inner = await wasm.initFromHash(primary, others, trust.height, trust.hash, options, now());
  } else if (trust && trust.validators !== undefined) {
    inner = await wasm.initFromGenesis(primary, others, trust.chainId, trust.validators, options, now());
  } else {
    throw new Error('connect: trust must be { height, hash }, { chainId, validators } or { state }');
  }
  return new LightClient(inner, primary, { now });
}

/** Hex of a UTF-8 string, or of bytes. */
function toHex(value) {
  return Buffer.from(value).toString('hex');
}

/** The flat key of a contract map entry: contract address ‖ the map's prefix ‖ borsh(key) (hex). */
function mapKey(contract, prefix, borshKey) {
  return wasm.contractKey(contract, toHex(prefix) + (typeof borshKey === 'string' ? borshKey : toHex(borshKey)));
}

module.exports = {
  connect,
  LightClient,
  RpcProvider,
  RpcError,
  Subscription,
  SubscriptionError,
  follow,
  followHeads,
  followEvents,
  followEventPages,
  mapKey,
  // The pure functions of the WebAssembly module.
  verifyHeader: wasm.verifyHeader,
  verifyStateProof: wasm.verifyStateProof,
  headerHash: wasm.headerHash,
  contractKey: wasm.contractKey,
};
