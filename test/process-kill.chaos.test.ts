/**
 * Chaos: the all-in-one process SIGKILLed with jobs running and queued, then started again on the
 * same Redis and data folder. Every job ends (succeeded: a crash is the infrastructure's, the
 * stalled attempt is retried), none is run twice to completion (one job.start per job and
 * attempt, one job.finish per job), no container of the deployment is left, the audit log verifies.
 * Its own redis-server: it restarts nothing of the machine's.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { finishesPerJob, startChaosDeployment, startsPerAttempt, type ChaosDeployment } from './helpers/chaos.js';
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js';

let redis: RestartableRedis;
let d: ChaosDeployment;

beforeAll(async () => {
  redis = await startRestartableRedis();
  d = await startChaosDeployment('kill', { redisUrl: redis.url });
});
afterAll(async () => {
  await d?.stop();
  await redis?.destroy();
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('SIGKILL with jobs running and queued, then a restart: every job succeeds once, nothing leaks', async () => {
  const ids: string[] = [];
  // concurrency 4: four run, four wait
  for (let i = 0; i < 8; i += 1) ids.push(await d.submit({ runtime: 'shell', command: `sleep 3; echo job ${i}` }));
  await until(async () => {
    const states = await Promise.all(ids.map(async (id) => (await d.request('GET', `/v1/jobs/${id}`)).body.status as string));
    return states.filter((s) => s === 'running').length >= 2;
  }, 60_000);
  await d.kill();
  await d.restart();

  const jobs = await d.settle(ids, 180_000);
  for (const [id, job] of jobs) expect({ id, status: job.status }).toEqual({ id, status: 'succeeded' });
  const records = await d.auditRecords();
  for (const [id, byAttempt] of startsPerAttempt(records)) for (const [attempt, n] of byAttempt) expect({ id, attempt, n }).toEqual({ id, attempt, n: 1 });
  for (const id of ids) expect({ id, finishes: finishesPerJob(records).get(id) }).toEqual({ id, finishes: 1 });
  // the dead worker's containers go once its heartbeat has expired (the next worker's reaper)
  await until(async () => (await d.containers()).filter((c) => c.Labels['airlock.job'] !== undefined || c.Names.some((n) => n.includes('airlock-claim'))).length === 0, 90_000);
  expect((await d.auditVerify()).exit).toBe(0);
}, 400_000);
