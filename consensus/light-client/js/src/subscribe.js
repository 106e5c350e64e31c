'use strict';
// Subscriptions over WebSocket on the node's RPC port (docs/rpc.md): heads and events, each
// message with its cursor, resumed from the last cursor when the node closes a slow subscriber
// ("lagged") or the connection drops. What arrives is not trusted: verify it with the client.

/** The node closed a subscription whose reader was too slow: resume from `cursor`. */
const LAGGED = -32040;

/** A subscription closed by the node with an error (`code`; `cursor` to resume from when lagged). */
class SubscriptionError extends Error {
  constructor(message, code, cursor) {
    super(message);
    this.name = 'SubscriptionError';
    this.code = code;
    this.cursor = cursor;
  }
}

/** Node 22 and browsers have a global WebSocket; Node 18 and 20 use the `ws` package. */
function webSocketClass(given) {
  if (given) return given;
  if (typeof globalThis.WebSocket === 'function') return globalThis.WebSocket;
  return require('ws');
}

/** `http://host:port` → `ws://host:port` (the RPC port serves both). */
function wsUrl(url) {
  return url.replace(/^http(s?):\/\//, 'ws$1://');
}

/**
 * One subscription on its own connection (so it has the node's whole 256-message buffer): an async
 * iterator of the notifications' results. `open` resolves once the node accepted it.
 */
class Subscription {
  static open(url, method, params, { WebSocket } = {}) {
    const Socket = webSocketClass(WebSocket);
    const socket = new Socket(wsUrl(url));
    const subscription = new Subscription(socket);
    return new Promise((resolve, reject) => {
      subscription._accepted = { resolve: () => resolve(subscription), reject };
      socket.onopen = () => {
        socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }));
      };
    });
  }

  constructor(socket) {
    this.socket = socket;
    this.id = null;
    this.items = [];
    this.waiting = [];
    this.ended = null; // { error } once the subscription can deliver nothing more
    socket.onmessage = (event) => this._message(event.data);
    socket.onerror = (event) => this._end(new Error(`WebSocket error: ${event.message || 'connection failed'}`));
    socket.onclose = () => this._end(null);
  }

  _message(data) {
    const message = JSON.parse(typeof data === 'string' ? data : data.toString());
    if (message.id === 1 && this._accepted) {
      const accepted = this._accepted;
      this._accepted = null;
      if (message.error) {
        accepted.reject(new SubscriptionError(message.error.message, message.error.code));
        this.close();
      } else {
        this.id = message.result;
        accepted.resolve();
      }
      return;
    }
    const params = message.params;
    if (!params || params.subscription !== this.id) return;
    if (params.error) {
      const { message: text, code, cursor } = params.error;
      this._end(new SubscriptionError(text, code, cursor));
      this.close();
      return;
    }
    const waiter = this.waiting.shift();
    if (waiter) waiter.resolve({ value: params.result, done: false });
    else this.items.push(params.result);
  }

  _end(error) {
    if (this._accepted) {
      this._accepted.reject(error || new Error('the node closed the connection'));
      this._accepted = null;
    }
    if (this.ended) return;
    this.ended = { error };
    for (const waiter of this.waiting.splice(0)) {
      if (error) waiter.reject(error);
      else waiter.resolve({ value: undefined, done: true });
    }
  }

  /** The next item; `done` when the connection closed; rejects with the node's close error. */
  next() {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift(), done: false });
    if (this.ended) {
      return this.ended.error
        ? Promise.reject(this.ended.error)
        : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  close() {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Follows a subscription for as long as the caller iterates: when the node closes it as lagged or
 * the connection drops, subscribes again from the last item's cursor (after `retryMs`), so the
 * caller sees every item once. `paramsFrom(cursor)` builds the parameters (cursor null at first,
 * unless `start` is given).
 */
async function* follow(url, method, paramsFrom, { start = null, retryMs = 1000, WebSocket } = {}) {
  let cursor = start;
  for (;;) {
    let subscription;
    try {
      subscription = await Subscription.open(url, method, paramsFrom(cursor), { WebSocket });
    } catch (e) {
      if (e instanceof SubscriptionError) throw e; // refused (bad parameters, pruned cursor)
      await new Promise((resolve) => setTimeout(resolve, retryMs));
      continue;
    }
    try {
      for (;;) {
        let next;
        try {
          next = await subscription.next();
        } catch (e) {
          if (e instanceof SubscriptionError && e.code !== LAGGED) throw e;
          break; // lagged or disconnected: resume from `cursor`
        }
        if (next.done) break;
        cursor = next.value.cursor;
        yield next.value;
      }
    } finally {
      subscription.close();
    }
    await new Promise((resolve) => setTimeout(resolve, retryMs));
  }
}

/** Every committed head (`{cursor, header, commit}`) after height `afterHeight` (default: the next). */
function followHeads(url, { afterHeight = null, ...opts } = {}) {
  const start = afterHeight === null ? null : { height: afterHeight, tx: 0, event: 0 };
  return follow(url, 'kessai_subscribeHeads', (c) => (c ? [c.height] : []), { start, ...opts });
}

/** Every event of `contract` (of `topic` when given) after cursor `after` (default: the next block). */
function followEvents(url, contract, { topic = null, after = null, ...opts } = {}) {
  return follow(url, 'kessai_subscribeEvents', (c) => [contract, topic, c], { start: after, ...opts });
}

/**
 * The same events as `followEvents`, a page at a time (`{events, cursor}`, up to 256 events each;
 * `kessai_subscribeEventPages`): for a watcher of every event of a busy contract.
 */
function followEventPages(url, contract, { topic = null, after = null, ...opts } = {}) {
  return follow(url, 'kessai_subscribeEventPages', (c) => [contract, topic, c], {
    start: after,
    ...opts,
  });
}

module.exports = {
  Subscription,
  SubscriptionError,
  follow,
  followHeads,
  followEvents,
  followEventPages,
  LAGGED,
};
