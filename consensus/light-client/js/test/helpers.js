'use strict';
// A real `kessai dev` process for the tests, and the CLI to make transactions on it.

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { RpcProvider } = require('../src/rpc.js');

/** `$KESSAI_BIN`, else the debug build in `$CARGO_TARGET_DIR` (default ~/.cache/kessai/target). */
function kessaiBin() {
  if (process.env.KESSAI_BIN) return process.env.KESSAI_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'kessai', 'target');
  const bin = path.join(target, 'debug', 'kessai');
  if (!fs.existsSync(bin)) {
    throw new Error(`${bin} is missing: build it with \`cargo build -p kessai-cli\` (or set KESSAI_BIN)`);
  }
  return bin;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts `kessai dev` on a fresh temporary home with an OS-chosen RPC port. */
async function startDev() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kessai-js-'));
  const home = path.join(dir, 'dev');
  const log = fs.openSync(path.join(dir, 'node.log'), 'a');
  const child = spawn(kessaiBin(), ['dev', '--home', home, '--rpc-addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'ignore', log],
  });
  const urlFile = path.join(home, 'rpc_url');
  const started = Date.now();
  while (!fs.existsSync(urlFile)) {
    if (child.exitCode !== null) throw new Error(`kessai dev exited: ${fs.readFileSync(path.join(dir, 'node.log'), 'utf8')}`);
    if (Date.now() - started > 60_000) throw new Error('kessai dev did not start in 60 s');
    await sleep(50);
  }
  const rpc = fs.readFileSync(urlFile, 'utf8').trim();
  const node = {
    dir,
    home,
    rpc,
    provider: new RpcProvider(rpc),
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async waitHeight(height, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const status = await node.provider.call('kessai_status');
        if (status.height >= height) return status.height;
        if (Date.now() > deadline) throw new Error(`height ${height} not reached in ${timeoutMs} ms`);
        await sleep(100);
      }
    },
    /** `kessai tx call` as a dev member; resolves to its JSON output (tx_id, height, receipt). */
    call(key, contract, method, args) {
      const out = execFileSync(kessaiBin(), [
        'tx', 'call', contract, method, JSON.stringify(args),
        '--key', key, '--keys-dir', path.join(home, 'keys'), '--rpc', rpc, '--json',
      ], { encoding: 'utf8' });
      return JSON.parse(out);
    },
    /** The chain spec `kessai dev` wrote: chain id and genesis validators, as a root of trust. */
    genesisTrust() {
      const spec = JSON.parse(fs.readFileSync(path.join(home, 'chainspec.json'), 'utf8'));
      return {
        chainId: spec.chain_id,
        validators: { validators: spec.validators.map((v) => ({ public_key: v.public_key, power: v.power })) },
      };
    },
  };
  await node.waitHeight(1);
  return node;
}

/** A random 32-byte address, hex. */
function randomAddress() {
  return crypto.randomBytes(32).toString('hex');
}

/** borsh of a string: u32 length (LE), then the UTF-8 bytes. */
function borshString(text) {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** A u128 from 16 little-endian bytes. */
function readU128(buffer, offset) {
  return buffer.readBigUInt64LE(offset) + (buffer.readBigUInt64LE(offset + 8) << 64n);
}

module.exports = { startDev, kessaiBin, sleep, randomAddress, borshString, readU128 };
