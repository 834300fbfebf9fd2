/**
 * Benchmarks through the real API, worker, Redis and Docker engine (issue 12). Prints figures;
 * asserts nothing (the targets live here, not in tests). Usage: npm run bench [-- --rounds 30]
 *
 * In one run, interleaved round by round (the order rotates each round, and every measurement
 * starts with the warm pool full, so nobody pays another's refill):
 *   (a) a hello-world python job through the REST API, warm pool on
 *   (b) the same with the pool off (cold path)
 *   (c) `docker run --rm` of the same image with the same hardening flags, through the docker CLI
 *   (d) a raw dockerode create → start → exec → remove loop with the same create options
 *   (e) only the exec of (d), into a container started beforehand (created outside the timer),
 *       and (f) that container's removal after it: the engine's own share of a pooled job
 *   (g) the engine's floor for a pooled job with no exec at all: a started container whose main
 *       process waits to be released, runs the program and exits, then is removed
 *       (scripts/bench-engine.ts says how)
 * then jobs/s at 4 and 16 in flight (pool on) against the raw loop at the same concurrency, the
 * CPU time per job in those runs (this process: Airlock and the client; the rest of the machine), the
 * pool's hit ratio in those runs and under a burst of 2x the pool size, where the time of (a) and
 * (b) goes (submit → picked up → sandbox running → program → result seen), and GET /v1/jobs/:id
 * requests/s, and what the per-key limiter and the baseline updates cost (scripts/bench-limits.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig, type Config } from '../src/config.js';
import { openAirlock, type Airlock } from '../src/root/index.js';
import { createLogger } from '../src/shared/index.js';
import { BENCH_LABEL, benchId, cliArgs, cliRun, cpuOf, docker, execOnly, exitOnly, HELLO, profile, rawRun } from './bench-engine.js';
import { deletePrefix } from '../test/helpers/redis.js';
import { limiterCost } from './bench-limits.js';
import { benchGvisor } from './bench-gvisor.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const ROUNDS = arg('rounds', 30);
const GETS = arg('gets', 2000);
/** The worker's concurrency, and the python pool's size (the default: one per slot). */
const CONCURRENCY = arg('concurrency', 16);

interface Instance {
  readonly name: string;
  readonly config: Config;
  readonly airlock: Airlock;
  readonly base: string;
  readonly headers: Record<string, string>;
}

async function start(name: string, env: Record<string, string>): Promise<Instance> {
  const prefix = `bench-${name}-${benchId}`;
  const config = loadConfig({
    ...process.env,
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_PORT: '0',
    AIRLOCK_LOG_LEVEL: 'silent',
    AIRLOCK_BOOTSTRAP_ADMIN: 'false',
    AIRLOCK_WORKER_CONCURRENCY: String(CONCURRENCY),
    ...env,
  });
  const airlock = await openAirlock(config, { logger: createLogger({ level: 'silent' }) });
  const key = (await airlock.keys.create({ role: 'agent', name: 'bench' })).key;
  return { name, config, airlock, base: airlock.url!.replace('0.0.0.0', '127.0.0.1'), headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } };
}

interface JobTimes {
  readonly ms: number;
  readonly pooled: boolean;
  readonly waitMs: number;
  /** submit → record created → picked up → program started → program ended → result seen (ms). */
  readonly phases: readonly number[];
}

async function apiJob(i: Instance): Promise<JobTimes> {
  const sentAt = Date.now();
  const t0 = performance.now();
  const res = await fetch(`${i.base}/v1/jobs?wait=30`, {
    method: 'POST',
    headers: i.headers,
    body: JSON.stringify({ runtime: 'python', files: [{ path: 'main.py', content: HELLO }] }),
  });
  const job = (await res.json()) as { status: string; createdAt: string; startedAt: string; finishedAt: string; durationMs: number; sandbox?: { pooled: boolean; waitMs: number } };
  const ms = performance.now() - t0;
  const seenAt = Date.now();
  if (job.status !== 'succeeded') throw new Error(`${i.name}: job ended ${job.status}`);
  const [created, started, finished] = [Date.parse(job.createdAt), Date.parse(job.startedAt), Date.parse(job.finishedAt)];
  const programAt = finished - job.durationMs;
  return {
    ms,
    pooled: job.sandbox?.pooled === true,
    waitMs: job.sandbox?.waitMs ?? 0,
    phases: [created - sentAt, started - created, programAt - started, job.durationMs, seenAt - finished],
  };
}

/**
 * Waits until the python pool holds its target ready and makes none, by the pool's own count: a
 * container the engine already lists as running may not be in its ready list yet (a claim then
 * waits for it), and one being made takes the CPU from the job measured.
 */
async function poolFull(i: Instance): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const python = i.airlock.worker?.poolState()?.['python'];
    if (python !== undefined && python.ready >= CONCURRENCY && python.creating === 0) return;
    if (Date.now() > deadline) throw new Error('the pool did not fill in 2 minutes');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function inFlight<T>(n: number, total: number, one: () => Promise<T>): Promise<{ perS: number; results: T[] }> {
  const results: T[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next++ < total) results.push(await one());
    }),
  );
  return { perS: total / ((performance.now() - t0) / 1000), results };
}

const pct = (xs: readonly number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const f0 = (n: number) => n.toFixed(0);
const hits = (r: readonly JobTimes[]) => {
  const pooled = r.filter((j) => j.pooled).length;
  const ready = r.filter((j) => j.pooled && j.waitMs === 0).length;
  return `hit ratio ${((100 * pooled) / r.length).toFixed(0)}% (${pooled}/${r.length} pooled, ${ready} found one ready, the rest waited for one being made)`;
};

const work = await mkdtemp(join(tmpdir(), 'airlock-bench-'));
const seccompFile = join(work, 'seccomp.json');
await writeFile(seccompFile, profile.seccompJson);
const pooled = await start('pool', { AIRLOCK_POOL_SIZE: `0,python=${CONCURRENCY}` });
const cold = await start('cold', { AIRLOCK_POOL_SIZE: '0' });
try {
  const args = cliArgs(seccompFile);
  await poolFull(pooled);
  // warm-up: page cache, image layers, first connections
  await Promise.all([apiJob(pooled), apiJob(cold), cliRun(args), rawRun(), execOnly(), exitOnly()]);
  await poolFull(pooled);

  const a: JobTimes[] = [];
  const b: JobTimes[] = [];
  const c: number[] = [];
  const d: number[] = [];
  const e: number[] = [];
  const f: number[] = [];
  const g = { out: [] as number[], stopped: [] as number[], removed: [] as number[] };
  const steps: (() => Promise<void>)[] = [
    async () => void a.push(await apiJob(pooled)),
    async () => void b.push(await apiJob(cold)),
    async () => void c.push(await cliRun(args)),
    async () => void d.push(await rawRun()),
    async () => {
      const { execMs, removeMs } = await execOnly();
      e.push(execMs);
      f.push(removeMs);
    },
    async () => {
      const { outMs, stoppedMs, removedMs } = await exitOnly();
      g.out.push(outMs);
      g.stopped.push(stoppedMs);
      g.removed.push(removedMs);
    },
  ];
  for (let r = 0; r < ROUNDS; r++) {
    for (let s = 0; s < steps.length; s++) {
      await steps[(r + s) % steps.length]!();
      await poolFull(pooled);
    }
  }
  const row = (name: string, xs: readonly number[]) => console.log(`${name.padEnd(58)} p50 ${f0(pct(xs, 50)).padStart(5)} ms   p95 ${f0(pct(xs, 95)).padStart(5)} ms`);
  console.log(`hello-world python, one at a time, interleaved (n=${ROUNDS} each, worker concurrency ${CONCURRENCY}, python pool ${CONCURRENCY})`);
  const [aMs, bMs] = [a.map((j) => j.ms), b.map((j) => j.ms)];
  row('(a) REST API, warm pool', aMs);
  row('(b) REST API, pool off (cold)', bMs);
  row('(c) docker run --rm, same hardening (CLI)', c);
  row('(d) raw dockerode create → start → exec → remove', d);
  row('(e) the exec of (d) alone, into a started container', e);
  row('(f) the removal of that container after its exec', f);
  row('(g) no exec: released → output seen', g.out);
  row('    → the engine reports it stopped', g.stopped);
  row('    → removed', g.removed);
  const p50 = (xs: readonly number[]) => pct(xs, 50);
  const [a50, b50, c50] = [p50(aMs), p50(bMs), p50(c)];
  const ratio = (x: number, y: number) => (x / y).toFixed(2);
  console.log(
    `    a/c ${ratio(a50, c50)} (target <= 0.25)   a/d ${ratio(a50, p50(d))}   b/c ${ratio(b50, c50)}   (e+f)/c ${ratio(p50(e) + p50(f), c50)} (the engine's share of a pooled job)   g/c ${ratio(p50(g.removed), c50)} (with no exec)   (a) ${hits(a)}`,
  );
  const names = ['submit → recorded', 'recorded → picked up', 'picked up → program runs', 'program', 'program ends → result seen'];
  for (const [label, xs] of Object.entries({ '(a)': a, '(b)': b })) {
    const phase = (k: number) => f0(p50(xs.map((job) => job.phases[k]!)));
    console.log(`    where ${label}'s time goes (p50 ms): ${names.map((n, k) => `${n} ${phase(k)}`).join(' | ')}`);
  }

  console.log('throughput, interleaved (jobs/s):');
  for (const n of [4, 16]) {
    const total = Math.max(4 * n, 40);
    await poolFull(pooled);
    const viaPool = await cpuOf(() => inFlight(n, total, () => apiJob(pooled)));
    const raw = await cpuOf(() => inFlight(n, total, rawRun));
    const [pool, rawPerS] = [viaPool.result.perS, raw.result.perS];
    console.log(
      `  ${String(n).padStart(2)} in flight (n=${total}): pool ${pool.toFixed(1)}   raw dockerode ${rawPerS.toFixed(1)}   throughput/raw ${(pool / rawPerS).toFixed(2)} (target >= 0.90)   ${hits(viaPool.result.results)}`,
    );
    const perJob = (m: { processMs: number; machineMs: number }) => `this process ${f0(m.processMs / total)}, the rest of the machine ${f0((m.machineMs - m.processMs) / total)}`;
    console.log(`     CPU ms per job: pool: ${perJob(viaPool)}   raw: ${perJob(raw)}`);
  }

  await poolFull(pooled);
  const burst = await inFlight(2 * CONCURRENCY, 2 * CONCURRENCY, () => apiJob(pooled));
  console.log(`burst of 2x the pool size (${2 * CONCURRENCY} at once, worker concurrency ${CONCURRENCY}): ${hits(burst.results)}`);

  const last = await fetch(`${pooled.base}/v1/jobs?wait=30`, {
    method: 'POST',
    headers: pooled.headers,
    body: JSON.stringify({ runtime: 'python', files: [{ path: 'main.py', content: HELLO }] }),
  });
  const lastId = ((await last.json()) as { id: string }).id;
  const g0 = performance.now();
  let sent = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent++ < GETS) await (await fetch(`${pooled.base}/v1/jobs/${lastId}`, { headers: { authorization: pooled.headers['authorization']! } })).arrayBuffer();
    }),
  );
  console.log(`GET /v1/jobs/:id, 16 concurrent (n=${GETS}): ${f0(GETS / ((performance.now() - g0) / 1000))} requests/s`);
  // the per-key limiter and the baseline updates: GET and submit rates with and without them (scripts/bench-limits.ts)
  for (const line of await limiterCost({ gets: GETS, submits: Math.max(100, Math.round(GETS / 5)), rounds: 5, concurrency: 16 })) console.log(line);
} finally {
  for (const i of [pooled, cold]) {
    await i.airlock.close();
    const redis = new Redis(i.config.redis.url);
    await deletePrefix(redis, i.config.redis.prefix);
    redis.disconnect();
  }
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${BENCH_LABEL}=${benchId}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  await rm(work, { recursive: true, force: true });
}

// the gVisor tier, each figure a ratio to the plain tier in the same run (issue 17; alone: npm run bench:gvisor)
await benchGvisor(arg('gvisor-rounds', 10));
