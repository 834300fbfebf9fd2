/**
 * Benchmarks through the real API, worker, Redis and Docker engine. Prints figures; asserts
 * nothing. Usage: npm run bench [-- --jobs 30 --parallel 4]
 *   - hello-world python job, one at a time: p50 / p95 of POST ?wait round trips
 *   - the same with N in flight: jobs/s
 *   - GET /v1/jobs/:id requests/s
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { startAirlock } from '../src/main.js';
import { createLogger } from '../src/shared/index.js';
import { deletePrefix } from '../test/helpers/redis.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const JOBS = arg('jobs', 30);
const PARALLEL = arg('parallel', 4);
const GETS = arg('gets', 2000);

const prefix = `bench-${randomBytes(4).toString('hex')}`;
const config = loadConfig({ ...process.env, AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_PORT: '0', AIRLOCK_LOG_LEVEL: 'silent' });
const airlock = await startAirlock(config, { logger: createLogger({ level: 'silent' }), bootstrapAdmin: false });
const base = airlock.url!.replace('0.0.0.0', '127.0.0.1');
const key = (await airlock.keys.create({ role: 'agent', name: 'bench' })).key;
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
const body = JSON.stringify({ runtime: 'python', files: [{ path: 'main.py', content: 'print("hello")' }] });

async function oneJob(): Promise<{ ms: number; id: string }> {
  const t0 = performance.now();
  const res = await fetch(`${base}/v1/jobs?wait=30`, { method: 'POST', headers, body });
  const job = (await res.json()) as { id: string; status: string };
  if (job.status !== 'succeeded') throw new Error(`job ended ${job.status}`);
  return { ms: performance.now() - t0, id: job.id };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

try {
  await oneJob(); // warm-up: first create pays image and page-cache costs
  const serial: number[] = [];
  let lastId = '';
  for (let i = 0; i < JOBS; i++) {
    const r = await oneJob();
    serial.push(r.ms);
    lastId = r.id;
  }
  console.log(
    `hello-world python job via API, one at a time (n=${JOBS}): p50 ${pct(serial, 50).toFixed(0)} ms, p95 ${pct(serial, 95).toFixed(0)} ms, min ${Math.min(...serial).toFixed(0)} ms`,
  );

  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next++ < JOBS) await oneJob();
    }),
  );
  const s = (performance.now() - t0) / 1000;
  console.log(`same job, ${PARALLEL} in flight (worker concurrency ${config.worker.concurrency}): ${(JOBS / s).toFixed(1)} jobs/s`);

  const g0 = performance.now();
  let inflight = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (inflight++ < GETS) {
        const r = await fetch(`${base}/v1/jobs/${lastId}`, { headers: { authorization: headers.authorization } });
        await r.arrayBuffer();
      }
    }),
  );
  console.log(`GET /v1/jobs/:id, 16 concurrent (n=${GETS}): ${(GETS / ((performance.now() - g0) / 1000)).toFixed(0)} requests/s`);
} finally {
  await airlock.close();
  const redis = new Redis(config.redis.url);
  await deletePrefix(redis, prefix);
  redis.disconnect();
}
