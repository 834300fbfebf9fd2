/**
 * Compatibility: ordinary code keeps working under the strict seccomp policy and the hardened
 * container (read-only root, noexec tmpfs, no network, uid 10001). One job per facility, each
 * asserting success and a specific output, through the real API and engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { on, TIER } from './helpers/isolation.js';

let t: TestAirlock;
let key: string;

beforeAll(async () => {
  t = await startTestAirlock('compat', { AIRLOCK_WORKER_CONCURRENCY: '3' });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  try {
    if (t) expect(await t.containers()).toEqual([]);
  } finally {
    await t?.stop();
  }
});

const lines = (...l: string[]) => `${l.join('\n')}\n`;

async function run(runtime: 'python' | 'node', code: string): Promise<any> {
  const main = runtime === 'python' ? 'main.py' : 'main.js';
  const job = await runJob(t, key, { ...on(runtime), files: [{ path: main, content: code }], timeoutMs: 20000 }, 60);
  expect(await t.containers(job.id)).toEqual([]);
  expect(job.isolation).toBe(TIER);
  return job;
}

describe.concurrent('python', () => {
  it('subprocess', async () => {
    const job = await run(
      'python',
      lines(
        'import subprocess, sys',
        'out = subprocess.check_output([sys.executable, "-c", "print(6 * 7)"], text=True).strip()',
        'rc = subprocess.run(["sh", "-c", "echo from child >&2; exit 7"], capture_output=True, text=True)',
        'print("subprocess", out, rc.returncode, rc.stderr.strip())',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'subprocess 42 7 from child\n' });
  });

  it('threads', async () => {
    const job = await run(
      'python',
      lines(
        'import threading',
        'total = 0',
        'lock = threading.Lock()',
        'def work(n):',
        '    global total',
        '    for i in range(1000):',
        '        with lock:',
        '            total += n',
        'ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]',
        'for t in ts: t.start()',
        'for t in ts: t.join()',
        'print("threads", len(ts), total)',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'threads 8 28000\n' });
  });

  it('multiprocessing Pool (fork, semaphores in /dev/shm)', async () => {
    const job = await run(
      'python',
      lines(
        'import multiprocessing as mp',
        'def square(x):',
        '    return x * x',
        'if __name__ == "__main__":',
        '    with mp.Pool(2) as pool:',
        '        print("pool", sum(pool.map(square, range(10))))',
        '    q = mp.Queue()',
        '    p = mp.Process(target=q.put, args=("via queue",))',
        '    p.start(); print(q.get()); p.join(); print("exit", p.exitcode)',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'pool 285\nvia queue\nexit 0\n' });
  });

  it('asyncio (tasks, a unix-socket server and client, a subprocess)', async () => {
    const job = await run(
      'python',
      lines(
        'import asyncio',
        'async def handle(reader, writer):',
        '    data = await reader.readline()',
        '    writer.write(b"echo:" + data); await writer.drain(); writer.close()',
        'async def main():',
        '    server = await asyncio.start_unix_server(handle, path="/tmp/echo.sock")',
        '    reader, writer = await asyncio.open_unix_connection("/tmp/echo.sock")',
        '    writer.write(b"hello\\n"); await writer.drain()',
        '    reply = (await reader.readline()).decode().strip()',
        '    proc = await asyncio.create_subprocess_exec("echo", "sub", stdout=asyncio.subprocess.PIPE)',
        '    out, _ = await proc.communicate()',
        '    slept = await asyncio.gather(*(asyncio.sleep(0.01, result=i) for i in range(5)))',
        '    server.close(); await server.wait_closed()',
        '    print("asyncio", reply, out.decode().strip(), sum(slept))',
        'asyncio.run(main())',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'asyncio echo:hello sub 10\n' });
  });

  it('ctypes (libc call and a qsort callback, i.e. a libffi closure)', async () => {
    const job = await run(
      'python',
      lines(
        'import ctypes',
        'libc = ctypes.CDLL(None)',
        'arr = (ctypes.c_int * 5)(5, 1, 9, 3, 2)',
        'CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int))',
        'libc.qsort(arr, len(arr), ctypes.sizeof(ctypes.c_int), CMP(lambda a, b: a[0] - b[0]))',
        'print("ctypes", libc.strlen(b"hello"), list(arr))',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'ctypes 5 [1, 2, 3, 5, 9]\n' });
  });

  it('sqlite3 (in memory and a WAL file in /work)', async () => {
    const job = await run(
      'python',
      lines(
        'import sqlite3',
        'for target in (":memory:", "/work/db.sqlite"):',
        '    db = sqlite3.connect(target)',
        '    mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]',
        '    db.execute("CREATE TABLE t (x INTEGER)")',
        '    db.executemany("INSERT INTO t VALUES (?)", [(1,), (2,), (3,)])',
        '    db.commit()',
        '    print("sqlite", mode, *db.execute("SELECT COUNT(*), SUM(x) FROM t").fetchone())',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'sqlite memory 3 6\nsqlite wal 3 6\n' });
  });

  it('ssl (default context) and hashlib', async () => {
    const job = await run(
      'python',
      lines(
        'import hashlib, ssl',
        'ctx = ssl.create_default_context()',
        'print("ssl", ssl.OPENSSL_VERSION.split()[0], ctx.verify_mode.name, ctx.check_hostname, len(ssl.RAND_bytes(16)))',
        'print("sha256", hashlib.sha256(b"abc").hexdigest())',
      ),
    );
    expect(job).toMatchObject({
      status: 'succeeded',
      stdout: 'ssl OpenSSL CERT_REQUIRED True 16\nsha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n',
    });
  });

  it('json', async () => {
    const job = await run(
      'python',
      lines(
        'import json',
        'doc = {"name": "café", "n": [1, 2.5, None, True], "nested": {"k": "v"}}',
        'text = json.dumps(doc, sort_keys=True, ensure_ascii=False)',
        'assert json.loads(text) == doc',
        'print("json", text)',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'json {"n": [1, 2.5, null, true], "name": "café", "nested": {"k": "v"}}\n' });
  });

  it('zipfile (deflate, in /work)', async () => {
    const job = await run(
      'python',
      lines(
        'import zipfile',
        'with zipfile.ZipFile("/work/a.zip", "w", zipfile.ZIP_DEFLATED) as z:',
        '    z.writestr("a.txt", "alpha " * 100)',
        '    z.writestr("dir/b.txt", "beta")',
        'with zipfile.ZipFile("/work/a.zip") as z:',
        '    print("zipfile", z.testzip(), sorted(z.namelist()), z.read("dir/b.txt").decode())',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: "zipfile None ['a.txt', 'dir/b.txt'] beta\n" });
  });
});

describe.concurrent('node', () => {
  it('child_process (execFileSync and spawn)', async () => {
    const job = await run(
      'node',
      lines(
        "const { execFileSync, spawn } = require('node:child_process');",
        "const out = execFileSync('sh', ['-c', 'echo child $((6 * 7))']).toString().trim();",
        "const p = spawn(process.execPath, ['-e', 'process.exit(3)']);",
        "p.on('exit', (code) => console.log('child_process', out, code));",
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'child_process child 42 3\n' });
  });

  it('worker_threads', async () => {
    const job = await run(
      'node',
      lines(
        "const { Worker } = require('node:worker_threads');",
        'const w = new Worker(\'const { parentPort, workerData } = require("node:worker_threads"); let s = 0; for (let i = 0; i < workerData; i++) s += i; parentPort.postMessage(s);\', { eval: true, workerData: 100 });',
        "w.on('message', (s) => console.log('worker_threads', s));",
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'worker_threads 4950\n' });
  });

  it('fs (sync and promises, /work and /tmp)', async () => {
    const job = await run(
      'node',
      lines(
        "const fs = require('node:fs');",
        "const path = require('node:path');",
        '(async () => {',
        "  fs.mkdirSync('/work/d/e', { recursive: true });",
        "  await fs.promises.writeFile('/work/d/e/a.txt', 'alpha');",
        "  fs.renameSync('/work/d/e/a.txt', '/work/d/b.txt');",
        "  const tmp = fs.mkdtempSync(path.join('/tmp', 'x-'));",
        "  fs.copyFileSync('/work/d/b.txt', path.join(tmp, 'c.txt'));",
        "  const watcher = fs.watch('/work/d'); watcher.close();",
        "  console.log('fs', fs.readdirSync('/work/d').sort().join(','), fs.readFileSync(path.join(tmp, 'c.txt'), 'utf8'), fs.statSync('/work/d/b.txt').size);",
        '})();',
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'fs b.txt,e alpha 5\n' });
  });

  it('crypto (sha256, random, ed25519)', async () => {
    const job = await run(
      'node',
      lines(
        "const crypto = require('node:crypto');",
        "const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');",
        "const sig = crypto.sign(null, Buffer.from('msg'), privateKey);",
        "console.log('crypto', crypto.createHash('sha256').update('abc').digest('hex'), crypto.randomBytes(16).length, crypto.verify(null, Buffer.from('msg'), publicKey, sig), crypto.randomUUID().length);",
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'crypto ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad 16 true 36\n' });
  });

  it('zlib (gzip and brotli, sync and async)', async () => {
    const job = await run(
      'node',
      lines(
        "const zlib = require('node:zlib');",
        "const input = Buffer.from('zlib '.repeat(1000));",
        'const gz = zlib.gzipSync(input);',
        "zlib.brotliCompress(input, (err, br) => console.log('zlib', zlib.gunzipSync(gz).equals(input), zlib.brotliDecompressSync(br).equals(input), gz.length < input.length));",
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'zlib true true true\n' });
  });

  it('WebAssembly (instantiate a tiny module from bytes)', async () => {
    // (module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))
    const job = await run(
      'node',
      lines(
        'const bytes = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]);',
        "WebAssembly.instantiate(bytes).then(({ instance }) => console.log('wasm', instance.exports.add(40, 2), WebAssembly.validate(bytes)));",
      ),
    );
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'wasm 42 true\n' });
  });

  it('os.networkInterfaces() (netlink route): only lo', async () => {
    const job = await run('node', lines("console.log('interfaces', Object.keys(require('node:os').networkInterfaces()).join(','));"));
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'interfaces lo\n' });
  });

  it('dns.lookup("localhost") resolves to loopback (measured working in scripts/seccomp/README.md)', async () => {
    const job = await run(
      'node',
      lines("require('node:dns').lookup('localhost', { all: true }, (err, addrs) => console.log('localhost', err ? err.code : addrs.map((a) => a.address).sort().join(',')));"),
    );
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toMatch(/^localhost (127\.0\.0\.1,::1|::1,127\.0\.0\.1|127\.0\.0\.1)\n$/);
  });
});
