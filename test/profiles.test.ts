/** Profiles: start-up refuses invalid ones with the file and field named; requests only tighten. */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadProfiles, tightenLimits } from '../src/profiles/index.js';

const REAL = resolve(import.meta.dirname, '../profiles');
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-profiles-'));
  await mkdir(join(dir, 'seccomp'));
  await writeFile(join(dir, 'seccomp/strict.json'), await readFile(join(REAL, 'seccomp/strict.json')));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = async () => JSON.parse(await readFile(join(REAL, 'shell.json'), 'utf8')) as Record<string, any>;

describe('loadProfiles', () => {
  it('loads the shipped profiles with digests of profile and policy', () => {
    const profiles = loadProfiles(REAL);
    expect([...profiles.keys()].sort()).toEqual(['node', 'node-gvisor', 'python', 'python-gvisor', 'shell', 'shell-gvisor']);
    for (const p of profiles.values()) {
      expect(p.digest).toMatch(/^[0-9a-f]{64}$/);
      expect(p.seccompDigest).toMatch(/^[0-9a-f]{64}$/);
      expect(p.profile.network).toBe('none');
      expect(p.profile.isolation).toBe(p.profile.name.endsWith('-gvisor') ? 'gvisor' : 'container');
    }
  });

  it('each gVisor profile is its runtime profile on the gVisor tier, and nothing else differs', () => {
    const profiles = loadProfiles(REAL);
    for (const runtime of ['python', 'node', 'shell']) {
      const { name: _n, description: _d, isolation, ...rest } = profiles.get(`${runtime}-gvisor`)!.profile;
      const { name: _bn, description: _bd, isolation: plain, ...base } = profiles.get(runtime)!.profile;
      expect({ isolation, plain, rest }).toEqual({ isolation: 'gvisor', plain: 'container', rest: base });
    }
  });

  it('the isolation tier defaults to container and is part of the profile digest', async () => {
    const p = await base();
    delete p['isolation'];
    await writeFile(join(dir, 'shell.json'), JSON.stringify(p));
    const plain = loadProfiles(dir).get('shell')!;
    expect(plain.profile.isolation).toBe('container');
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, isolation: 'gvisor' }));
    const gvisor = loadProfiles(dir).get('shell')!;
    expect(gvisor.profile.isolation).toBe('gvisor');
    expect(gvisor.digest).not.toBe(plain.digest);
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, isolation: 'kata' }));
    expect(() => loadProfiles(dir)).toThrow(/shell\.json[\s\S]*isolation/);
  });

  it('names the file and the field of an invalid profile', async () => {
    const p = await base();
    p['limits'].memoryBytes = 'lots';
    await writeFile(join(dir, 'shell.json'), JSON.stringify(p));
    expect(() => loadProfiles(dir)).toThrow(/shell\.json[\s\S]*limits\.memoryBytes/);
  });

  it('refuses unknown fields, a network other than none, and a name that does not match the file', async () => {
    const p = await base();
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, privileged: true }));
    expect(() => loadProfiles(dir)).toThrow(/privileged/);
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, network: 'bridge' }));
    expect(() => loadProfiles(dir)).toThrow(/shell\.json[\s\S]*network/);
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, name: 'other' }));
    expect(() => loadProfiles(dir)).toThrow(/name: must match the file name/);
  });

  it('refuses a missing, malformed or allow-all seccomp policy (never the engine default)', async () => {
    const p = await base();
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, seccomp: 'seccomp/missing.json' }));
    expect(() => loadProfiles(dir)).toThrow(/seccomp policy .*missing\.json is missing/);
    await writeFile(join(dir, 'seccomp/bad.json'), '{ not json');
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, seccomp: 'seccomp/bad.json' }));
    expect(() => loadProfiles(dir)).toThrow(/not valid JSON/);
    await writeFile(join(dir, 'seccomp/allow.json'), JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] }));
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, seccomp: 'seccomp/allow.json' }));
    expect(() => loadProfiles(dir)).toThrow(/not a sandbox/);
    await writeFile(join(dir, 'shell.json'), JSON.stringify({ ...p, seccomp: '../etc/passwd.json' }));
    expect(() => loadProfiles(dir)).toThrow(/seccomp/);
  });
});

describe('tightenLimits', () => {
  const limits = loadProfiles(REAL).get('shell')!.profile.limits;
  it('lowers, never raises, naming the field', () => {
    expect(tightenLimits('shell', limits, { timeoutMs: 10 }).timeoutMs).toBe(10);
    expect(() => tightenLimits('shell', limits, { memoryBytes: limits.memoryBytes + 1 })).toThrow(/memoryBytes .* exceeds the shell profile's limit/);
    let caught: unknown;
    try {
      tightenLimits('shell', limits, { pids: limits.pids + 1 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'LIMIT_EXCEEDS_PROFILE', details: { field: 'pids' } });
  });
});
