/**
 * The Docker adapter on its own: the hardened create options really reach the engine, the
 * stages (create → start → exec) each leave nothing behind when they fail, cleanup happens even
 * when the caller throws mid-run, and the reaper removes orphans.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../src/profiles/index.js';
import {
  containerOptions,
  DockerRuntime,
  jobIds,
  loadImageCatalog,
  MASKED_PATHS,
  runSandbox,
  type SandboxResult,
  type SandboxRun,
  type SandboxSpec,
} from '../src/sandbox/index.js';
import { TripwireMonitor } from '../src/sandbox/tripwire-monitor.js';
import { createLogger } from '../src/shared/index.js';
import { docker, TEST_LABEL } from './helpers/airlock.js';

const testId = `runtime-${randomBytes(4).toString('hex')}`;
const logger = createLogger({ level: 'silent' });
const runtime = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `w-${testId}`, deployment: testId, logger });
const profile = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('shell')!;
const images = loadImageCatalog(process.env['AIRLOCK_DATA_DIR'] ?? resolve(import.meta.dirname, '../.airlock'));
const limits = { ...profile.profile.limits, timeoutMs: 5000 };

const spec = (jobId = `job_${randomBytes(6).toString('hex')}`): SandboxSpec => ({
  jobId,
  imageId: images.get('shell')!,
  ...jobIds(),
  limits,
  seccompJson: profile.seccompJson,
  labels: { [TEST_LABEL]: testId },
});
const run = (argv: string[], extra: Partial<SandboxRun> = {}): SandboxRun => ({ argv, files: [], stdin: new Uint8Array(), env: {}, limits, ...extra });
const mine = () => docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } });
const ofJob = (jobId: string) => docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`, `airlock.job=${jobId}`] } });

afterAll(async () => {
  for (const c of await mine()) await docker.getContainer(c.Id).remove({ force: true });
  runtime.close();
});

describe('DockerRuntime', () => {
  it('creates containers with the hardened configuration', async () => {
    const s = spec();
    const prepared = await runtime.create(s);
    let result: SandboxResult;
    let inspected: Awaited<ReturnType<ReturnType<typeof docker.getContainer>['inspect']>>;
    try {
      inspected = await docker.getContainer(prepared.containerId).inspect();
      result = await (await prepared.start()).exec(run(['sh', '-c', 'sleep 0.5']));
    } finally {
      await prepared.remove();
    }
    expect(result.outcome).toBe('exited');
    const hc = inspected.HostConfig as Record<string, any>;
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
    expect(inspected.Config.Cmd).toEqual(['idle', String(s.uid), String(s.gid)]);
    // PID 1 idles as the init user; the job's command runs as an exec as a uid of its own (jobs.docker.test)
    expect(inspected.Config.User).toBe('10002:10002');
    expect(inspected.Config.Image).toBe(images.get('shell'));
    // the isolation tier is fixed at create: the plain one runs on the engine's default runtime, gVisor names runsc
    expect(inspected.Config.Labels).toMatchObject({ 'airlock.job': s.jobId, 'airlock.isolation': 'container' });
    expect(hc['Runtime']).toBe('runc');
    expect(containerOptions({ ...s, isolation: 'gvisor' }, {}).HostConfig['Runtime']).toBe('runsc');
  });

  it('removes the container even when the caller throws mid-run (a failed assertion)', async () => {
    let created = '';
    await expect(
      (async () => {
        const prepared = await runtime.create(spec());
        try {
          created = prepared.containerId;
          await prepared.start();
          throw new Error('assertion failed in a caller');
        } finally {
          await prepared.remove();
        }
      })(),
    ).rejects.toThrow('assertion failed');
    expect(created).not.toBe('');
    await expect(docker.getContainer(created).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it('a failed create leaves no container (missing image; a limit the engine must not see)', async () => {
    const missing = { ...spec(), imageId: `sha256:${'0'.repeat(64)}` };
    await expect(runtime.create(missing)).rejects.toMatchObject({ code: 'IMAGE_MISSING', retryable: true });
    expect(await ofJob(missing.jobId)).toEqual([]);
    const unbounded = { ...spec(), limits: { ...limits, pids: 0 } };
    await expect(runtime.create(unbounded)).rejects.toMatchObject({ code: 'INTERNAL', retryable: false });
    expect(await ofJob(unbounded.jobId)).toEqual([]);
  });

  it('a tripwire channel that cannot be opened leaves no container (the watch and the create overlap)', async () => {
    const blind = new DockerRuntime({
      socketPath: '/var/run/docker.sock',
      workerId: `w-${testId}`,
      deployment: testId,
      logger,
      tripwires: new TripwireMonitor({ logger, python: '/nonexistent/python3' }),
    });
    const s = spec();
    await expect(blind.create(s)).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', message: /tripwire channel is not available/ });
    expect(await ofJob(s.jobId)).toEqual([]);
  });

  it('a failed start removes the container it created', async () => {
    // the job's /run/airlock folder cannot be mounted: the engine creates the container and refuses to start it
    const dir = await mkdtemp(join(tmpdir(), 'airlock-runtime-'));
    try {
      await writeFile(join(dir, 'file'), 'not a folder');
      const s = { ...spec(), runDir: join(dir, 'file', 'sub') };
      const prepared = await runtime.create(s);
      expect(await ofJob(s.jobId)).toHaveLength(1);
      await expect(prepared.start()).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', retryable: true, message: /container start failed/ });
      expect(await ofJob(s.jobId)).toEqual([]);
      await prepared.remove(); // idempotent
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed exec removes the container (it stopped under the run; its input could not be unpacked)', async () => {
    const stopped = spec();
    const running = await (await runtime.create(stopped)).start();
    await docker.getContainer(running.containerId).kill();
    await expect(running.exec(run(['true']))).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', retryable: true });
    expect(await ofJob(stopped.jobId)).toEqual([]);

    // a file larger than the container's file size limit: tar dies of SIGXFSZ before the command
    const small = { ...spec(), limits: { ...limits, fileSizeBytes: 4096 } };
    const again = await (await runtime.create(small)).start();
    const big = run(['true'], { files: [{ path: 'big.bin', content: new Uint8Array(64 * 1024) }] });
    await expect(again.exec(big)).rejects.toMatchObject({ code: 'SANDBOX_INPUT_FAILED' });
    expect(await ofJob(small.jobId)).toEqual([]);
    await expect(again.exec(run(['true']))).rejects.toMatchObject({ code: 'INTERNAL', message: /already ran a job or was removed/ });
  });

  it('a sandbox runs one job: exec removes it, a second exec is refused', async () => {
    const s = spec();
    const running = await (await runtime.create(s)).start();
    const result = await running.exec(run(['sh', '-c', 'echo once']));
    expect(result).toMatchObject({ outcome: 'exited', exitCode: 0, containerId: running.containerId });
    expect(result.stdout.toString()).toBe('once\n');
    expect(await ofJob(s.jobId)).toEqual([]);
    await expect(running.exec(run(['true']))).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('reaps managed containers whose worker is gone, and leaves the rest', async () => {
    // a leftover from a "dead" worker: created, never started
    const other = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `dead-${testId}`, deployment: testId, logger });
    // another deployment on the same engine: its containers are never reaped by us
    const stranger = new DockerRuntime({ socketPath: '/var/run/docker.sock', workerId: `dead-${testId}`, deployment: `other-${testId}`, logger });
    const strangerAbort = new AbortController();
    // settled at once: their outcomes (killed, or failed because reaped) are not what this test checks
    const strangerRun = runSandbox(stranger, spec(), run(['sh', '-c', 'sleep 60'], { signal: strangerAbort.signal })).catch((e: unknown) => e);
    const victim = spec();
    const abort = new AbortController();
    const running = runSandbox(other, victim, run(['sh', '-c', 'sleep 60'], { signal: abort.signal })).catch((e: unknown) => e);
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
    other.close();
    stranger.close();
    expect(await mine()).toEqual([]);
  });

  it('an unknown image ID is IMAGE_MISSING (retryable)', async () => {
    await expect(runtime.assertImage(`sha256:${'0'.repeat(64)}`)).rejects.toMatchObject({ code: 'IMAGE_MISSING', retryable: true });
    await expect(runSandbox(runtime, { ...spec(), imageId: `sha256:${'0'.repeat(64)}` }, run(['true']))).rejects.toMatchObject({ code: 'IMAGE_MISSING' });
  });
});

describe('DockerRuntime on gVisor', () => {
  const MiB = 1024 * 1024;
  const gvisor = (extra: Partial<SandboxSpec['limits']> = {}): SandboxSpec => ({
    ...spec(),
    imageId: images.get('python')!,
    isolation: 'gvisor',
    limits: { ...limits, ...extra },
  });
  const bomb = 'hog = []\nwhile True:\n    hog.append(bytearray(8 * 1024 * 1024))\n    print("allocated", len(hog) * 8, "MiB", flush=True)\n';

  it('a sandbox whose kernel dies under the command is never the command exiting: memory bombs end oom or SANDBOX_UNAVAILABLE', async () => {
    // runsc exec reports its failed wait (exit 128) before the engine sees the sandbox die (measured:
    // 2 of 8 concurrent bombs); several at once make that race likely, whichever way each one goes
    const ends = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const s = gvisor({ memoryBytes: 64 * MiB });
        const end = await runSandbox(runtime, s, run(['python3', '-c', bomb])).then(
          (r: SandboxResult) => r.outcome,
          (e: { code?: string }) => e.code,
        );
        return { end, left: await ofJob(s.jobId) };
      }),
    );
    for (const { end, left } of ends) {
      expect(['oom', 'SANDBOX_UNAVAILABLE']).toContain(end);
      expect(left).toEqual([]);
    }
  });

  it("a program's own exit 128 stays its exit (the code runsc exec fails with is not taken as the sandbox's death)", async () => {
    const s = gvisor();
    const result = await runSandbox(runtime, s, run(['sh', '-c', 'echo dying >&2; exit 128']));
    expect(result).toMatchObject({ outcome: 'exited', exitCode: 128 });
    expect(result.stderr.toString()).toBe('dying\n');
  });
});
