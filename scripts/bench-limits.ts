/**
 * What the limiter and the baseline updates cost (issue 15): requests/s of GET /v1/jobs/:id and
 * submissions/s of POST /v1/jobs through two API instances in one process, on the same Redis
 * prefix — one as deployed (each request: the key's rate script and its baseline update; each
 * submission: the admission script and its baseline update), one built without them
 * (Config.http.unlimitedForBenchmark, which no variable sets). Rounds alternate so drift hits
 * both. API role only (jobs stay queued): needs Redis, not Docker. npm run bench prints it too.
 * Usage: node --import tsx scripts/bench-limits.ts [--gets 3000 --submits 600 --rounds 5 --concurrency 16]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { openAirlock, type Airlock } from '../src/root/index.js';
import { RateLimiter } from '../src/monitor/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { deletePrefix } from '../test/helpers/redis.js';

export interface LimiterCostOptions {
  readonly gets: number;
  readonly submits: number;
  readonly rounds: number;
  readonly concurrency: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Lines to print: GET and submit rates with and without the limiter, and the difference. */
export async function limiterCost(o: LimiterCostOptions): Promise<string[]> {
  const prefix = `bench-limits-${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-limits-'));
  const config = loadConfig({
    ...process.env,
    AIRLOCK_ROLE: 'api',
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_PORT: '0',
    AIRLOCK_LOG_LEVEL: 'silent',
    AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(dir, 'signing-key.pem'),
    AIRLOCK_AUDIT_CHECKPOINT_FILE: join(dir, 'checkpoints.jsonl'),
    AIRLOCK_AUDIT_SEGMENTS_DIR: join(dir, 'segments'),
    AIRLOCK_BOOTSTRAP_ADMIN: 'false',
    AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: '10000000',
  });
  const start = (unlimited: boolean) =>
    openAirlock(unlimited ? { ...config, http: { ...config.http, unlimitedForBenchmark: true } } : config, { logger: createLogger({ level: 'silent' }) });
  const baseOf = (a: Airlock) => a.url!.replace('0.0.0.0', '127.0.0.1');
  const limited = await start(false);
  const plain = await start(true);
  const redis = new Redis(config.redis.url);
  try {
    const key = await limited.keys.create({ role: 'agent', name: 'bench' });
    // the bench measures what a check costs, not refusals: limits far above what it sends
    await new RateLimiter({ redis, prefix, options: config.limits.options, clock: systemClock }).setOverrides(key.id, {
      requestsPerMinute: 1_000_000,
      submitsPerMinute: 1_000_000,
      maxInflight: 100_000,
      inputBytesPerDay: 2 ** 40,
    });
    const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] });
    const submitted = await fetch(`${baseOf(limited)}/v1/jobs`, { method: 'POST', headers, body });
    if (submitted.status !== 202) throw new Error(`the first job was not accepted: ${submitted.status} ${await submitted.text()}`);
    const { id } = (await submitted.json()) as { id: string };

    async function rate(n: number, one: () => Promise<Response>, expect: number): Promise<number> {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (next++ < n) {
            const r = await one();
            if (r.status !== expect) throw new Error(`answered ${r.status}: ${await r.text()}`);
            await r.arrayBuffer();
          }
        }),
      );
      return n / ((performance.now() - t0) / 1000);
    }
    const get = (a: Airlock) => () => fetch(`${baseOf(a)}/v1/jobs/${id}`, { headers: { authorization: headers.authorization } });
    const post = (a: Airlock) => () => fetch(`${baseOf(a)}/v1/jobs`, { method: 'POST', headers, body });

    // warm-up: JIT, connections, Lua script cache
    await rate(300, get(limited), 200);
    await rate(300, get(plain), 200);
    const g = { with: [] as number[], without: [] as number[] };
    const s = { with: [] as number[], without: [] as number[] };
    for (let i = 0; i < o.rounds; i++) {
      g.with.push(await rate(o.gets, get(limited), 200));
      g.without.push(await rate(o.gets, get(plain), 200));
      s.with.push(await rate(o.submits, post(limited), 202));
      s.without.push(await rate(o.submits, post(plain), 202));
    }
    const line = (what: string, w: number[], wo: number[]) => {
      const [a, b] = [median(w), median(wo)];
      return `${what}: ${a.toFixed(0)}/s with the limiter and baseline updates, ${b.toFixed(0)}/s without (${(((b - a) / b) * 100).toFixed(1)}% fewer; ${((1000 / a - 1000 / b) * o.concurrency).toFixed(2)} ms more per request at ${o.concurrency} in flight)`;
    };
    return [
      `limiter cost, median of ${o.rounds} alternating rounds, ${o.concurrency} concurrent, API role:`,
      line(`  GET /v1/jobs/:id (n=${o.gets})`, g.with, g.without),
      line(`  POST /v1/jobs    (n=${o.submits})`, s.with, s.without),
    ];
  } finally {
    await limited.close();
    await plain.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? def : Number(process.argv[i + 1]);
  };
  for (const l of await limiterCost({ gets: arg('gets', 3000), submits: arg('submits', 600), rounds: arg('rounds', 5), concurrency: arg('concurrency', 16) })) console.log(l);
}
