/**
 * Chaos: the data folder's disk full (a 4 MiB tmpfs as the data dir) while a job's artifacts are
 * stored. The job ends `error` with a reason that says so, and is not lost; the service keeps
 * serving (a job without artifacts succeeds, the first job stays readable); nothing leaks; the
 * audit log (whose files are elsewhere) verifies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startChaosDeployment, type ChaosDeployment } from './helpers/chaos.js';
import { startRestartableRedis, type RestartableRedis } from './helpers/restartable-redis.js';

let redis: RestartableRedis;
let d: ChaosDeployment;
let mount: string;

beforeAll(async () => {
  mount = await mkdtemp(join(tmpdir(), 'airlock-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m,mode=0700', 'tmpfs', mount]);
  redis = await startRestartableRedis();
  d = await startChaosDeployment('full', { redisUrl: redis.url, dataDir: mount, env: { AIRLOCK_POOL_SIZE: '0' } });
});
afterAll(async () => {
  await d?.stop();
  await redis?.destroy();
  execFileSync('umount', [mount]);
  await rm(mount, { recursive: true, force: true });
});

it('artifacts that do not fit: the job ends error saying so, and the service keeps serving', async () => {
  // 3 MiB of artifact, then its 3 MiB tar: the 4 MiB folder fills
  const big = await d.submit({ runtime: 'shell', command: 'mkdir -p out && head -c 3145728 /dev/urandom > out/big.bin', outputs: ['out/**'] });
  const ended = (await d.settle([big], 120_000)).get(big);
  expect(ended).toMatchObject({ status: 'error', error: { message: /out of space \(ENOSPC\)/ } });
  const small = await d.submit({ runtime: 'shell', command: 'echo still serving' });
  expect((await d.settle([small], 60_000)).get(small)).toMatchObject({ status: 'succeeded', stdout: 'still serving\n' });
  expect((await d.request('GET', `/v1/jobs/${big}`)).body).toMatchObject({ status: 'error' });
  expect(await d.containers()).toEqual([]);
  expect((await d.auditVerify()).exit).toBe(0);
}, 300_000);
