// Everyday Node that must keep working under profiles/seccomp/strict.json. probe.sh runs it as
// `node --input-type=module -` with this file on stdin. One `name: ok ...` line per check; any
// failure exits 1.
import { execFileSync, spawn } from 'node:child_process';
import { Buffer } from 'node:buffer';
import console from 'node:console';
import crypto from 'node:crypto';
import dns from 'node:dns';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/**
 * lib is ES2023 without DOM, so the WebAssembly global has no type here: describe the bit we use.
 * @type {{ instantiate(bytes: Uint8Array): Promise<{ instance: { exports: Record<string, unknown> } }> }}
 */
const wasm = /** @type {{ WebAssembly: typeof wasm }} */ (/** @type {unknown} */ (globalThis)).WebAssembly;

/** @type {[string, () => unknown][]} */
const checks = [
  [
    'child_process',
    async () => {
      const sync = execFileSync('sh', ['-c', 'echo hi from sh']).toString().trim();
      /** @type {(resolve: (code: number | null) => void, reject: (err: Error) => void) => void} */
      const waitForExit = (resolve, reject) => {
        spawn('true').on('exit', resolve).on('error', reject);
      };
      const code = await new Promise(waitForExit);
      return `${sync} / spawn exit ${String(code)}`;
    },
  ],
  [
    'worker_threads',
    () =>
      new Promise((resolve, reject) => {
        const w = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
        w.once('message', resolve);
        w.once('error', reject);
      }),
  ],
  [
    'fs',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wl-'));
      const file = path.join(dir, 'a.txt');
      fs.writeFileSync(file, 'hello');
      const text = fs.readFileSync(file, 'utf8');
      fs.rmSync(dir, { recursive: true });
      const entries = await fs.promises.readdir('/');
      return `${text} / ${entries.length} entries in /`;
    },
  ],
  [
    'crypto',
    () => {
      const hash = crypto.createHash('sha256').update('x').digest('hex').slice(0, 16);
      const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
      const sig = crypto.sign(null, Buffer.from('m'), privateKey);
      const ok = crypto.verify(null, Buffer.from('m'), publicKey, sig);
      return `sha256=${hash}.. random=${crypto.randomBytes(4).toString('hex')} ed25519=${String(ok)}`;
    },
  ],
  ['zlib', () => zlib.gunzipSync(zlib.gzipSync(Buffer.from('z'.repeat(1000)))).length],
  [
    'WebAssembly',
    async () => {
      // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
      const bytes = Uint8Array.from([
        0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 97, 100, 100, 0, 0, 10, 9, 1, 7, 0, 32, 0, 32, 1, 106, 11,
      ]);
      const { instance } = await wasm.instantiate(bytes);
      const add = /** @type {(a: number, b: number) => number} */ (instance.exports['add']);
      return `add(2,3)=${add(2, 3)}`;
    },
  ],
  ['os.networkInterfaces', () => JSON.stringify(Object.keys(os.networkInterfaces()))],
  ['dns.lookup(localhost)', async () => JSON.stringify(await dns.promises.lookup('localhost', { all: true }))],
];

try {
  console.log(`node ${process.version}`);
  for (const [name, fn] of checks) {
    console.log(`${name}: ok ${String(await fn())}`);
  }
  console.log('node workload: all ok');
} catch (err) {
  console.error(`FAILED: ${err instanceof Error ? String(err.stack) : String(err)}`);
  process.exit(1);
}
