/**
 * The Docker adapter on its own: the hardened create options really reach the engine,
 * cleanup happens even when the caller throws mid-run, and the reaper removes orphans.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../src/profiles/index.js';
import { DockerRuntime, jobIds, loadImageCatalog, MASKED_PATHS, type SandboxSpec } from '../src/sandbox/index.js';
import { createLogger } from '../src/shared/index.js';
import { docker, TEST_LABEL } from './helpers/airlock.js';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

const testId = `runtime-${randomBytes(4).toString('hex')}`;
const logger = createLogger({ level: 'silent' });
const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `w-${testId}`, deployment: testId, logger });
const profile = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
const images = loadImageCatalog(process.env['AIRLOCK_DATA_DIR'] ?? resolve(import.meta.dirname, '../.airlock'));

const spec = (argv: string[], jobId = `job_${randomBytes(6).toString('hex')}`): SandboxSpec => ({
  jobId,
  imageId: images.get('shell')!,
  ...jobIds(),
  argv,
  files: [],
  stdin: new Uint8Array(),
  env: {},
  limits: { ...profile.profile.limits, timeoutMs: 5000 },
  seccompJson: profile.seccompJson,
  labels: { [TEST_LABEL]: testId },
});
const mine = () => docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } });

afterAll(async () => {
  for (const c of await mine()) await docker.getContainer(c.Id).remove({ force: true });
});

describe('DockerRuntime', () => {
  it('creates containers with the hardened configuration', async () => {
    let inspected: Awaited<ReturnType<ReturnType<typeof docker.getContainer>['inspect']>> | undefined;
    const s = spec(['sh', '-c', 'sleep 0.5']);
    const result = await runtime.run(s, {
      onCreated: (id) => {
        void docker
          .getContainer(id)
          .inspect()
          .then((i) => (inspected = i));
      },
    });
    expect(result.outcome).toBe('exited');
    const hc = inspected!.HostConfig as Record<string, any>;
    expect(hc['NetworkMode']).toBe('none');
    expect(hc['ReadonlyRootfs']).toBe(true);
    expect(hc['CapDrop']).toEqual(['ALL']);
    expect(hc['Privileged']).toBe(false);
    expect(hc['Init']).toBe(true);
    expect(hc['SecurityOpt']).toContain('no-new-privileges');
    expect((hc['SecurityOpt'] as string[]).some((o) => o.startsWith('seccomp={'))).toBe(true);
    expect(hc['Memory']).toBe(profile.profile.limits.memoryBytes);
    expect(hc['MemorySwap']).toBe(profile.profile.limits.memoryBytes);
    expect(hc['PidsLimit']).toBe(profile.profile.limits.pids);
    expect(hc['Binds'] ?? []).toEqual([]);
    expect(hc['MaskedPaths']).toEqual(expect.arrayContaining(MASKED_PATHS));
    expect(hc['MaskedPaths']).toEqual(expect.arrayContaining(['/proc/sys/kernel/random/boot_id', '/proc/cmdline']));
    // /etc/airlock: the job's passwd and group entries, written by the init user (issue 10: a uid per job)
    expect(Object.keys(hc['Tmpfs'] as object).sort()).toEqual(['/etc/airlock', '/tmp', '/work']);
    expect((hc['Tmpfs'] as Record<string, string>)['/work']).toMatch(/noexec.*nosuid.*nodev/);
    expect((hc['Tmpfs'] as Record<string, string>)['/work']).toContain(`uid=${s.uid},gid=${s.gid},mode=0700`);
    expect((hc['Tmpfs'] as Record<string, string>)['/etc/airlock']).toMatch(/uid=10002,gid=10002,mode=0755/);
    expect(inspected!.Config.Cmd).toEqual(['idle', String(s.uid), String(s.gid)]);
    // PID 1 idles as the init user; the job's command runs as an exec as a uid of its own (jobs.docker.test)
    expect(inspected!.Config.User).toBe('10002:10002');
    expect(inspected!.Config.Image).toBe(images.get('shell'));
  });

  it('removes the container even when the caller throws mid-run (a failed assertion)', async () => {
    let created = '';
    await expect(
      runtime.run(spec(['sh', '-c', 'sleep 5']), {
        onCreated: (id) => {
          created = id;
          throw new Error('assertion failed in a caller');
        },
      }),
    ).rejects.toThrow('assertion failed');
    expect(created).not.toBe('');
    await expect(docker.getContainer(created).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('reaps managed containers whose worker is gone, and leaves the rest', async () => {
    // a leftover from a "dead" worker: created, never started
    const other = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `dead-${testId}`, deployment: testId, logger });
    // another deployment on the same engine: its containers are never reaped by us
    const stranger = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `dead-${testId}`, deployment: `other-${testId}`, logger });
    const strangerAbort = new AbortController();
    // settled at once: their outcomes (killed, or failed because reaped) are not what this test checks
    const strangerRun = stranger.run(spec(['sh', '-c', 'sleep 60']), { signal: strangerAbort.signal }).catch((e: unknown) => e);
    const victim = spec(['sh', '-c', 'sleep 60']);
    const abort = new AbortController();
    const running = other.run(victim, { signal: abort.signal }).catch((e: unknown) => e);
    let orphan: string | undefined;
    for (let i = 0; i < 50 && orphan === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      orphan = (await mine()).find((c) => c.Labels['airlock.job'] === victim.jobId)?.Id;
    }
    expect(orphan).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    const removed = await runtime.reap((labels) => labels['airlock.worker'] === `dead-${testId}`);
    expect(removed).toBe(1);
    expect((await mine()).filter((c) => c.Labels['airlock.deployment'] === `other-${testId}`)).toHaveLength(1);
    strangerAbort.abort();
    await strangerRun;
    await expect(docker.getContainer(orphan!).inspect()).rejects.toMatchObject({ statusCode: 404 });
    abort.abort();
    await running;
    expect(await mine()).toEqual([]);
  });

  it('an unknown image ID is IMAGE_MISSING (retryable)', async () => {
    await expect(runtime.assertImage(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'IMAGE_MISSING', retryable: true });
    await expect(runtime.run({ ...spec(['true']), imageId: `sha256:${'0'.repeat(64)}` })).rejects.toMatchObject({ code: 'IMAGE_MISSING' });
  });
});
