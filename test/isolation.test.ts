/**
 * The isolation tiers' rules, pure (what each tier does is test/*.docker.test.ts's, on both tiers:
 * the `gvisor` vitest project): the runtime a tier maps to and the refusal of a tier the engine
 * lacks (never a downgrade), the warm pool's gVisor rules, the approval policy's requireIsolation,
 * and the tier in the capability matrix.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capabilityMatrix, formatCapabilityMatrix, loadProfiles } from '../src/profiles/index.js';
import { isolationShortfall, parseApprovalPolicy } from '../src/review/approval-policy.js';
import { PromotableResultSchema } from '../src/review/index.js';
import { assertEngineLimits, containerOptions, type SandboxSpec } from '../src/sandbox/index.js';
import { assertIsolation, GVISOR_HOST_PIDS, isolationsOf } from '../src/sandbox/isolation-runtime.js';
import { poolSize } from '../src/sandbox/pool/pool-options.js';
import { fitsTemplate, type PoolTemplate } from '../src/sandbox/pool/pool-template.js';

const profiles = loadProfiles(resolve(import.meta.dirname, '../profiles'));
const shell = profiles.get('shell')!;
const spec: SandboxSpec = { jobId: 'job_isolation', imageId: 'sha256:x', uid: 200_001, gid: 200_001, limits: shell.profile.limits, seccompJson: shell.seccompJson };

describe('the runtime of each tier', () => {
  it('the plain tier leaves the engine default (runc); gVisor names runsc', () => {
    expect(containerOptions(spec, {}).HostConfig['Runtime']).toBeUndefined();
    expect(containerOptions({ ...spec, isolation: 'container' }, {}).HostConfig['Runtime']).toBeUndefined();
    expect(containerOptions({ ...spec, isolation: 'gvisor' }, {}).HostConfig['Runtime']).toBe('runsc');
  });

  it('an engine offers gVisor only with the runsc runtime, and a tier it lacks is refused, never run on another', () => {
    expect(isolationsOf(['runc'])).toEqual(['container']);
    expect(isolationsOf(['io.containerd.runc.v2', 'runc', 'runsc'])).toEqual(['container', 'gvisor']);
    expect(() => assertIsolation('container', ['runc'])).not.toThrow();
    let caught: unknown;
    try {
      assertIsolation('gvisor', ['runc']);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ISOLATION_UNAVAILABLE', retryable: true, details: { isolation: 'gvisor' } });
  });
});

describe('the pids limit on each tier', () => {
  const ulimit = (o: ReturnType<typeof containerOptions>, name: string) => (o.HostConfig['Ulimits'] as { Name: string; Soft: number; Hard: number }[]).find((u) => u.Name === name);
  it('the plain tier holds the job by the pids cgroup; gVisor by RLIMIT_NPROC in its kernel, the cgroup a fixed backstop for its own threads', () => {
    const plain = containerOptions({ ...spec, limits: { ...spec.limits, pids: 32 } }, {});
    expect(plain.HostConfig['PidsLimit']).toBe(32);
    expect(ulimit(plain, 'nproc')).toBeUndefined();
    const gvisor = containerOptions({ ...spec, isolation: 'gvisor', limits: { ...spec.limits, pids: 32 } }, {});
    expect(gvisor.HostConfig['PidsLimit']).toBe(GVISOR_HOST_PIDS);
    expect(ulimit(gvisor, 'nproc')).toEqual({ Name: 'nproc', Soft: 32, Hard: 32 });
    expect(() => assertEngineLimits(plain, { cpus: 2 })).not.toThrow();
    expect(() => assertEngineLimits(gvisor, { cpus: 2 })).not.toThrow();
  });

  it('a gVisor container without its nproc bound, or with the job’s pids as its cgroup, is refused before create', () => {
    const gvisor = containerOptions({ ...spec, isolation: 'gvisor' }, {});
    const without = structuredClone(gvisor);
    without.HostConfig['Ulimits'] = (without.HostConfig['Ulimits'] as { Name: string }[]).filter((u) => u.Name !== 'nproc');
    expect(() => assertEngineLimits(without, { cpus: 2 })).toThrow(/Ulimits.nproc/);
    const cgroupOnly = structuredClone(gvisor);
    cgroupOnly.HostConfig['PidsLimit'] = spec.limits.pids;
    expect(() => assertEngineLimits(cgroupOnly, { cpus: 2 })).toThrow(/PidsLimit/);
  });
});

describe('the warm pool on the gVisor tier', () => {
  const template = (isolation: 'container' | 'gvisor', limits = shell.profile.limits): PoolTemplate => ({
    name: isolation === 'gvisor' ? 'shell-gvisor' : 'shell',
    imageId: 'sha256:x',
    seccompJson: shell.seccompJson,
    profileDigest: 'd',
    limits,
    isolation,
    tools: false,
  });
  const lowered = { ...shell.profile.limits, memoryBytes: shell.profile.limits.memoryBytes / 2 };

  it('a job never takes a container of another tier', () => {
    expect(fitsTemplate(template('gvisor'), template('container'))).toEqual({ fits: false, reason: 'isolation' });
    expect(fitsTemplate(template('container'), template('gvisor'))).toEqual({ fits: false, reason: 'isolation' });
  });

  it('a gVisor job that lowers a limit runs cold (runsc cannot update a running container); a plain one takes a pooled container', () => {
    expect(fitsTemplate(template('container'), template('container', lowered))).toMatchObject({ fits: true });
    expect(fitsTemplate(template('gvisor'), template('gvisor', lowered))).toEqual({ fits: false, reason: "limit memoryBytes (a gVisor container's cannot change once it runs)" });
    expect(fitsTemplate(template('gvisor'), template('gvisor'))).toMatchObject({ fits: true });
  });

  it('a gVisor pool holds containers only when sized', () => {
    const sizes = { byPool: {} };
    expect(poolSize(sizes, 'shell', 3, 'container')).toBe(3);
    expect(poolSize(sizes, 'shell-gvisor', 3, 'gvisor')).toBe(0);
    expect(poolSize({ byPool: { 'shell-gvisor': 2 } }, 'shell-gvisor', 3, 'gvisor')).toBe(2);
    expect(poolSize({ default: 1, byPool: {} }, 'shell-gvisor', 3, 'gvisor')).toBe(1);
  });
});

describe('requireIsolation in the approval policy', () => {
  const policy = parseApprovalPolicy({
    version: 't',
    targets: {
      hardened: { target: { type: 'directory', path: '/srv/h' }, approval: { mode: 'auto' }, requireIsolation: 'gvisor' },
      plain: { target: { type: 'directory', path: '/srv/p' }, approval: { mode: 'auto' } },
    },
  });

  it('a target requiring gVisor refuses a plain-tier run and takes a gVisor one; a target without it takes both', () => {
    const hardened = policy.targets.get('hardened')!;
    const plain = policy.targets.get('plain')!;
    expect(isolationShortfall(hardened, 'container')).toMatch(/requires a run on the gvisor isolation tier .* ran on the container tier/);
    expect(isolationShortfall(hardened, 'gvisor')).toBeUndefined();
    expect(isolationShortfall(plain, 'container')).toBeUndefined();
    expect(isolationShortfall(plain, 'gvisor')).toBeUndefined();
  });

  it('an unknown tier is refused at start-up, naming the field', () => {
    expect(() => parseApprovalPolicy({ version: 't', targets: { x: { target: { type: 'directory', path: '/x' }, approval: { mode: 'auto' }, requireIsolation: 'vm' } } })).toThrow(
      /targets\.x\.requireIsolation/,
    );
  });
});

describe('the result', () => {
  it('states the tier; a result stored before tiers existed reads as the plain tier', async () => {
    const fixture = JSON.parse(await readFile(resolve(import.meta.dirname, 'fixtures/job-result.json'), 'utf8')) as Record<string, unknown>;
    expect(PromotableResultSchema.parse({ ...fixture, isolation: 'gvisor' }).isolation).toBe('gvisor');
    const { isolation: _isolation, ...old } = fixture;
    expect(PromotableResultSchema.parse(old).isolation).toBe('container');
  });
});

describe('the capability matrix', () => {
  it('states each profile’s tier', () => {
    const m = capabilityMatrix({
      profiles,
      tools: [],
      keys: [{ id: 'key_a', role: 'agent', owner: 'a', name: 'a', profiles: ['python-gvisor'], tools: [] }],
      imageDigests: new Map(),
      credential: { issuer: 'i', audience: ['a'], graceMs: 0 },
      startSlackMs: 0,
    });
    expect(Object.fromEntries(m.profiles.map((p) => [p.name, p.isolation]))).toEqual({
      node: 'container',
      'node-gvisor': 'gvisor',
      python: 'container',
      'python-gvisor': 'gvisor',
      shell: 'container',
      'shell-gvisor': 'gvisor',
    });
    // a key restricted to a gVisor profile reaches only that one
    expect(m.keys[0]!.reach).toEqual([{ profile: 'python-gvisor', tools: [] }]);
    expect(formatCapabilityMatrix(m)).toMatch(/python-gvisor {2}image \(not built\) {2}isolation gvisor/);
  });
});
