/**
 * Chaos: Redis restarted (SHUTDOWN, then started again on the same AOF) with jobs running and
 * queued. During the outage the API fails closed with 503 within a bound (never 500, never a
 * hang); the worker reconnects by itself; the jobs that were running finish and their results
 * are recorded once Redis is back (their end is held, not withheld); the queued ones run. Every
 * job succeeds once, nothing leaks, the audit log verifies. The Redis restarted is the test's
 * own (persisted like a production one): the same fault for the deployment, nothing of the
 * machine's touched.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { finishesPerJob, startChaosDeployment, startsPerAttempt, type ChaosDeployment } from './helpers/chaos.js';
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js';

let redis: RestartableRedis;
let d: ChaosDeployment;

beforeAll(async () => {
  redis = await startRestartableRedis();
  d = await startChaosDeployment('redis', { redisUrl: redis.url });
});
afterAll(async () => {
  await d?.stop();
  await redis?.destroy();
});

/** The bound on an answer while Redis is away (each command fails fast; a few round trips). */
const OUTAGE_ANSWER_BOUND_MS = 10_000;

it('Redis restarted with jobs running and queued: 503 meanwhile, then every job succeeds once', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 8; i += 1) ids.push(await d.submit({ runtime: 'shell', command: `sleep 4; echo job ${i}` }));
  for (;;) {
    const states = await Promise.all(ids.map(async (id) => (await d.request('GET', `/v1/jobs/${id}`)).body.status as string));
    if (states.filter((s) => s === 'running').length >= 2) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  await redis.shutdown();
  const answers: { status: number; ms: number }[] = [];
  for (const call of [
    () => d.request('GET', `/v1/jobs/${ids[0]}`, undefined, OUTAGE_ANSWER_BOUND_MS),
    () => d.request('POST', '/v1/jobs', { runtime: 'shell', command: 'true' }, OUTAGE_ANSWER_BOUND_MS),
  ]) {
    const t0 = Date.now();
    const r = await call();
    answers.push({ status: r.status, ms: Date.now() - t0 });
  }
  for (const a of answers) {
    expect(a.status).toBe(503);
    expect(a.ms).toBeLessThan(OUTAGE_ANSWER_BOUND_MS);
  }
  // the running jobs' programs end while Redis is away
  await new Promise((r) => setTimeout(r, 5000));
  await redis.start();

  const jobs = await d.settle(ids, 180_000);
  for (const [id, job] of jobs) expect({ id, status: job.status, stdout: job.stdout }).toEqual({ id, status: 'succeeded', stdout: `job ${ids.indexOf(id)}\n` });
  const records = await d.auditRecords();
  for (const [id, byAttempt] of startsPerAttempt(records)) for (const [attempt, n] of byAttempt) expect({ id, attempt, n }).toEqual({ id, attempt, n: 1 });
  for (const id of ids) expect({ id, finishes: finishesPerJob(records).get(id) }).toEqual({ id, finishes: 1 });
  // new work is taken after the restart
  const after = await d.submit({ runtime: 'shell', command: 'echo after' });
  expect((await d.settle([after], 60_000)).get(after)).toMatchObject({ status: 'succeeded' });
  expect((await d.containers()).filter((c) => c.Labels['airlock.job'] !== undefined || c.Names.some((n) => n.includes('airlock-claim')))).toEqual([]);
  expect((await d.auditVerify()).exit).toBe(0);
}, 400_000);
