/**
 * What the limiter and the baseline updates cost (issue 15): requests/s of GET /v1/jobs/:id and
 * submissions/s of POST /v1/jobs through two API instances in one process, on the same Redis
 * prefix — one as deployed (each request: the key's rate script and its baseline update; each
 * submission: the admission script and its baseline update), one built without them
 * (Config.http.unlimitedForBenchmark, which no variable sets). Rounds alternate so drift hits
 * both. API role only (jobs stay queued): needs Redis, not Docker. npm run bench prints it too.
 * Usage: node --import tsx scripts/bench-limits.ts [--gets 3000 --submits 600 --rounds 5 --concurrency 16]
 */
import { fileURLToPath } from 'node:url';
import { baseOf, benchKey, firstJob, median, openBenchPair, rateOf } from './bench-pair.js';

export interface LimiterCostOptions {
  readonly gets: number;
  readonly submits: number;
  readonly rounds: number;
  readonly concurrency: number;
}

/** Lines to print: GET and submit rates with and without the limiter, and the difference. */
export async function limiterCost(o: LimiterCostOptions): Promise<string[]> {
  const pair = await openBenchPair('limits', (http) => ({ ...http, unlimitedForBenchmark: true }), { AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: '10000000' });
  const [limited, plain] = [pair.deployed, pair.without];
  try {
    const key = await benchKey(pair);
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const body = JSON.stringify({ runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] });
    const id = await firstJob(limited, key);
    const rate = (n: number, one: () => Promise<Response>, status: number) => rateOf(n, o.concurrency, one, status);
    const get = (a: typeof limited) => () => fetch(`${baseOf(a)}/v1/jobs/${id}`, { headers: { authorization: headers.authorization } });
    const post = (a: typeof limited) => () => fetch(`${baseOf(a)}/v1/jobs`, { method: 'POST', headers, body });

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
    await pair.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i === -1 ? def : Number(process.argv[i + 1]);
  };
  for (const l of await limiterCost({ gets: arg('gets', 3000), submits: arg('submits', 600), rounds: arg('rounds', 5), concurrency: arg('concurrency', 16) })) console.log(l);
}
