'use strict';
// The JavaScript light client against a real `kessai dev`: trust a header, sync with witnesses,
// prove a value and an absence, a transaction with its receipt and an event, follow heads and
// verify each — and refuse every tampered answer (a header, a commit, a value, an absence, a
// receipt, a pushed head, an event), which fails these tests if verification were skipped.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const kessai = require('../src/index.js');
const { RpcProvider } = kessai;
const { startDev, randomAddress, borshString, readU128 } = require('./helpers.js');

let node;
let deposit; // { exchange, txId, height, balance }

before(async () => {
  node = await startDev();
  // An exchange and a deposit attested by the clearing system (alice on the dev chain).
  const exchange = randomAddress();
  node.call('alice', 'clearing', 'register_exchange', [exchange, 'JS exchange']);
  const out = node.call('alice', 'clearing', 'deposit_fiat', [exchange, '250']);
  assert.equal(out.state, 'committed', JSON.stringify(out));
  deposit = { exchange, txId: out.tx_id, height: out.height };
});

after(async () => {
  await node?.stop();
});

/** The header hash at `height` as this machine's own node says: the out-of-band root of trust. */
async function trustedHash(height) {
  return kessai.headerHash(await node.provider.call('kessai_header', [height]));
}

/** A provider that forwards to the node and lets `rewrite(method, params, result)` change answers. */
class LyingProvider extends RpcProvider {
  constructor(url, rewrite) {
    super(url);
    this.rewrite = rewrite;
  }
  async call(method, params) {
    const result = await super.call(method, params);
    const lie = this.rewrite(method, params, structuredClone(result));
    return lie === undefined ? result : lie;
  }
}

async function clientOf(rpc, witnesses = []) {
  return kessai.connect({ rpc, witnesses, trust: { height: 1, hash: await trustedHash(1) } });
}

/** Asserts that `promise` is refused as a broken verification rule; returns the error. */
async function refused(promise, pattern) {
  const error = await promise.then(
    (value) => assert.fail(`accepted what should be refused: ${JSON.stringify(value)}`),
    (e) => e,
  );
  assert.equal(error.kind, 'verification', error.message);
  if (pattern) assert.match(error.message, pattern);
  return error;
}

/** The flat key of clearing's `balances` entry (exchange, currency): `b/ ‖ address ‖ borsh(string)`. */
function balanceKey(clearing, exchange, currency) {
  return kessai.mapKey(clearing, 'b/', Buffer.concat([Buffer.from(exchange, 'hex'), borshString(currency)]));
}

test('trusts a header by hash and syncs to the latest, confirmed by a witness', async () => {
  const client = await clientOf(node.rpc, [node.rpc]);
  assert.equal(client.latest().height, 1);
  assert.equal(client.latest().hash, await trustedHash(1));
  const latest = await node.waitHeight(deposit.height);
  const synced = await client.sync();
  assert.ok(synced.height >= latest, `synced to ${synced.height}, the node was at ${latest}`);
  assert.equal(synced.hash, await trustedHash(synced.height));
  assert.equal(synced.chainId, 'kessai-dev');
  assert.ok(synced.signedPower * 3 > synced.totalPower * 2);
  const [check] = client.witnessChecks();
  assert.deepEqual(check, { height: synced.height, outcome: 'confirmed' });

  // The kept state resumes, checked.
  const kept = JSON.parse(JSON.stringify(client.trustedState()));
  const resumed = await kessai.connect({ rpc: node.rpc, trust: { state: kept } });
  assert.equal(resumed.latest().hash, synced.hash);
  kept.commit.signatures[0].signature = kept.commit.signatures[0].signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  await assert.rejects(kessai.connect({ rpc: node.rpc, trust: { state: kept } }));
});

test('trusts the chain spec: its genesis validators signed block 1', async () => {
  const client = await kessai.connect({ rpc: node.rpc, trust: node.genesisTrust() });
  assert.equal(client.latest().height, 1);
  const wrong = node.genesisTrust();
  wrong.validators.validators[0].public_key = randomAddress();
  await refused(kessai.connect({ rpc: node.rpc, trust: wrong }));
});

test('a witness that cannot be reached confirms nothing: the header is not trusted', async () => {
  const client = await clientOf(node.rpc, ['http://127.0.0.1:9']);
  const error = await client.sync().then(() => assert.fail('synced without a confirmation'), (e) => e);
  assert.equal(error.kind, 'notConfirmed', error.message);
  assert.equal(client.witnessChecks()[0].outcome, 'unavailable');
});

test('proves a value, and the absence of another, against the verified header', async () => {
  const client = await clientOf(node.rpc);
  const named = await client.verifyContractName('clearing', deposit.height);
  assert.match(named.address, /^[0-9a-f]{64}$/);
  const value = await client.verifyState(balanceKey(named.address, deposit.exchange, 'JPY'), deposit.height);
  assert.equal(value.height, deposit.height);
  assert.equal(value.headerHash, await trustedHash(deposit.height));
  assert.equal(readU128(Buffer.from(value.value, 'hex'), 0), 250n);

  const absent = await client.verifyState(balanceKey(named.address, randomAddress(), 'JPY'), deposit.height);
  assert.equal(absent.value, null);
  const noContract = await client.verifyContractName('no-such-contract', deposit.height);
  assert.equal(noContract.address, null);
});

test('proves a transaction, its receipt and its event', async () => {
  const client = await clientOf(node.rpc);
  const tx = await client.verifyTx(deposit.txId);
  assert.equal(tx.txId, deposit.txId);
  assert.equal(tx.height, deposit.height);
  assert.equal(tx.headerHash, await trustedHash(deposit.height));
  assert.equal(tx.call.method, 'deposit_fiat');
  assert.equal(tx.receipt.status.status, 'success');
  const deposited = tx.receipt.events.find((e) => e.topic === 'deposited');
  assert.ok(deposited, JSON.stringify(tx.receipt));
  assert.equal(deposited.data.slice(0, 64), deposit.exchange);

  const [event] = await node.provider.call('kessai_events', ['clearing', deposit.height, deposit.height]).then(
    (events) => events.filter((e) => e.tx_id === deposit.txId && e.event.topic === 'deposited'),
  );
  const proven = await client.verifyEvent(event);
  assert.equal(proven.txId, deposit.txId);
  const forged = structuredClone(event);
  forged.event.data = forged.event.data.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
  await refused(client.verifyEvent(forged), /not in the proven receipt/);

  assert.equal(await client.verifyTx(randomAddress()), null, 'an unknown transaction proves nothing');
});

test('follows heads over WebSocket and verifies each', async () => {
  const client = await clientOf(node.rpc);
  const from = await node.waitHeight(1);
  const seen = [];
  for await (const head of client.verifiedHeads({ afterHeight: from })) {
    assert.equal(head.hash, await trustedHash(head.height));
    seen.push(head.height);
    if (seen.length === 3) break;
  }
  // No gap: every height after the one given, in order (docs/rpc.md, "Resuming").
  assert.deepEqual(seen, [from + 1, from + 2, from + 3], `kessai_subscribeHeads after ${from} sent ${seen}`);
});

test('follows a contract\'s events and proves each', async () => {
  const client = await clientOf(node.rpc);
  const after = { height: deposit.height - 1, tx: 4294967295, event: 4294967295 };
  for await (const { event, tx } of client.verifiedEvents('clearing', { topic: 'deposited', after })) {
    assert.equal(tx.txId, deposit.txId);
    assert.equal(event.height, deposit.height);
    break;
  }
});

test('follows a contract\'s events a page at a time, each event provable', async () => {
  const client = await clientOf(node.rpc);
  const after = { height: deposit.height - 1, tx: 4294967295, event: 4294967295 };
  for await (const page of kessai.followEventPages(node.rpc, 'clearing', { topic: 'deposited', after })) {
    assert.ok(page.events.every((e) => e.event.topic === 'deposited'), JSON.stringify(page));
    const [event] = page.events;
    assert.equal(event.height, deposit.height);
    assert.ok(page.cursor.height >= deposit.height, 'the page covers its event');
    assert.equal((await client.verifyEvent(event)).txId, deposit.txId);
    break;
  }
});

test('a tampered head pushed by subscription is refused', async () => {
  const client = await clientOf(node.rpc);
  const height = await node.waitHeight(2);
  const header = await node.provider.call('kessai_header', [height]);
  const commit = await node.provider.call('kessai_commit', [height]);
  const forged = { ...header, state_root: randomAddress() };
  await refused(client.verifyHead({ header: forged, commit }), /hashes to|does not sign|commit/);
  const badCommit = structuredClone(commit);
  badCommit.signatures[0].signature = badCommit.signatures[0].signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  await refused(client.verifyHead({ header, commit: badCommit }));
  const verified = await client.verifyHead({ header, commit });
  assert.equal(verified.height, height);
});

test('a node that lies is refused: header, commit, value, absence, receipt', async () => {
  const height = deposit.height;
  const lie = (what) => new LyingProvider(node.rpc, what);

  // A header whose state root was changed: its commit signs another block.
  const forgedHeader = await clientOf(lie((m, p, r) => {
    if (m === 'kessai_header' && p[0] === height) return { ...r, state_root: randomAddress() };
  }));
  await refused(forgedHeader.sync(height));

  // A commit with a bad signature.
  const forgedCommit = await clientOf(lie((m, p, r) => {
    if (m === 'kessai_commit' && p[0] === height) {
      r.signatures[0].signature = r.signatures[0].signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      return r;
    }
  }));
  await refused(forgedCommit.sync(height));

  const clearing = (await (await clientOf(node.rpc)).verifyContractName('clearing', height)).address;
  const key = balanceKey(clearing, deposit.exchange, 'JPY');
  // A changed value with the true proof.
  const changedValue = await clientOf(lie((m, p, r) => {
    if (m === 'kessai_state' && p[0] === key) return { ...r, value: '00'.repeat(15) + 'ff' };
  }));
  await refused(changedValue.verifyState(key, height), /does not verify/);
  // A value withheld: claimed absent.
  const withheld = await clientOf(lie((m, p, r) => {
    if (m === 'kessai_state' && p[0] === key) return { ...r, value: null };
  }));
  await refused(withheld.verifyState(key, height), /does not verify/);

  // A receipt that says something else than what was committed.
  const forgedReceipt = await clientOf(lie((m, p, r) => {
    if (m === 'kessai_tx') {
      r.receipt.gas_used += 1;
      delete r.receipt_raw;
      return r;
    }
  }));
  await refused(forgedReceipt.verifyTx(deposit.txId), /receipt/);
});

test('pure functions: a state proof of the document\'s test vectors, and a tampered one', () => {
  // docs/light-client.md, section 11: `beta` = "2" under this state root.
  const root = 'ed82571e97b241a22fa7abd49997d9ee06b9c0fe361545ff65acf7e2e5ac803b';
  const key = '00'.repeat(32) + Buffer.from('beta').toString('hex');
  const proof =
    '0166b331db984d4a2ccbddf78b88efec733c31a6d37b98a61e0be77292c5fbf867813e9b729141e7f385afa0a2d0df3e6c3789e427ffe4aeef566a565bc8f2fe3d03000000025f8f27c65a1dedebf6f7b297a25bddd6ec31367a1b6e6f17e8f9d16a7fa677e8d63bd9a826af91c1fea371965a64e11ee20f13e46b5f52c59901136605b3a4870002d388b89cec07fe5938a14c5291da709315ab07ec202036aa31386cc344a3315158d6fd3dc609068615d66b6a2616cce521e6bd49bbcd7854e3f2573b142c6637';
  kessai.verifyStateProof(root, key, Buffer.from('2').toString('hex'), proof);
  assert.throws(() => kessai.verifyStateProof(root, key, Buffer.from('3').toString('hex'), proof), { kind: 'verification' });
  assert.throws(() => kessai.verifyStateProof(root, key, null, proof), { kind: 'verification' });
});

test('the README\'s deposit watcher runs as written and reports the deposit, proven', async () => {
  const readme = require('node:fs').readFileSync(require('node:path').join(__dirname, '..', 'README.md'), 'utf8');
  let code = readme.match(/## An exchange's deposit watcher[\s\S]*?```js\n([\s\S]*?)```/)[1];
  const dir = require('node:fs').mkdtempSync(require('node:path').join(require('node:os').tmpdir(), 'watch-'));
  const file = require('node:path').join(dir, 'watch.json');
  const replace = (from, to) => {
    assert.ok(code.includes(from), `the README's example no longer has ${from}`);
    code = code.split(from).join(to);
  };
  replace("require('@kessai/light-client')", "require('../src/index.js')");
  replace("'http://node-a.example:8545'", JSON.stringify(node.rpc));
  replace("'http://node-b.example:8545'", JSON.stringify(node.rpc));
  replace("'a3f1…'", JSON.stringify(deposit.exchange));
  replace("'watch.json'", JSON.stringify(file));
  replace('console.log(', 'report(');
  // Resume from a cursor just before the deposit's block, with a verified trusted state.
  const client = await clientOf(node.rpc);
  const cursor = { height: deposit.height - 1, tx: 4294967295, event: 4294967295 };
  require('node:fs').writeFileSync(file, JSON.stringify({ cursor, trusted: client.trustedState() }));
  const reports = [];
  const run = new (async () => {}).constructor('require', 'report', code);
  await assert.rejects(
    run(require, (line) => {
      reports.push(line);
      throw new Error('stop after the first deposit');
    }),
    /stop after the first deposit/,
  );
  assert.equal(reports.length, 1);
  assert.match(reports[0], new RegExp(`^deposit of 250 JPY in tx ${deposit.txId}, block ${deposit.height} \\(`));
  require('node:fs').rmSync(dir, { recursive: true, force: true });
});
