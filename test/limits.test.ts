/**
 * Limits (issue 10, breach 1): one range table for every limit, used by the profile schema and
 * the API; the engine fields derived from limits asserted before create; a job's input must fit
 * the limits it runs under. Pure: the real-engine side is test/limits.docker.test.ts.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkInputFits, inputNeeds, LAUNCHER_MEMORY_BYTES, LIMIT_NAMES, loadProfiles, type Limits } from '../src/profiles/index.js';
import { assertEngineLimits, containerOptions, type SandboxSpec } from '../src/sandbox/index.js';
import { AppError, LIMIT_RANGES } from '../src/shared/index.js';

const REAL = resolve(import.meta.dirname, '../profiles');
const MiB = 1024 * 1024;
const shell = loadProfiles(REAL).get('shell')!;
const minima = Object.fromEntries(LIMIT_NAMES.map((n) => [n, LIMIT_RANGES[n].min])) as Limits;
const maxima = Object.fromEntries(LIMIT_NAMES.map((n) => [n, LIMIT_RANGES[n].max])) as Limits;

describe('the limit range table', () => {
  it('has exactly the profile schema’s limits, each with a positive floor below its ceiling', () => {
    expect(Object.keys(LIMIT_RANGES).sort()).toEqual([...LIMIT_NAMES].sort());
    for (const n of LIMIT_NAMES) {
      expect(LIMIT_RANGES[n].min, n).toBeGreaterThan(0);
      expect(LIMIT_RANGES[n].max, n).toBeGreaterThan(LIMIT_RANGES[n].min);
      expect(Number.isSafeInteger(LIMIT_RANGES[n].max), n).toBe(true);
    }
  });

  it('holds every shipped profile', () => {
    for (const { profile } of loadProfiles(REAL).values()) {
      for (const n of LIMIT_NAMES) expect(profile.limits[n]).toBeGreaterThanOrEqual(LIMIT_RANGES[n].min);
    }
  });
});

describe('profiles: a limit the engine would not honour stops start-up, naming the field and the range', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-limits-'));
    await mkdir(join(dir, 'seccomp'));
    await writeFile(join(dir, 'seccomp/strict.json'), await readFile(join(REAL, 'seccomp/strict.json')));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const withLimit = async (name: string, value: unknown) => {
    const p = JSON.parse(await readFile(join(REAL, 'shell.json'), 'utf8')) as { limits: Record<string, unknown> };
    p.limits[name] = value;
    await writeFile(join(dir, 'shell.json'), JSON.stringify(p));
  };

  it.each([
    // the engine refuses these at start ("error setting rlimit type 7", "cpu.cfs_quota_us: invalid argument")
    ['openFiles', 65536, /limits\.openFiles: must be between 16 and 20000/],
    ['cpus', 0.001, /limits\.cpus: must be between 0\.01 and 64/],
    // NanoCpus 0: the engine reads no limit at all
    ['cpus', 1e-10, /limits\.cpus: must be between 0\.01 and 64/],
    // size=0 / ShmSize 0: no limit / the engine's default
    ['tmpBytes', 0, /limits\.tmpBytes: must be between 4096/],
    ['shmBytes', 0, /limits\.shmBytes: must be between 4096/],
    ['memoryBytes', 6 * MiB - 1, /limits\.memoryBytes: must be between 6291456/],
    ['pids', 0, /limits\.pids: must be between 16 and 4096/],
    ['memoryBytes', 16 * MiB + 0.5, /limits\.memoryBytes: .*expected int/],
  ])('%s %d', async (name, value, message) => {
    await withLimit(name, value);
    expect(() => loadProfiles(dir)).toThrow(message);
  });

  it('accepts every limit at its floor and at its ceiling', async () => {
    for (const limits of [minima, maxima]) {
      const p = JSON.parse(await readFile(join(REAL, 'shell.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, limits }));
      expect(loadProfiles(dir).get('shell')!.profile.limits).toEqual(limits);
    }
  });
});

const spec = (limits: Partial<Record<keyof Limits, number>>): SandboxSpec => ({
  jobId: 'job_limits',
  imageId: 'sha256:0',
  uid: 200_001,
  gid: 200_001,
  limits: { ...shell.profile.limits, ...limits },
  seccompJson: shell.seccompJson,
});
const options = (limits: Partial<Record<keyof Limits, number>>) => containerOptions(spec(limits), {});
type Options = ReturnType<typeof options>;

/** The assertion's verdict: undefined when accepted, else the AppError's code, retryable flag and message. */
function verdict(o: Options, engineCpus = 2): { code: string; retryable: boolean; message: string } | undefined {
  try {
    assertEngineLimits(o, { cpus: engineCpus });
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    const e = err as AppError;
    return { code: e.code, retryable: e.retryable, message: e.message };
  }
}

describe('cpus keeps a float; NanoCpus is rounded into the engine’s range', () => {
  it.each([
    [0.01, 10_000_000],
    [0.015, 15_000_000],
    [1 / 3, 333_333_333],
    [2, 2_000_000_000],
  ])('cpus %d → NanoCpus %d', (cpus, nano) => {
    const o = options({ cpus });
    expect(o.HostConfig['NanoCpus']).toBe(nano);
    expect(verdict(o)).toBeUndefined();
  });
});

describe('assertEngineLimits over containerOptions()', () => {
  it('accepts the shipped profiles, and every limit at its floor and at its ceiling', () => {
    for (const { profile } of loadProfiles(REAL).values()) expect(verdict(containerOptions({ ...spec({}), limits: profile.limits }, {}))).toBeUndefined();
    expect(verdict(options(minima))).toBeUndefined();
    expect(verdict(options(maxima), 64)).toBeUndefined();
  });

  // what the policy derives from limits no schema would pass any more: each means "no limit" or a refused start
  it.each([
    ['cpus 1e-10: NanoCpus 0 = no CPU limit', { cpus: 1e-10 }, 'NanoCpus 0'],
    ['cpus 1e-6: a CFS quota of 0 µs = no CPU limit', { cpus: 1e-6 }, 'NanoCpus 1000'],
    ['cpus 0.009999: a quota under 1 ms fails the start', { cpus: 0.009999 }, 'NanoCpus 9999000'],
    ['cpus NaN', { cpus: Number.NaN }, 'NanoCpus NaN must be an integer'],
    ['cpus above the engine’s CPU count: refused at create', { cpus: 3 }, 'NanoCpus 3000000000 must be between 10000000 and 2000000000'],
    ['memoryBytes 0 = no memory limit', { memoryBytes: 0 }, 'Memory 0'],
    ['memoryBytes NaN', { memoryBytes: Number.NaN }, 'Memory NaN'],
    ['memoryBytes under 6 MiB: refused at create', { memoryBytes: 6 * MiB - 1 }, 'Memory 6291455'],
    ['pids 0 = no pids limit', { pids: 0 }, 'PidsLimit 0'],
    ['pids -1 = no pids limit', { pids: -1 }, 'PidsLimit -1'],
    ['shmBytes 0 = the engine’s default 64 MiB', { shmBytes: 0 }, 'ShmSize 0'],
    ['scratchBytes 0: tmpfs size=0 = no size limit', { scratchBytes: 0 }, 'Tmpfs[/work].size'],
    ['tmpBytes 0: tmpfs size=0 = no size limit', { tmpBytes: 0 }, 'Tmpfs[/tmp].size'],
    ['scratchBytes 1.5: not a size in bytes', { scratchBytes: 1.5 }, 'Tmpfs[/work].size'],
    ['openFiles 0: the start fails', { openFiles: 0 }, 'Ulimits.nofile.Soft 0'],
    ['openFiles above dockerd’s own hard limit: the start fails', { openFiles: 65536 }, 'Ulimits.nofile.Soft 65536'],
    ['fileSizeBytes -1 = RLIM_INFINITY', { fileSizeBytes: -1 }, 'Ulimits.fsize.Soft -1'],
    ['fileSizeBytes 0.5', { fileSizeBytes: 0.5 }, 'Ulimits.fsize.Soft 0.5'],
  ])('refuses %s', (_, limits, field) => {
    expect(verdict(options(limits))).toEqual({ code: 'INTERNAL', retryable: false, message: expect.stringContaining(`refusing to create the container: ${field}`) });
  });

  const edit = (change: (hc: Record<string, unknown>) => void): Options => {
    const o = options({});
    change(o.HostConfig);
    return o;
  };
  it.each([
    ['MemorySwap -1 (unlimited swap)', (hc: Record<string, unknown>) => (hc['MemorySwap'] = -1), 'MemorySwap -1'],
    ['MemorySwap 0 (the engine doubles Memory)', (hc: Record<string, unknown>) => (hc['MemorySwap'] = 0), 'MemorySwap 0'],
    ['no Memory', (hc: Record<string, unknown>) => delete hc['Memory'], 'Memory unset'],
    ['no NanoCpus', (hc: Record<string, unknown>) => delete hc['NanoCpus'], 'NanoCpus unset'],
    ['no PidsLimit', (hc: Record<string, unknown>) => delete hc['PidsLimit'], 'PidsLimit unset'],
    ['no ShmSize', (hc: Record<string, unknown>) => delete hc['ShmSize'], 'ShmSize unset'],
    ['a tmpfs without a size', (hc: Record<string, unknown>) => ((hc['Tmpfs'] as Record<string, string>)['/work'] = 'rw,noexec'), 'Tmpfs[/work].size'],
    ['a tmpfs size with a unit', (hc: Record<string, unknown>) => ((hc['Tmpfs'] as Record<string, string>)['/tmp'] = 'rw,size=1g'), 'Tmpfs[/tmp].size "1g"'],
    ['a tmpfs size given twice', (hc: Record<string, unknown>) => ((hc['Tmpfs'] as Record<string, string>)['/tmp'] = 'size=4096,size=0'), 'Tmpfs[/tmp].size'],
    ['another tmpfs of size 0', (hc: Record<string, unknown>) => ((hc['Tmpfs'] as Record<string, string>)['/var/tmp'] = 'rw,size=0'), 'Tmpfs[/var/tmp].size 0'],
    [
      'no nofile ulimit (dockerd’s own applies)',
      (hc: Record<string, unknown>) => (hc['Ulimits'] = (hc['Ulimits'] as { Name: string }[]).filter((u) => u.Name !== 'nofile')),
      'Ulimits.nofile',
    ],
    ['no ulimits at all', (hc: Record<string, unknown>) => delete hc['Ulimits'], 'Ulimits'],
    [
      'core -1 (unlimited core dumps)',
      (hc: Record<string, unknown>) => ((hc['Ulimits'] as { Name: string; Soft: number }[]).find((u) => u.Name === 'core')!.Soft = -1),
      'Ulimits.core.Soft -1',
    ],
    [
      'a soft limit above its hard limit',
      (hc: Record<string, unknown>) => ((hc['Ulimits'] as { Name: string; Hard: number }[]).find((u) => u.Name === 'nofile')!.Hard = 16),
      'Ulimits.nofile 256 soft 256 is above hard 16',
    ],
  ])('refuses %s', (_, change, field) => {
    expect(verdict(edit(change))).toEqual({ code: 'INTERNAL', retryable: false, message: expect.stringContaining(`refusing to create the container: ${field}`) });
  });
});

describe('a job’s input must fit its limits', () => {
  it('counts whole 4 KiB pages per file, stdin and patch (measured with df in the tmpfs)', () => {
    // files of 1, 4096, 4097 and 10000 bytes and 5000 bytes of stdin: df showed 9 pages (36864 bytes)
    expect(inputNeeds({ fileBytes: [1, 4096, 4097, 10000], stdinBytes: 5000 })).toEqual({
      scratchBytes: 36864,
      memoryBytes: 36864 + LAUNCHER_MEMORY_BYTES,
      fileSizeBytes: 10000,
    });
    // empty files and stdin take no page; a patch travels with the host's reading of it (at most twice its size)
    expect(inputNeeds({ fileBytes: [0, 0], stdinBytes: 0 }).scratchBytes).toBe(0);
    expect(inputNeeds({ fileBytes: [], stdinBytes: 0, patchBytes: 5000 })).toMatchObject({ scratchBytes: 2 * 4096 + 3 * 4096, fileSizeBytes: 10000 });
  });

  const fits = (limits: Partial<Limits>, fileBytes: number[], profile: Partial<Limits> = {}) => {
    const base = { ...shell.profile.limits, ...profile };
    try {
      checkInputFits('shell', base, { ...base, ...limits }, { fileBytes, stdinBytes: 0 });
      return 'fits';
    } catch (err) {
      return { code: (err as AppError).code, details: (err as AppError).details };
    }
  };

  it('a limit lowered below the input is the caller’s error, naming the field and the range that would work', () => {
    expect(fits({ scratchBytes: 3 * 4096 }, [4096, 4097])).toBe('fits');
    expect(fits({ scratchBytes: 3 * 4096 - 1 }, [4096, 4097])).toEqual({ code: 'LIMIT_OUT_OF_RANGE', details: { field: 'scratchBytes', min: 3 * 4096, max: 64 * MiB } });
    expect(fits({ fileSizeBytes: 4097 }, [4096, 4097])).toBe('fits');
    expect(fits({ fileSizeBytes: 4096 }, [4096, 4097])).toEqual({ code: 'LIMIT_OUT_OF_RANGE', details: { field: 'fileSizeBytes', min: 4097, max: 32 * MiB } });
    const needs = 4 * MiB + LAUNCHER_MEMORY_BYTES;
    expect(fits({ memoryBytes: needs }, [MiB, MiB, MiB, MiB])).toBe('fits');
    expect(fits({ memoryBytes: needs - 1 }, [MiB, MiB, MiB, MiB])).toEqual({ code: 'LIMIT_OUT_OF_RANGE', details: { field: 'memoryBytes', min: needs, max: 256 * MiB } });
  });

  it('an input larger than the profile’s own limit is INPUT_TOO_LARGE', () => {
    expect(fits({}, [MiB, MiB], { scratchBytes: MiB })).toEqual({ code: 'INPUT_TOO_LARGE', details: { cap: 'scratchBytes', field: 'scratchBytes', min: 2 * MiB, max: MiB } });
  });
});
