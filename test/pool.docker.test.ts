/**
 * The warm pool on its own, over the real Docker adapter (issue 12): a claim hands a container
 * to one job only and the pool refills once that job's container is removed (at once when it runs
 * low); it never holds more than its target, also under a
 * burst of concurrent claims; ready containers are replaced after maxIdleMs, after a change of
 * profile or policy, and when they die; a job whose limits the pool cannot express misses;
 * close() leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadProfiles } from '../src/profiles/index.js';
import { poolTemplatesOf } from '../src/queue/index.js';
import {
  DockerRuntime,
  LABEL_POOL,
  LABEL_POOL_KEY,
  loadImageCatalog,
  PoolOptionsSchema,
  SandboxPool,
  type PoolOptionsInput,
  type PoolTemplate,
  type SandboxRun,
} from '../src/sandbox/index.js';
import { createLogger, systemClock } from '../src/shared/index.js';
import { docker, TEST_LABEL } from './helpers/airlock.js';

const testId = `pool-${randomBytes(4).toString('hex')}`;
const logger = createLogger({ level: 'silent' });
const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `w-${testId}`, deployment: testId, logger });
const profiles = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const images = loadImageCatalog(process.env['AIRLOCK_DATA_DIR'] ?? resolve(import.meta.dirname, '../.airlock'));
const shell = poolTemplatesOf(profiles, images, false).find((t) => t.name === 'shell')!;
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pool: SandboxPool | undefined;
function startPool(options: PoolOptionsInput = {}, templates: readonly PoolTemplate[] = [shell]): SandboxPool {
  pool = new SandboxPool({
    engine: runtime,
    options: PoolOptionsSchema.parse({ size: '2', ...options }),
    concurrency: 2,
    templates,
    labels: { [TEST_LABEL]: testId },
    clock: systemClock,
    logger,
  });
  pool.start();
  return pool;
}

/** This test's pooled containers the engine knows, with their state. */
async function pooled(): Promise<{ id: string; state: string; key: string | undefined; name: string }[]> {
  const list = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`, LABEL_POOL] } });
  return list.map((c) => ({ id: c.Id, state: c.State, key: c.Labels[LABEL_POOL_KEY], name: c.Names[0] ?? '' }));
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The ids of the pool's ready containers, once it holds exactly `n` ready and running. */
const readyIds = (p: SandboxPool, n = 2) =>
  until(`${n} ready`, async () => {
    const s = p.state()['shell'];
    const running = (await pooled()).filter((c) => c.state === 'running');
    return s?.ready === n && s.creating === 0 && running.length === n ? running.map((c) => c.id).sort() : undefined;
  });

const notFound = (err: unknown): false => {
  if ((err as { statusCode?: number }).statusCode === 404) return false;
  throw err;
};
/**
 * Resolves once the engine knows none of `ids` (404 on each); any other answer fails. The pool
 * removes a replaced container in the background, alongside making its successor, so the
 * successor may be ready before the removal ends.
 */
const removed = (ids: readonly string[]) =>
  until(`${ids.join(', ')} removed`, async () => {
    const present = await Promise.all(
      ids.map((id) =>
        docker
          .getContainer(id)
          .inspect()
          .then(() => true, notFound),
      ),
    );
    return present.includes(true) ? undefined : ids;
  });

const run = (argv: string[]): SandboxRun => ({ argv, files: [], stdin: new Uint8Array(), env: {}, limits: { ...shell.limits, ...profiles.get('shell')!.profile.limits } });
const job = () => `job_${randomBytes(6).toString('base64url')}`;

afterEach(async () => {
  await pool?.close();
  pool = undefined;
  expect(await pooled()).toEqual([]);
});
afterAll(async () => {
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } })) await docker.getContainer(c.Id).remove({ force: true });
  runtime.close();
});

describe('a claim', () => {
  it('hands a started container to one job, names it after the job, and the pool makes a replacement', async () => {
    const p = startPool();
    const before = await readyIds(p);
    const jobId = job();
    const claim = await p.claim({ jobId, template: shell });
    expect(claim.sandbox).toBeDefined();
    const sandbox = claim.sandbox!;
    expect(before).toContain(sandbox.containerId);
    expect(sandbox.spec.jobId).toBe(jobId);
    // the reaper finds it by the job, like a cold container
    expect((await runtime.listManaged({ 'airlock.job': jobId })).map((c) => c.id)).toEqual([sandbox.containerId]);
    const result = await (await sandbox.start()).exec(run(['sh', '-c', 'id -u; hostname']));
    expect(result.outcome).toBe('exited');
    expect(result.stdout.toString().split('\n')[1]).toBe(sandbox.containerId.slice(0, 12));
    await sandbox.remove();
    // removed with its run, and replaced: the pool never hands it out again
    await expect(docker.getContainer(sandbox.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    const after = await readyIds(p);
    expect(after).not.toContain(sandbox.containerId);
    expect(p.state()['shell']).toMatchObject({ target: 2, hits: 1, misses: 0 });
  });

  it('the replacement is made once the claimed container is removed; at once, with every one owed, when fewer than half the target are ready', async () => {
    const p = startPool();
    await readyIds(p);
    const first = await p.claim({ jobId: job(), template: shell });
    // one of two still ready: nothing is made while the job runs, not even by the periodic check
    await p.check();
    expect(p.state()['shell']).toMatchObject({ ready: 1, creating: 0 });
    await first.sandbox!.remove();
    expect(p.state()['shell']).toMatchObject({ ready: 1, creating: 1 });
    await readyIds(p);

    const second = await p.claim({ jobId: job(), template: shell });
    expect(p.state()['shell']).toMatchObject({ ready: 1, creating: 0 });
    // none ready left: this claim's replacement and the one the first still owes are made now
    const third = await p.claim({ jobId: job(), template: shell });
    expect(p.state()['shell']).toMatchObject({ ready: 0, creating: 2 });
    await Promise.all([second.sandbox!.remove(), third.sandbox!.remove()]);
    expect(p.state()['shell']!.ready + p.state()['shell']!.creating).toBeLessThanOrEqual(2);
    expect(await readyIds(p)).toHaveLength(2);
  });

  it('lowers memory, cpus and pids to the job’s; a job tightening a limit fixed at create misses', async () => {
    const p = startPool();
    await readyIds(p);
    const lowered = { ...shell, limits: { ...shell.limits, memoryBytes: 64 * MiB, cpus: 0.5, pids: 32 } };
    const claim = await p.claim({ jobId: job(), template: lowered });
    const cgroup =
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us';
    const result = await (await claim.sandbox!.start()).exec(run(['sh', '-c', cgroup]));
    await claim.sandbox!.remove();
    expect(result.stdout.toString().split('\n').slice(0, 4)).toEqual([String(64 * MiB), String(64 * MiB), '32', '50000']);

    for (const [limit, value] of [
      ['tmpBytes', MiB],
      ['scratchBytes', MiB],
      ['shmBytes', MiB],
      ['openFiles', 64],
      ['fileSizeBytes', MiB],
    ] as const) {
      const miss = await p.claim({ jobId: job(), template: { ...shell, limits: { ...shell.limits, [limit]: value } } });
      expect(miss).toMatchObject({ sandbox: undefined, reason: `does not fit: limit ${limit} (fixed at create)` });
    }
    const raised = await p.claim({ jobId: job(), template: { ...shell, limits: { ...shell.limits, pids: shell.limits.pids + 1 } } });
    expect(raised).toMatchObject({ sandbox: undefined, reason: "does not fit: limit pids above the pool's" });
    expect(p.state()['shell']).toMatchObject({ hits: 1, misses: 6 });
  });

  it('under a burst of 3x the target: distinct containers, a wait only for one being made, the rest cold, and never more than the target', async () => {
    const p = startPool();
    await readyIds(p);
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = p.state()['shell']!;
        most = Math.max(most, s.ready + s.creating);
        await sleep(2);
      }
    })();
    const claims = await Promise.all(Array.from({ length: 6 }, () => p.claim({ jobId: job(), template: shell })));
    sampling = false;
    await sampler;
    const ids = claims.flatMap((c) => (c.sandbox === undefined ? [] : [c.sandbox.containerId]));
    await Promise.all(claims.flatMap((c) => (c.sandbox === undefined ? [] : [c.sandbox.remove()])));
    expect(most).toBeLessThanOrEqual(2);
    // two were ready, two waited for the two being made; the other two take the cold path (a
    // second wait would be longer than a cold create) rather than make the pool grow
    expect(ids).toHaveLength(4);
    expect(new Set(ids).size).toBe(4);
    expect(claims.filter((c) => c.sandbox === undefined).map((c) => c.reason)).toEqual(['none ready', 'none ready']);
    expect(p.state()['shell']).toMatchObject({ hits: 2, waited: 2, misses: 2 });
    // and it is back to its target, not above it
    expect(await readyIds(p)).toHaveLength(2);
  });
});

describe('hygiene', () => {
  it('replaces ready containers older than maxIdleMs', async () => {
    const p = startPool({ maxIdleMs: 1500, checkMs: 200 });
    const first = await readyIds(p);
    const next = await until('all replaced', async () => {
      const ids = await readyIds(p);
      return ids.some((id) => first.includes(id)) ? undefined : ids;
    });
    expect(next).toHaveLength(2);
    await expect(removed(first)).resolves.toEqual(first);
  });

  it('replaces ready containers when the profile or its policy changes, and a job of the old one misses', async () => {
    const p = startPool();
    const first = await readyIds(p);
    const changed: PoolTemplate = { ...shell, seccompJson: shell.seccompJson.replace('"defaultAction"', '"comment":"v2","defaultAction"'), profileDigest: 'changed' };
    p.configure([changed]);
    const next = await until('replaced', async () => {
      const ids = await readyIds(p);
      return ids.some((id) => first.includes(id)) ? undefined : ids;
    });
    const keys = new Set((await pooled()).map((c) => c.key));
    expect(keys.size).toBe(1);
    expect(next).toHaveLength(2);
    expect(await p.claim({ jobId: job(), template: shell })).toMatchObject({ sandbox: undefined, reason: 'does not fit: seccomp policy' });
    const fresh = await p.claim({ jobId: job(), template: changed });
    expect(next).toContain(fresh.sandbox?.containerId);
    await fresh.sandbox?.remove();
  });

  it('replaces a ready container that was killed', async () => {
    const p = startPool({ checkMs: 200 });
    const [victim, other] = await readyIds(p);
    await docker.getContainer(victim!).kill();
    const next = await until('the killed one replaced', async () => {
      const ids = await readyIds(p);
      return ids.includes(victim!) ? undefined : ids;
    });
    expect(next).toContain(other);
    await expect(removed([victim!])).resolves.toEqual([victim]);
  });

  it('a container that died after the last check is not handed out: the claim takes the next one', async () => {
    const p = startPool({ checkMs: 60_000 });
    const ids = await readyIds(p);
    await docker.getContainer(ids[0]!).kill();
    await docker.getContainer(ids[1]!).kill();
    const claim = await p.claim({ jobId: job(), template: shell });
    // both dead: each failed claim removed one; the claim waited for a fresh container
    expect(ids).not.toContain(claim.sandbox?.containerId);
    const result = await (await claim.sandbox!.start()).exec(run(['true']));
    expect(result.outcome).toBe('exited');
    for (const id of ids) await expect(docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('close() removes every container it holds, also those still being made', async () => {
    const p = startPool();
    // start() began making both: none exists yet
    expect(p.state()['shell']).toMatchObject({ ready: 0, creating: 2 });
    await p.close();
    expect(await pooled()).toEqual([]);
    expect(await p.claim({ jobId: job(), template: shell })).toMatchObject({ sandbox: undefined });
  });
});
