/**
 * Limits at the API (issue 10, breach 1 and "client mistakes reported as our failures"): every
 * limit field at 0, the smallest positive float, just under the engine's floor, the floor, the
 * ceiling and just over it, over the live HTTP API (API role only: accepted jobs stay queued).
 * A profile at the table's ceilings makes the ceiling itself acceptable. Refusals are 400 with
 * `{ field, min, max }`.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMIT_NAMES, type Limits } from '../src/profiles/index.js';
import { LIMIT_RANGES } from '../src/shared/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const MiB = 1024 * 1024;
let t: TestAirlock;
let key: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'airlock-limits-api-'));
  await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
  const shell = JSON.parse(await readFile(join(dir, 'profiles/shell.json'), 'utf8')) as Record<string, unknown>;
  const ceilings = Object.fromEntries(LIMIT_NAMES.map((n) => [n, LIMIT_RANGES[n].max]));
  await writeFile(join(dir, 'profiles/wide.json'), JSON.stringify({ ...shell, name: 'wide', limits: ceilings }));
  t = await startTestAirlock('limits-api', { AIRLOCK_ROLE: 'api', AIRLOCK_PROFILES_DIR: join(dir, 'profiles') });
  key = (await t.key('agent')).key;
});
afterAll(async () => {
  await t?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const submit = (body: Record<string, unknown>) => t.request('POST', '/v1/jobs', key, { profile: 'wide', command: 'true', ...body });

type Expect = 'accepted' | 'range' | 'integer';
/** The cells of one field: value → the answer it must get. */
function cells(name: keyof Limits): [string, number, Expect][] {
  const r = LIMIT_RANGES[name];
  const integer = r.integer;
  const under = integer ? r.min - 1 : r.min - 1e-6;
  return [
    ['0', 0, 'range'],
    ['Number.MIN_VALUE', Number.MIN_VALUE, integer ? 'integer' : 'range'],
    ['just under the floor', under, 'range'],
    ['the floor', r.min, 'accepted'],
    ['a fraction above the floor', r.min + 0.5, integer ? 'integer' : 'accepted'],
    ['the ceiling', r.max, 'accepted'],
    ['just over the ceiling', integer ? r.max + 1 : r.max + 1e-6, 'range'],
    ['-1', -1, 'range'],
  ];
}

describe.each(LIMIT_NAMES.map((n) => [n]))('limits.%s', (name) => {
  it.each(cells(name))('at %s (%d)', async (_, value, expected) => {
    const res = await submit({ limits: { [name]: value } });
    if (expected === 'accepted') {
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 202, body: { status: 'queued' } });
    } else if (expected === 'range') {
      const r = LIMIT_RANGES[name];
      expect({ status: res.status, error: res.body.error }).toEqual({
        status: 400,
        error: { code: 'LIMIT_OUT_OF_RANGE', message: expect.stringContaining(`limits.${name}: must be between ${r.min} and ${r.max}`), field: name, min: r.min, max: r.max },
      });
    } else {
      // a fraction where the engine needs an integer is refused, never rounded
      expect({ status: res.status, code: res.body.error?.code, field: res.body.error?.field }).toEqual({ status: 400, code: 'INVALID_REQUEST', field: `limits.${name}` });
      expect(res.body.error.message).toMatch(/expected int/);
    }
  });
});

describe('the top-level timeoutMs follows the same range', () => {
  it.each([
    [0, 400],
    [1, 202],
    [3_600_000, 202],
    [3_600_001, 400],
  ])('timeoutMs %d → %d', async (timeoutMs, status) => {
    const res = await submit({ timeoutMs });
    expect(res.status).toBe(status);
    if (status === 400) expect(res.body.error).toMatchObject({ code: 'LIMIT_OUT_OF_RANGE', field: 'timeoutMs', min: 1, max: 3_600_000 });
  });
});

describe('the reported breach', () => {
  it('cpus 1e-10 (NanoCpus 0: no CPU limit at all) and cpus 0.005 (a start failure naming a host path) are refused at submit', async () => {
    for (const cpus of [1e-10, 1e-6, 0.005, 0.009999]) {
      const res = await t.request('POST', '/v1/jobs', key, { runtime: 'shell', command: 'true', limits: { cpus } });
      expect({ status: res.status, error: res.body.error }).toMatchObject({ status: 400, error: { code: 'LIMIT_OUT_OF_RANGE', field: 'cpus', min: 0.01, max: 64 } });
    }
  });

  it('a number too large for JSON (1e400 parses to Infinity) is a type error, not a limit', async () => {
    const res = await fetch(`${t.baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: '{"runtime":"shell","command":"true","limits":{"memoryBytes":1e400}}',
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: 'INVALID_REQUEST', field: 'limits.memoryBytes' });
  });
});

describe('a limit too small for the job’s own input is refused at submit (it ended as an infrastructure error)', () => {
  const sized = (bytes: number, name: string) => ({ path: name, content: Buffer.alloc(bytes, 'a').toString('base64'), encoding: 'base64' });
  // 4096 + 4097 + 10000 bytes and 5000 bytes of stdin: 1 + 2 + 3 + 2 pages in /work
  const input = { runtime: 'shell', command: 'true', files: [sized(4096, 'a'), sized(4097, 'b'), sized(10000, 'd/e')], stdin: 'x'.repeat(5000) };
  const needed = 8 * 4096;

  it('scratchBytes: the input needs N bytes in whole pages; one byte less is refused naming the field and the range', async () => {
    const ok = await t.request('POST', '/v1/jobs', key, { ...input, limits: { scratchBytes: needed } });
    expect(ok.status).toBe(202);
    const res = await t.request('POST', '/v1/jobs', key, { ...input, limits: { scratchBytes: needed - 1 } });
    expect({ status: res.status, error: res.body.error }).toEqual({
      status: 400,
      error: { code: 'LIMIT_OUT_OF_RANGE', message: expect.stringContaining('scratchBytes 32767 is too small'), field: 'scratchBytes', min: needed, max: 64 * MiB },
    });
  });

  it('fileSizeBytes below the largest input file (tar died of SIGXFSZ)', async () => {
    const res = await t.request('POST', '/v1/jobs', key, { ...input, limits: { fileSizeBytes: 9999 } });
    expect({ status: res.status, error: res.body.error }).toMatchObject({ status: 400, error: { code: 'LIMIT_OUT_OF_RANGE', field: 'fileSizeBytes', min: 10000 } });
  });

  it('memoryBytes below the input’s pages plus the launcher (tar was OOM-killed)', async () => {
    const big = { runtime: 'shell', command: 'true', files: [0, 1, 2, 3].map((i) => sized(MiB, `f${i}`)) };
    const res = await t.request('POST', '/v1/jobs', key, { ...big, limits: { memoryBytes: 6 * MiB } });
    expect({ status: res.status, error: res.body.error }).toMatchObject({ status: 400, error: { code: 'LIMIT_OUT_OF_RANGE', field: 'memoryBytes', min: 7 * MiB, max: 256 * MiB } });
  });
});
