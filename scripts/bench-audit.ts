/**
 * What the audit hook costs: GET /v1/jobs/:id requests/s through two API instances in the
 * same process, on the same Redis prefix and the same job — one with the audit hook (one
 * hash-chained record per request, written before the answer leaves) and one built without
 * it (Config.http.unauditedForBenchmark, which no configuration variable can set). Rounds
 * alternate between the two so drift hits both. API role only: needs Redis, not Docker.
 * Usage: node --import tsx scripts/bench-audit.ts [--gets 3000 --rounds 5 --concurrency 16]
 */
import { baseOf, benchKey, firstJob, median, openBenchPair, rateOf } from './bench-pair.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? def : Number(process.argv[i + 1]);
};
const GETS = arg('gets', 3000);
const ROUNDS = arg('rounds', 5);
const CONCURRENCY = arg('concurrency', 16);

const pair = await openBenchPair('audit', (http) => ({ ...http, unauditedForBenchmark: true }));
try {
  const key = await benchKey(pair);
  const id = await firstJob(pair.deployed, key);
  const rate = (base: string, n: number) => rateOf(n, CONCURRENCY, () => fetch(`${base}/v1/jobs/${id}`, { headers: { authorization: `Bearer ${key}` } }), 200);

  await rate(baseOf(pair.deployed), 500); // warm-up: JIT, connections, Lua script cache
  await rate(baseOf(pair.without), 500);
  const withHook: number[] = [];
  const without: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    withHook.push(await rate(baseOf(pair.deployed), GETS));
    without.push(await rate(baseOf(pair.without), GETS));
  }
  const [a, p] = [median(withHook), median(without)];
  console.log(`GET /v1/jobs/:id, ${CONCURRENCY} concurrent, ${ROUNDS} alternating rounds of ${GETS} (median):`);
  console.log(`  without the audit hook: ${p.toFixed(0)} requests/s   (rounds: ${without.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  with the audit hook:    ${a.toFixed(0)} requests/s   (rounds: ${withHook.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`  cost: ${((1 - a / p) * 100).toFixed(1)}% fewer requests/s; ${(1000 / a - 1000 / p).toFixed(3)} ms more per request at this concurrency`);
} finally {
  await pair.close();
}
