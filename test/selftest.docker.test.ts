/** `airlock selftest` against the live configuration, and against a deliberately weakened policy. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSelftest, SELFTEST_CASES } from '../src/root/index.js';
import { docker, testConfig } from './helpers/airlock.js';
import { uniquePrefix } from './helpers/redis.js';

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

describe('airlock selftest', () => {
  it('passes on the shipped configuration and prints a table', async () => {
    const lines: string[] = [];
    const rc = await runSelftest(testConfig(uniquePrefix('selftest')), (l) => lines.push(l));
    expect(lines.join('\n')).not.toMatch(/FAIL/);
    expect(rc).toBe(0);
    expect(lines[0]).toMatch(/^CASE\s+EXPECTED\s+OBSERVED\s+RESULT$/);
    expect(lines.at(-1)).toMatch(/^\d+ passed, 0 failed$/);
    // both tiers: every case again on gVisor where the engine has runsc, else a line saying it was not run
    const runsc = Object.keys(((await docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {}).includes('runsc');
    const rows = lines.filter((l) => / {2}pass$/.test(l));
    expect(rows.length).toBe(SELFTEST_CASES.length * (runsc ? 2 : 1));
    if (runsc) expect(rows.filter((l) => l.includes('(gvisor)'))).toHaveLength(SELFTEST_CASES.length);
    else expect(lines).toContain('the gvisor tier was not run: this engine cannot run it (npm run setup says why)');
  }, 120_000);

  it('fails, naming the case, when the policy no longer kills ptrace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-weak-profiles-'));
    tmp.push(dir);
    await cp(resolve(import.meta.dirname, '../profiles'), dir, { recursive: true });
    const policyPath = join(dir, 'seccomp/strict.json');
    const policy = JSON.parse(await readFile(policyPath, 'utf8')) as { syscalls: { names: string[] }[] };
    for (const rule of policy.syscalls) rule.names = rule.names.filter((n) => n !== 'ptrace');
    await writeFile(policyPath, JSON.stringify(policy));
    const lines: string[] = [];
    const rc = await runSelftest(testConfig(uniquePrefix('selftest'), { AIRLOCK_PROFILES_DIR: dir }), (l) => lines.push(l));
    expect(rc).toBe(1);
    expect(lines.join('\n')).toMatch(/FAIL ptrace is a tripwire: expected policy_violation, observed exited 0/);
  }, 120_000);
});
