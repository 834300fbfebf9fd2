/**
 * The gVisor tier's cost (issue 17), through the real API, worker, Redis and engine, each figure
 * as a ratio to the plain tier in the same run: rounds interleave the two tiers (the order
 * alternates), so load on the machine lands on both alike. Prints figures; asserts nothing.
 *   - a hello-world python job, cold (pool off) and pooled (a warm container per tier)
 *   - CPU-bound: a pure-Python loop (the program's own time, durationMs)
 *   - syscall-heavy: Python importing ~150 standard-library modules, and a file-heavy loop
 *     (create, write, stat, read, unlink in /work)
 * Run by `npm run bench` after the plain tier's figures, or alone:
 *   node --import tsx scripts/bench-gvisor.ts [--rounds 10]
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config.js';
import { openAirlock, type Airlock } from '../src/root/index.js';
import { createLogger } from '../src/shared/index.js';
import { deletePrefix } from '../test/helpers/redis.js';

const WORKLOADS: Readonly<Record<string, string>> = {
  hello: 'print("hello")',
  cpu: 'n = 0\nfor i in range(3_000_000):\n    n += i * i\nprint(n % 7)',
  imports: [
    'import sys, pkgutil, importlib',
    'names = sorted(m.name for m in pkgutil.iter_modules() if not m.name.startswith(("_", "test", "idle", "tkinter", "turtle", "antigravity", "this")))',
    'done = 0',
    'for n in names[:150]:',
    '    try:',
    '        importlib.import_module(n); done += 1',
    '    except Exception:',
    '        pass',
    'print(done)',
  ].join('\n'),
  files: [
    'import os',
    'os.makedirs("/work/d", exist_ok=True)',
    'for i in range(2000):',
    '    p = f"/work/d/f{i}"',
    '    with open(p, "w") as f: f.write("x" * 512)',
    '    os.stat(p)',
    '    with open(p) as f: f.read()',
    '    os.unlink(p)',
    'print("ok")',
  ].join('\n'),
};

interface Instance {
  readonly config: Config;
  readonly airlock: Airlock;
  readonly base: string;
  readonly headers: Record<string, string>;
}

async function start(name: string, env: Record<string, string>): Promise<Instance> {
  const config = loadConfig({
    ...process.env,
    AIRLOCK_REDIS_PREFIX: `bench-gvisor-${name}-${randomBytes(4).toString('hex')}`,
    AIRLOCK_PORT: '0',
    AIRLOCK_LOG_LEVEL: 'silent',
    AIRLOCK_BOOTSTRAP_ADMIN: 'false',
    AIRLOCK_WORKER_CONCURRENCY: '2',
    ...env,
  });
  const airlock = await openAirlock(config, { logger: createLogger({ level: 'silent' }) });
  const key = (await airlock.keys.create({ role: 'agent', name: 'bench' })).key;
  return { config, airlock, base: airlock.url!.replace('0.0.0.0', '127.0.0.1'), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } };
}

/** One job to its end: the round trip and the program's own time. */
async function job(i: Instance, profile: string, code: string): Promise<{ ms: number; programMs: number; pooled: boolean }> {
  const t0 = performance.now();
  const res = await fetch(`${i.base}/v1/jobs?wait=60`, { method: 'POST', headers: i.headers, body: JSON.stringify({ profile, files: [{ path: 'main.py', content: code }] }) });
  const body = (await res.json()) as { status?: string; durationMs?: number; isolation?: string; sandbox?: { pooled: boolean }; error?: { code: string; message: string } };
  const ms = performance.now() - t0;
  if (body.status !== 'succeeded') throw new Error(`${profile}: ${res.status} ${body.status ?? ''} ${JSON.stringify(body.error ?? {})}`);
  return { ms, programMs: body.durationMs ?? NaN, pooled: body.sandbox?.pooled === true };
}

const p50 = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Waits until every pool of the instance holds a ready container (so a pooled figure is a hit). */
async function poolsReady(i: Instance): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await fetch(`${i.base}/readyz`).then((r) => r.json() as Promise<{ pool?: Record<string, { ready: number; target: number }> }>);
    const pools = Object.values(ready.pool ?? {});
    if (pools.length > 0 && pools.every((p) => p.ready >= Math.min(1, p.target))) return;
    if (Date.now() > deadline) throw new Error('the pools did not fill in 2 minutes');
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function benchGvisor(rounds: number): Promise<void> {
  const cold = await start('cold', { AIRLOCK_POOL_SIZE: '0' });
  const pooled = await start('pool', { AIRLOCK_POOL_SIZE: '0,python=1,python-gvisor=1' });
  const rows: { name: string; figure: 'ms' | 'programMs'; instance: Instance; code: string }[] = [
    { name: 'hello-world, cold (round trip)', figure: 'ms', instance: cold, code: WORKLOADS['hello']! },
    { name: 'hello-world, pooled (round trip)', figure: 'ms', instance: pooled, code: WORKLOADS['hello']! },
    { name: 'CPU-bound: 3M-step Python loop (program)', figure: 'programMs', instance: cold, code: WORKLOADS['cpu']! },
    { name: 'syscall-heavy: import 150 stdlib modules (program)', figure: 'programMs', instance: cold, code: WORKLOADS['imports']! },
    { name: 'syscall-heavy: 2000 files write/stat/read/unlink (program)', figure: 'programMs', instance: cold, code: WORKLOADS['files']! },
  ];
  try {
    const unavailable = await fetch(`${cold.base}/v1/profiles`, { headers: cold.headers }).then(
      async (r) => ((await r.json()) as { profiles: { name: string; available: boolean }[] }).profiles.find((p) => p.name === 'python-gvisor')?.available !== true,
    );
    if (unavailable) {
      console.log('gVisor tier: unavailable on this engine (npm run setup says why); no figures');
      return;
    }
    const times = rows.map(() => ({ container: [] as number[], gvisor: [] as number[] }));
    // warm-up: image layers and page cache for both tiers
    for (const tier of ['python', 'python-gvisor']) await job(cold, tier, WORKLOADS['hello']!);
    for (let r = 0; r < rounds; r++) {
      for (const [k, row] of rows.entries()) {
        const order = (r + k) % 2 === 0 ? (['container', 'gvisor'] as const) : (['gvisor', 'container'] as const);
        for (const tier of order) {
          if (row.instance === pooled) await poolsReady(pooled);
          const j = await job(row.instance, tier === 'gvisor' ? 'python-gvisor' : 'python', row.code);
          if (row.instance === pooled && !j.pooled) continue; // a miss measures the cold path: not this row
          times[k]![tier].push(j[row.figure]);
        }
      }
    }
    console.log(`gVisor tier against the plain tier, same run, interleaved (n=${rounds} rounds; p50 ms; ratio = gvisor / container)`);
    for (const [k, row] of rows.entries()) {
      const t = times[k]!;
      const c = p50(t.container);
      const g = p50(t.gvisor);
      console.log(
        `  ${row.name.padEnd(58)} container ${c.toFixed(0).padStart(6)}   gvisor ${g.toFixed(0).padStart(6)}   ratio ${(g / c).toFixed(2)}   (n ${t.container.length}/${t.gvisor.length})`,
      );
    }
  } finally {
    for (const i of [cold, pooled]) {
      await i.airlock.close();
      const redis = new Redis(i.config.redis.url);
      await deletePrefix(redis, i.config.redis.prefix);
      redis.disconnect();
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const i = process.argv.indexOf('--rounds');
  await benchGvisor(i === -1 ? 10 : Number(process.argv[i + 1]));
}
