/**
 * What the audit hook costs: GET /v1/jobs/:id requests/s through two API instances in the
 * same process, on the same Redis prefix and the same job — one with the audit hook (one
 * hash-chained record per request, written before the answer leaves) and one built without
 * it (Config.http.unauditedForBenchmark, which no configuration variable can set). Rounds
 * alternate between the two so drift hits both. API role only: needs Redis, not Docker.
 * Usage: node --import tsx scripts/bench-audit.ts [--gets 3000 --rounds 5 --concurrency 16]
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.js';
import { openAirlock, type Airlock } from '../src/root/index.js';
import { createLogger } from '../src/shared/index.js';
import { deletePrefix } from '../test/helpers/redis.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const GETS = arg('gets', 3000);
const ROUNDS = arg('rounds', 5);
const CONCURRENCY = arg('concurrency', 16);

const prefix = `bench-audit-${randomBytes(4).toString('hex')}`;
const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-audit-'));
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
});
const start = (unaudited: boolean) =>
  openAirlock(unaudited ? { ...config, http: { ...config.http, unauditedForBenchmark: true } } : config, { logger: createLogger({ level: 'silent' }) });
const baseOf = (a: Airlock) => a.url!.replace('0.0.0.0', '127.0.0.1');

const audited = await start(false);
const plain = await start(true);
try {
  const key = (await audited.keys.create({ role: 'agent', name: 'bench' })).key;
  const authorization = `Bearer ${key}`;
  const submitted = await fetch(`${baseOf(audited)}/v1/jobs`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] }),
  });
  const { id } = (await submitted.json()) as { id: string };

  async function rate(base: string, n: number): Promise<number> {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) {
          const r = await fetch(`${base}/v1/jobs/${id}`, { headers: { authorization } });
          if (r.status !== 200) throw new Error(`GET answered ${r.status}`);
          await r.arrayBuffer();
        }
      }),
    );
    return n / ((performance.now() - t0) / 1000);
  }

  await rate(baseOf(audited), 500); // warm-up: JIT, connections, Lua script cache
  await rate(baseOf(plain), 500);
  const withHook: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    withHook.push(await rate(baseOf(audited), GETS));
    without.push(await rate(baseOf(plain), GETS));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [a, p] = [median(withHook), median(without)];
  console.log(`GET /v1/jobs/:id, ${CONCURRENCY} concurrent, ${ROUNDS} alternating rounds of ${GETS} (median):`);
  console.log(`  without the audit hook: ${p.toFixed(0)} requests/s   (rounds: ${without.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  with the audit hook:    ${a.toFixed(0)} requests/s   (rounds: ${withHook.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  cost: ${((1 - a / p) * 100).toFixed(1)}% fewer requests/s; ${(1000 / a - 1000 / p).toFixed(3)} ms more per request at this concurrency`);
} finally {
  await plain.close();
  await audited.close();
  const redis = new Redis(config.redis.url);
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await rm(dir, { recursive: true, force: true });
}
