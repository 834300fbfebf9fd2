/**
 * Two running Airlock deployments (e.g. an old build and this one) compared in one run: a
 * hello-world python job through each one's REST API (POST ?wait), interleaved A, B, A, B, … so
 * both see the same machine. Prints p50/p95 of each and B/A; asserts nothing.
 * Usage: node --import tsx scripts/bench-versions.ts --a URL=KEY --b URL=KEY [--b2 URL=KEY] [--rounds 40]
 * An old build beside this one: `git worktree add /tmp/old <commit>`, link this checkout's
 * node_modules into it, build its images into a data folder of its own
 * (`AIRLOCK_DATA_DIR=/tmp/old-data bash scripts/build-images.sh` there), then serve each with its
 * own `AIRLOCK_PORT` and `AIRLOCK_REDIS_PREFIX` (`node --import tsx src/main.ts`); the admin key
 * each prints on first start can submit jobs.
 */
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? undefined : process.argv[i + 1];
};
const ROUNDS = Number(arg('rounds') ?? 40);
const targets = ['a', 'b', 'b2'].flatMap((name) => {
  const v = arg(name);
  if (v === undefined) return [];
  const at = v.indexOf('=');
  return [{ name, url: v.slice(0, at), key: v.slice(at + 1), ms: [] as number[] }];
});
if (targets.length < 2) throw new Error('usage: --a URL=KEY --b URL=KEY [--b2 URL=KEY] [--rounds N]');

const body = JSON.stringify({ runtime: 'python', files: [{ path: 'main.py', content: 'print("hello")' }] });

async function oneJob(t: (typeof targets)[number]): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${t.url}/v1/jobs?wait=30`, { method: 'POST', headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' }, body });
  const job = (await res.json()) as { status?: string };
  if (job.status !== 'succeeded') throw new Error(`${t.name}: job ended ${JSON.stringify(job).slice(0, 200)}`);
  return performance.now() - t0;
}

const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

// warm-up: the first jobs pay image and code caches on both sides
for (const t of targets) for (let i = 0; i < 3; i += 1) await oneJob(t);
for (let i = 0; i < ROUNDS; i += 1) {
  // alternate who goes first, so neither always follows the other's removal
  const order = i % 2 === 0 ? targets : [...targets].reverse();
  for (const t of order) t.ms.push(await oneJob(t));
}
const [a] = targets;
for (const t of targets) {
  const ratio = t === a ? '' : `  p50 ${t.name}/a ${(pct(t.ms, 50) / pct(a!.ms, 50)).toFixed(2)}`;
  console.log(`${t.name} ${t.url}: p50 ${pct(t.ms, 50).toFixed(0)} ms, p95 ${pct(t.ms, 95).toFixed(0)} ms (${t.ms.length} jobs)${ratio}`);
}
