'use strict';
// Verification cost in the JavaScript light client (WebAssembly), per call, on real data from a
// node: a header with its commit checked against a trusted state (the adjacent rule: validator set
// hash, parent, every precommit signature), and a state proof. Usage: node bench/verify.js RPC_URL
// (scripts/bench-light-client-js.sh starts a 4-validator testnet and runs it).

const kessai = require('../src/index.js');

function perCall(name, iterations, fn) {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(); // warm up
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name}: ${(ns / 1000).toFixed(1)} µs per call (${iterations} calls)`);
  return ns;
}

async function main() {
  const rpc = process.argv[2];
  if (!rpc) throw new Error('usage: node bench/verify.js RPC_URL');
  const node = new kessai.RpcProvider(rpc);
  // The latest height whose successor's commit carries all four signatures (a commit needs only
  // three of four, and often has just that).
  const status = await node.call('kessai_status');
  let height = status.height - 1;
  for (let h = status.height; h > 1; h--) {
    const c = await node.call('kessai_commit', [h]);
    const set = await node.call('kessai_validators', [h]);
    if (c.signatures.length === set.validators.length) {
      height = h - 1;
      break;
    }
  }
  const trustedHeader = await node.call('kessai_header', [height]);
  const client = await kessai.connect({
    rpc,
    trust: { height, hash: kessai.headerHash(trustedHeader) },
  });
  const trusted = client.trustedState();
  const header = await node.call('kessai_header', [height + 1]);
  const commit = await node.call('kessai_commit', [height + 1]);
  const validators = await node.call('kessai_validators', [height + 1]);
  const now = Date.now();
  console.log(`node ${process.version}, ${validators.validators.length} validators, ` +
    `${commit.signatures.length} signatures in the commit of height ${height + 1}`);

  perCall('header + commit (adjacent rule, all signatures)', 2000, () => {
    kessai.verifyHeader(trusted, header, commit, validators, now);
  });

  perCall('converting a header from JavaScript and hashing it (headerHash)', 20000, () => {
    kessai.headerHash(header);
  });

  // A state proof of a contract's `name/` entry (present) in the state after `height + 1`.
  const key = '00'.repeat(32) + Buffer.from('name/clearing').toString('hex');
  const read = await node.call('kessai_state', [key, height + 1]);
  console.log(`state proof: ${read.proof.length / 2} bytes, value ${read.value ? 'present' : 'absent'}`);
  perCall('state proof', 20000, () => {
    kessai.verifyStateProof(header.state_root, key, read.value, read.proof);
  });

  // Through the client (a fresh one each time, so nothing is cached): fetch over HTTP and verify.
  let calls = 0;
  const start = process.hrtime.bigint();
  while (calls < 50) {
    const fresh = await kessai.connect({ rpc, trust: { state: trusted } });
    await fresh.verifyState(key, height + 1);
    calls++;
  }
  const ms = Number(process.hrtime.bigint() - start) / 1e6 / calls;
  console.log(`client.verifyState over RPC (header, commit, sets and proof fetched): ${ms.toFixed(2)} ms per call`);
}

main().catch((e) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
