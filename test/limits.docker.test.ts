/**
 * Limits on the real engine (issue 10, breach 1): a job at every floor at once and a job at every
 * ceiling start, and the container carries exactly those limits (read inside it); a job whose
 * input exactly fits scratchBytes, memoryBytes and fileSizeBytes runs; a profile asking for more
 * CPUs than the engine has is refused before create (it used to end SANDBOX_UNAVAILABLE after
 * retries, the engine naming the host). The per-field table is test/limits.redis.test.ts.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCHER_MEMORY_BYTES, LIMIT_NAMES } from '../src/profiles/index.js';
import { LIMIT_RANGES } from '../src/shared/index.js';
import { docker, runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const MiB = 1024 * 1024;
let t: TestAirlock;
let key: string;
let dir: string;
let engineCpus: number;

beforeAll(async () => {
  engineCpus = ((await docker.info()) as { NCPU: number }).NCPU;
  dir = await mkdtemp(join(tmpdir(), 'airlock-limits-docker-'));
  await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
  const shell = JSON.parse(await readFile(join(dir, 'profiles/shell.json'), 'utf8')) as Record<string, unknown>;
  const ceilings = Object.fromEntries(LIMIT_NAMES.map((n) => [n, LIMIT_RANGES[n].max]));
  // every ceiling of the table; cpus at the engine's own ceiling (its CPU count), then one above it
  await writeFile(join(dir, 'profiles/wide.json'), JSON.stringify({ ...shell, name: 'wide', limits: { ...ceilings, cpus: engineCpus } }));
  await writeFile(join(dir, 'profiles/toowide.json'), JSON.stringify({ ...shell, name: 'toowide', limits: { ...ceilings, cpus: Math.min(engineCpus + 1, 64) } }));
  t = await startTestAirlock('limits-docker', { AIRLOCK_PROFILES_DIR: join(dir, 'profiles') });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  await t?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});
afterEach(async () => {
  expect(await t.containers()).toEqual([]);
});

/** Prints what the container got: CFS quota, memory and pids limits, nofile, fsize (512-byte blocks), tmpfs sizes. */
const READ_LIMITS = [
  'cd /sys/fs/cgroup',
  'set -- $(cat cpu/cpu.cfs_quota_us memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes pids/pids.max)',
  'echo "$1 $2 $3 $4 $(ulimit -n) $(ulimit -f)"',
  'for d in /work /tmp /dev/shm; do set -- $(df -B1 $d | tail -1); echo $2; done',
].join('; ');

describe('the extremes start on the real engine and limit', () => {
  it('every limit at its floor at once (cpus 0.01 = a 1 ms CFS quota: slow, not unlimited)', async () => {
    const floors = Object.fromEntries(LIMIT_NAMES.map((n) => [n, LIMIT_RANGES[n].min]));
    // stdout and stderr may hold 1 byte: the check answers with its exit code
    const expect1 = [
      `[ "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)" = 1000 ] || exit 11`,
      `[ "$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)" = ${6 * MiB} ] || exit 12`,
      `[ "$(cat /sys/fs/cgroup/pids/pids.max)" = 16 ] || exit 13`,
      `[ "$(ulimit -n)" = 16 ] || exit 14`,
      // fsize in 512-byte blocks: one page, which our own init's writes must fit under too
      `[ "$(ulimit -f)" = 8 ] || exit 17`,
      'set -- $(df -B1 /work | tail -1); [ "$2" = 4096 ] || exit 15',
      'set -- $(df -B1 /dev/shm | tail -1); [ "$2" = 4096 ] || exit 16',
    ].join('; ');
    const job = await runJob(t, key, { profile: 'wide', command: expect1, limits: { ...floors, timeoutMs: 60_000 } }, 90);
    expect({ status: job.status, exitCode: job.exitCode, error: job.error }).toEqual({ status: 'succeeded', exitCode: 0, error: undefined });
  });

  it('timeoutMs at its floor (1 ms) ends as a timeout, a result', async () => {
    const job = await runJob(t, key, { runtime: 'shell', command: 'sleep 5', timeoutMs: 1 });
    expect(job.status).toBe('timeout');
  });

  it('every limit at its ceiling (cpus at the engine’s CPU count)', async () => {
    const job = await runJob(t, key, { profile: 'wide', command: READ_LIMITS });
    expect(job.status).toBe('succeeded');
    const TiB = LIMIT_RANGES.memoryBytes.max;
    expect(job.stdout.trim().split('\n')).toEqual([
      `${engineCpus * 100_000} ${TiB} ${TiB} ${LIMIT_RANGES.pids.max} ${LIMIT_RANGES.openFiles.max} ${LIMIT_RANGES.fileSizeBytes.max / 512}`,
      `${LIMIT_RANGES.scratchBytes.max}`,
      `${LIMIT_RANGES.tmpBytes.max}`,
      `${LIMIT_RANGES.shmBytes.max}`,
    ]);
  });

  it.skipIf(engineCpus >= 64)('more CPUs than the engine has: refused before create, an internal error never retried', async () => {
    const job = await runJob(t, key, { profile: 'toowide', command: 'true' });
    expect({ status: job.status, attempts: job.attempts, code: job.error?.code }).toEqual({ status: 'error', attempts: 1, code: 'INTERNAL' });
    expect(job.error.message).toContain('refusing to create the container: NanoCpus');
    expect(job.error.message).not.toMatch(/\/sys\/fs\/cgroup|Range of CPUs/);
  });
});

describe('an input that exactly fits its limits runs', () => {
  it('4 MiB of files and 5000 bytes of stdin with scratchBytes, memoryBytes and fileSizeBytes at what the API computes', async () => {
    const files = [0, 1, 2, 3].map((i) => ({ path: `d/f${i}`, content: Buffer.alloc(MiB, i).toString('base64'), encoding: 'base64' }));
    const scratchBytes = 4 * MiB + 2 * 4096;
    const limits = { scratchBytes, memoryBytes: scratchBytes + LAUNCHER_MEMORY_BYTES, fileSizeBytes: MiB };
    // one byte less of any is refused at submit (test/limits.redis.test.ts); at exactly this, tar unpacks it all
    const job = await runJob(t, key, { runtime: 'shell', command: 'wc -c d/f3; wc -c; set -- $(df -B1 /work | tail -1); echo $3', files, stdin: 'x'.repeat(5000), limits });
    expect({ status: job.status, error: job.error }).toEqual({ status: 'succeeded', error: undefined });
    expect(job.stdout).toBe(`${MiB} d/f3\n5000\n${scratchBytes}\n`);
  });
});
