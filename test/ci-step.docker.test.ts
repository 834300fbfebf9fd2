/**
 * `airlock run` (the CI step) against a real API, worker, Redis and Docker, run in-process with
 * its environment given explicitly. The examples' commands are read from
 * examples/patch-flow/README.md and run word for word (from a folder where `examples` is the
 * repository's); then one run per exit status.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../src/cli/index.js';
import { RUN_EXIT } from '../src/cli/run-command.js';
import { Airlock } from '../src/client/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const REPO = resolve(import.meta.dirname, '..');

/** The `npx airlock run …` lines of the example's README, as argv (they use no quoting). */
async function exampleCommands(): Promise<string[][]> {
  const text = await readFile(join(REPO, 'examples/patch-flow/README.md'), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.startsWith('npx airlock run '))
    .map((l) => l.trim().split(/\s+/).slice(2));
}

interface CliRun {
  code: number;
  out: string;
  err: string;
  stdout: string;
  stderr: string;
}

describe('airlock run (the CI step)', () => {
  let t: TestAirlock;
  let work: string;
  let env: Record<string, string>;
  let api: Airlock;
  const cwd = process.cwd();

  async function cli(argv: readonly string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
    const out: string[] = [];
    const err: string[] = [];
    const raw = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const code = await run(argv, {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      write: (stream, data) => raw[stream].push(Buffer.from(data)),
      env: { ...env, ...extraEnv },
    });
    return { code, out: out.join('\n'), err: err.join('\n'), stdout: Buffer.concat(raw.stdout).toString(), stderr: Buffer.concat(raw.stderr).toString() };
  }

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-ci-step-'));
    const policy = {
      version: 'ci-step-1',
      securityGroup: 'security',
      targets: { staging: { target: { type: 'directory', path: join(work, 'staging') }, approval: { mode: 'auto' } } },
    };
    await writeFile(join(work, 'policy.json'), JSON.stringify(policy));
    t = await startTestAirlock('ci-step', { AIRLOCK_POOL_SIZE: '0', AIRLOCK_REVIEW_POLICY_FILE: join(work, 'policy.json') });
    const key = (await t.key('agent', 'ci-bot')).key;
    env = { AIRLOCK_URL: t.baseUrl, AIRLOCK_KEY: key };
    api = new Airlock({ url: t.baseUrl, key });
    // the README's commands run from the repository root: here, a folder whose `examples` is the repository's
    await symlink(join(REPO, 'examples'), join(work, 'examples'));
    await mkdir(join(work, 'tree'));
    await writeFile(join(work, 'tree', 'main.py'), 'print("from the tree")\n');
    process.chdir(work);
  }, 60_000);
  afterAll(async () => {
    process.chdir(cwd);
    await t?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  describe('examples/patch-flow, word for word', () => {
    let commands: string[][];
    beforeAll(async () => {
      commands = await exampleCommands();
      expect(commands).toHaveLength(6);
    });
    const junit = () => readFile('junit.xml', 'utf8');
    const report = async () => JSON.parse(await readFile('report.json', 'utf8')) as Record<string, any>;

    it('the good patch passes in Python: exit 0, JUnit passed, the report with its digests', async () => {
      const r = await cli(commands[0]!);
      expect(r.code, r.err).toBe(0);
      expect(r.stderr).toMatch(/test_sub .* ok/);
      expect(await junit()).toMatch(/<testsuites name="airlock" tests="1" failures="0" errors="0"/);
      const rep = await report();
      expect(rep).toMatchObject({ status: 'succeeded', exitCode: 0, profile: 'python' });
      for (const d of ['code', 'image', 'profile', 'seccomp']) expect(rep['digests'][d]).toMatch(/\S{16,}/);
      expect(r.err).toMatch(/job job_\S+ succeeded \(exit 0\)/);
    }, 90_000);

    it('the good patch passes in Node', async () => {
      const r = await cli(commands[1]!);
      expect(r.code, r.err + r.stdout).toBe(0);
      expect(await junit()).toContain('failures="0" errors="0"');
    }, 90_000);

    it("a patch that breaks a test: the runner's exit code, the failing test's output in the JUnit failure", async () => {
      const r = await cli(commands[2]!);
      expect(r.code).toBe(1);
      const xml = await junit();
      expect(xml).toContain('failures="1" errors="0"');
      expect(xml).toMatch(/<failure type="failed" message="exit code 1">[\s\S]*FAIL: test_mul[\s\S]*AssertionError: 16 != 20/);
      expect(r.stderr).toContain('AssertionError: 16 != 20');
    }, 90_000);

    it('a patch that breaks a Node test: node --test exits 1', async () => {
      const r = await cli(commands[3]!);
      expect(r.code).toBe(1);
      expect(await junit()).toMatch(/<failure[\s\S]*mul/);
    }, 90_000);

    it("a patch that does not apply: patch_failed's code, the patch tool's message", async () => {
      const r = await cli(commands[4]!);
      expect(r.code).toBe(RUN_EXIT.patch_failed);
      expect(r.err).toMatch(/patch_failed in .*: the patch did not apply/);
      expect(r.err).toMatch(/^patch: .*FAILED/m);
      const xml = await junit();
      expect(xml).toMatch(/<error type="patch_failed"[^>]*>[\s\S]*(FAILED|hunk|Hunk)/);
    }, 90_000);

    it('a hostile patch: flagged ci_config_change (high); its promotion waits for the security group', async () => {
      const r = await cli(commands[5]!);
      expect(r.code).toBe(0);
      const rep = await report();
      expect(rep['findings']).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'ci_config_change', severity: 'high' })]));
      expect(rep['promotion']).toMatchObject({ target: 'staging', state: 'pending_review' });
      const p = await api.getPromotion(rep['promotion'].id);
      expect(p.requirement.requireGroup).toBe('security');
      expect(r.err).toContain('ci_config_change');
    }, 90_000);
  });

  describe('what a pipeline keeps', () => {
    const own = '<?xml version="1.0"?>\n<testsuites><testsuite name="own" tests="1"><testcase name="t"/></testsuite></testsuites>\n';
    const writer = (xml: string) =>
      `import os\nos.makedirs("reports", exist_ok=True)\nos.makedirs("out", exist_ok=True)\nopen("reports/junit.xml", "w").write(${JSON.stringify(xml)})\nopen("out/result.txt", "w").write("42\\n")\n`;
    const argv = (code: string, junit: string, dir: string) => [
      'run',
      '--dir',
      'tree',
      '--runtime',
      'python',
      '--outputs',
      'reports/*.xml',
      '--outputs',
      'out/*',
      '--junit',
      junit,
      '--artifacts',
      dir,
      '--',
      'python3',
      '-c',
      code,
    ];

    it("passes the command's own JUnit through and downloads the artifacts, digest-checked", async () => {
      const r = await cli(argv(writer(own), join(work, 'own.xml'), join(work, 'artifacts')));
      expect(r.code, r.err).toBe(0);
      expect(await readFile(join(work, 'own.xml'), 'utf8')).toBe(own);
      expect(await readFile(join(work, 'artifacts', 'out', 'result.txt'), 'utf8')).toBe('42\n');
      expect(await readFile(join(work, 'artifacts', 'reports', 'junit.xml'), 'utf8')).toBe(own);
      expect(r.err).toMatch(/2 artifact\(s\) written .* \(sha256 checked\)/);
    }, 60_000);

    it("writes Airlock's own JUnit when the command's file is not JUnit XML", async () => {
      const r = await cli(argv(writer('<testsuites><testsuite>'), join(work, 'fallback.xml'), join(work, 'artifacts2')));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(/is not a JUnit XML \(<testsuite> is never closed\)/);
      expect(await readFile(join(work, 'fallback.xml'), 'utf8')).toMatch(/<testsuites name="airlock" tests="1" failures="0" errors="0"/);
    }, 60_000);
  });

  describe('exit codes, one per status', () => {
    const py = (code: string, ...flags: string[]) => ['run', '--dir', 'tree', '--runtime', 'python', ...flags, '--', 'python3', '-c', code];

    it('failed: the program own exit code', async () => {
      const r = await cli(py('import sys; sys.exit(3)'));
      expect(r.code, r.err).toBe(3);
    }, 60_000);

    it('--prefix marks each line with its stream, the last one without its newline too', async () => {
      const r = await cli(py('import sys\nprint("a")\nprint("b", file=sys.stderr)\nsys.stdout.write("tail")', '--prefix'));
      expect(r.code, r.err).toBe(0);
      expect(r.stdout).toBe('[stdout] a\n[stdout] tail\n');
      expect(r.stderr).toBe('[stderr] b\n');
    }, 60_000);

    it("failed with a code in Airlock's range: 1", async () => {
      expect((await cli(py('import sys; sys.exit(84)'))).code).toBe(1);
    }, 60_000);

    it('timeout', async () => {
      const r = await cli(py('import time; print("started", flush=True); time.sleep(30)', '--timeout-ms', '1000'));
      expect(r.code).toBe(RUN_EXIT.timeout);
      expect(r.stdout).toBe('started\n');
    }, 60_000);

    it('oom', async () => {
      expect((await cli(py('a = []\nwhile True:\n    a.append(bytearray(8 * 1024 * 1024))'))).code).toBe(RUN_EXIT.oom);
    }, 60_000);

    it('output_limit, and the summary says the output was truncated', async () => {
      const r = await cli(['run', '--dir', 'tree', '--runtime', 'shell', '--quiet', '--', 'yes']);
      expect(r.code).toBe(RUN_EXIT.output_limit);
      expect(r.stdout).toBe('');
      expect(r.err).toMatch(/output_limit.*output truncated/);
    }, 60_000);

    it('policy_violation', async () => {
      const code = 'import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.ptrace(0, 0, 0, 0)\n';
      expect((await cli(py(code))).code).toBe(RUN_EXIT.policy_violation);
    }, 60_000);

    it('killed: cancelled while it runs', async () => {
      let jobId: string | undefined;
      let cancelled: Promise<unknown> | undefined;
      const code = await run(py('import time; print("up", flush=True); time.sleep(30)'), {
        out: () => undefined,
        err: (line) => (jobId ??= /job (job_\S+) queued/.exec(line)?.[1]),
        // the program is running once its first line arrives: cancel it then
        write: () => {
          cancelled ??= api.cancelJob(jobId!);
        },
        env,
      });
      await cancelled;
      expect(code).toBe(RUN_EXIT.killed);
    }, 60_000);

    it('usage: a missing --runtime, before anything is sent', async () => {
      const r = await cli(['run', '--', 'true']);
      expect(r.code).toBe(RUN_EXIT.usage);
      expect(r.err).toContain('--runtime');
    });

    it('API refused: an unknown profile is 81 with the API code', async () => {
      const r = await cli(['run', '--dir', 'tree', '--profile', 'nosuch', '--', 'true']);
      expect(r.code).toBe(RUN_EXIT.apiRefused);
      expect(r.err).toContain('PROFILE_NOT_FOUND');
    });

    it('API unavailable: nothing answers', async () => {
      const r = await cli(['run', '--dir', 'tree', '--runtime', 'python', '--url', 'http://127.0.0.1:9', '--', 'true']);
      expect(r.code).toBe(RUN_EXIT.apiUnavailable);
      expect(r.err).toContain('Airlock is unavailable');
      expect(r.err).not.toContain(env['AIRLOCK_KEY']);
    });
  });
});
