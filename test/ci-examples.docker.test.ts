/**
 * The CI examples, run the way a runner runs them: examples/github-actions.yml and examples/gitlab-ci.yml
 * are read with a YAML parser and their commands (the `run:` steps; `before_script:` and `script:`) run
 * as written in bash -e, against a real Airlock (API, worker, Redis, Docker), in a git repository laid
 * out as a user's project (a Python package, its tests/ and the agent's agent.patch, committed). The
 * CLI comes the examples' way: fetched from this repository (AIRLOCK_REPO: the checkout this file is
 * in) at a pinned commit (AIRLOCK_REF: its HEAD), `npm ci --omit=dev`, its bin/ on PATH. Runner
 * machinery (actions, artifact upload) is skipped by name; a step or key the test does not know fails it.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Airlock } from '../src/client/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const REPO = resolve(import.meta.dirname, '..');
const execFileAsync = promisify(execFile);
// installing the CLI (npm ci of the runtime dependencies): ~15 s here, more under load
const INSTALL_MS = 400_000;
const RUN_MS = 120_000;

/**
 * A runner's environment: no node_modules/.bin that npm put in front of the test process's PATH;
 * the machine's network settings (a runner's network works: without this machine's CA file npm
 * retried the registry for 2.5 min before it fell back to its cache).
 */
const NETWORK = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY', 'http_proxy', 'https_proxy', 'no_proxy'];
const RUNNER_ENV = {
  ...Object.fromEntries(NETWORK.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]]]))),
  HOME: process.env['HOME'] ?? '/root',
  PATH: (process.env['PATH'] ?? '/usr/bin:/bin')
    .split(':')
    .filter((p) => !p.includes('node_modules'))
    .join(':'),
  CI: 'true',
};

const BASE_FILES: Record<string, string> = {
  'README.md': '# calc\n',
  'calc/__init__.py': 'def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n',
  'tests/test_calc.py':
    'import unittest\n\nfrom calc import add, mul\n\n\nclass CalcTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_mul(self):\n        self.assertEqual(mul(4, 5), 20)\n',
};
/** The agent's changes; agent.patch is their `git diff`. */
const GOOD: Record<string, string> = {
  'calc/__init__.py': `${BASE_FILES['calc/__init__.py']}\n\ndef sub(a, b):\n    return a - b\n`,
  'tests/test_calc.py': `${BASE_FILES['tests/test_calc.py']!.replace('add, mul', 'add, mul, sub')}\n    def test_sub(self):\n        self.assertEqual(sub(5, 3), 2)\n`,
};
const BREAKS: Record<string, string> = { 'calc/__init__.py': BASE_FILES['calc/__init__.py']!.replace('a * b', 'a + b') };

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await execFileAsync('git', ['-c', 'user.name=agent', '-c', 'user.email=agent@example.test', '-c', 'init.defaultBranch=main', ...args], { cwd })).stdout;
}

/** A user's project, committed, with agent.patch (the diff of `change`) committed beside it. */
async function userProject(dir: string, change: Record<string, string>): Promise<string> {
  const write = async (files: Record<string, string>) => {
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
  };
  await write(BASE_FILES);
  await git(dir, 'init', '-q');
  await git(dir, 'add', '-A');
  await git(dir, 'commit', '-q', '-m', 'calc');
  await write(change);
  const patch = await git(dir, 'diff');
  await write(BASE_FILES);
  await writeFile(join(dir, 'agent.patch'), patch);
  await git(dir, 'add', 'agent.patch');
  await git(dir, 'commit', '-q', '-m', "the agent's patch");
  return dir;
}

interface Shell {
  code: number | null;
  output: string;
}

/** bash FLAGS FILE, the script written to a file as a runner does; stdout and stderr together, for failure messages. */
async function bash(flags: string[], script: string, cwd: string, env: Record<string, string>, scriptDir: string): Promise<Shell> {
  const file = join(scriptDir, `step-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
  await writeFile(file, script);
  return new Promise((done, fail) => {
    const child = spawn('bash', [...flags, file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, output: Buffer.concat(chunks).toString() }));
  });
}

const keysOf = (o: object | undefined) => Object.keys(o ?? {});
function onlyKnown(what: string, o: object | undefined, known: readonly string[]): void {
  const unknown = keysOf(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new Error(`${what} has ${unknown.join(', ')}, which test/ci-examples.docker.test.ts does not know: run it there or skip it by name`);
}

interface GithubStep {
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
}
interface GithubJob {
  env?: Record<string, string>;
  steps: GithubStep[];
}
/** actions are runner machinery: the test's project is the checkout, this Node is the set-up one, the uploaded files are checked. */
const GITHUB_ACTIONS = ['actions/checkout', 'actions/setup-node', 'actions/upload-artifact'];
const GITHUB_INSTALL = 'Airlock CLI';
const GITHUB_TEST = "Test the agent's patch in the sandbox";

/** The workflow's one job, every step known: the two `run:` steps by name, the actions skipped by name; and the uploaded paths. */
function githubJob(doc: { jobs?: Record<string, GithubJob> }): { job: GithubJob; uploads: string[] } {
  onlyKnown('jobs', doc.jobs, ['test-patch']);
  const job = doc.jobs?.['test-patch'];
  if (job === undefined) throw new Error('no job test-patch');
  onlyKnown('the job', job, ['runs-on', 'permissions', 'env', 'steps']);
  const runs: string[] = [];
  const uploads: string[] = [];
  for (const step of job.steps) {
    if (step.uses !== undefined) {
      onlyKnown(`step ${step.uses}`, step, ['name', 'uses', 'with', 'if']);
      const action = step.uses.split('@')[0]!;
      if (!GITHUB_ACTIONS.includes(action)) throw new Error(`an action the test does not know: ${step.uses}`);
      if (action === 'actions/upload-artifact') uploads.push(...(step.with?.['path'] ?? '').split('\n').filter((l) => l !== ''));
      continue;
    }
    onlyKnown(`step ${step.name}`, step, ['name', 'run', 'env']);
    if (step.name !== GITHUB_INSTALL && step.name !== GITHUB_TEST) throw new Error(`a run: step the test does not know: ${step.name ?? step.run}`);
    runs.push(step.name);
  }
  if (runs.join() !== [GITHUB_INSTALL, GITHUB_TEST].join()) throw new Error(`run: steps ${runs.join(', ')}: expected the CLI's install, then the test`);
  return { job, uploads };
}

interface GitlabJob {
  before_script?: string[];
  script: string[];
  artifacts: { when: string; reports: { junit: string }; paths: string[] };
}
/** The one job, every key known (after_script, services, variables… would be commands or environment the test does not give). */
function gitlabJob(doc: Record<string, GitlabJob>): GitlabJob {
  onlyKnown('the file', doc, ['airlock']);
  const job = doc['airlock'];
  if (job === undefined) throw new Error('no job airlock');
  onlyKnown('the job', job, ['image', 'stage', 'before_script', 'script', 'artifacts']);
  onlyKnown('artifacts', job.artifacts, ['when', 'reports', 'paths']);
  onlyKnown('artifacts.reports', job.artifacts.reports, ['junit']);
  return job;
}

describe('the CI examples, their commands as written', () => {
  let t: TestAirlock;
  let api: Airlock;
  let work: string;
  let secrets: { AIRLOCK_URL: string; AIRLOCK_KEY: string; AIRLOCK_REPO: string; AIRLOCK_REF: string };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'airlock-ci-examples-'));
    await mkdir(join(work, 'scripts'));
    const policy = { version: 'ci-examples-1', targets: { staging: { target: { type: 'directory', path: join(work, 'staging') }, approval: { mode: 'auto' } } } };
    await writeFile(join(work, 'policy.json'), JSON.stringify(policy));
    t = await startTestAirlock('ci-examples', { AIRLOCK_POOL_SIZE: '0', AIRLOCK_REVIEW_POLICY_FILE: join(work, 'policy.json') });
    const key = (await t.key('agent', 'ci-bot')).key;
    api = new Airlock({ url: t.baseUrl, key });
    // a pinned commit of the repository this test runs from, as a pipeline pins a release
    secrets = { AIRLOCK_URL: t.baseUrl, AIRLOCK_KEY: key, AIRLOCK_REPO: REPO, AIRLOCK_REF: (await git(REPO, 'rev-parse', 'HEAD')).trim() };
  }, 60_000);
  afterAll(async () => {
    await t?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  /** What a good run leaves: exit 0, the JUnit passed, the report, the promotion promoted (auto policy) with the note. */
  async function expectPromoted(r: Shell, project: string, note: string): Promise<void> {
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/test_sub .* ok/);
    expect(await readFile(join(project, 'junit.xml'), 'utf8')).toMatch(/<testsuites name="airlock" tests="1" failures="0" errors="0"/);
    const report = JSON.parse(await readFile(join(project, 'airlock-report.json'), 'utf8')) as Record<string, any>;
    expect(report).toMatchObject({ status: 'succeeded', exitCode: 0, profile: 'python', promotion: { target: 'staging', state: 'promoted' } });
    expect(await api.getPromotion(report['promotion'].id)).toMatchObject({ state: 'promoted', note });
    expect(r.output).not.toContain(secrets.AIRLOCK_KEY);
  }

  /** What a patch breaking a test leaves: unittest's exit 1 as the step's, the failing test in the JUnit, nothing promoted. */
  async function expectBroken(r: Shell, project: string): Promise<void> {
    expect(r.code, r.output).toBe(1);
    expect(await readFile(join(project, 'junit.xml'), 'utf8')).toMatch(/failures="1" errors="0"[\s\S]*FAIL: test_mul[\s\S]*AssertionError: 9 != 20/);
    const report = JSON.parse(await readFile(join(project, 'airlock-report.json'), 'utf8')) as Record<string, any>;
    expect(report).toMatchObject({ status: 'failed', exitCode: 1 });
    expect(report['promotion']).toBeUndefined();
  }

  describe('examples/github-actions.yml', () => {
    let job: GithubJob;
    let runnerTemp: string;
    let githubPath: string;
    const pathAdded: string[] = [];
    let uploads: string[];
    let doc: { jobs: Record<string, GithubJob> };

    /** `${{ … }}` as the runner expands it, from the secrets and variables the header comment asks for. */
    function expand(text: string): string {
      const values: Record<string, string> = {
        'secrets.AIRLOCK_URL': secrets.AIRLOCK_URL,
        'secrets.AIRLOCK_KEY': secrets.AIRLOCK_KEY,
        'vars.AIRLOCK_REPO': secrets.AIRLOCK_REPO,
        'vars.AIRLOCK_REF': secrets.AIRLOCK_REF,
        'github.event.number': '7',
      };
      return text.replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, e: string) => {
        if (values[e] === undefined) throw new Error(`an expression the test does not know: ${e}`);
        return values[e];
      });
    }
    const expandAll = (env: Record<string, string> | undefined) => Object.fromEntries(Object.entries(env ?? {}).map(([k, v]) => [k, expand(String(v))]));

    /** One `run:` step in `bash -e` (a runner's default shell), then GITHUB_PATH's lines go in front of PATH for the next steps. */
    async function runStep(name: string, workspace: string): Promise<Shell> {
      const step = job.steps.find((s) => s.name === name)!;
      const env = {
        ...RUNNER_ENV,
        PATH: [...pathAdded, RUNNER_ENV.PATH].join(':'),
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: workspace,
        GITHUB_PATH: githubPath,
        RUNNER_TEMP: runnerTemp,
        ...expandAll(job.env),
        ...expandAll(step.env),
      };
      await writeFile(githubPath, '');
      const r = await bash(['-e'], expand(step.run!), workspace, env, join(work, 'scripts'));
      const added = (await readFile(githubPath, 'utf8')).split('\n').filter((l) => l !== '');
      pathAdded.unshift(...added.reverse());
      return r;
    }

    beforeAll(async () => {
      doc = parse(await readFile(join(REPO, 'examples/github-actions.yml'), 'utf8')) as typeof doc;
      ({ job, uploads } = githubJob(doc));
      expect(uploads).toEqual(['junit.xml', 'airlock-report.json']);
      runnerTemp = await mkdtemp(join(work, 'runner-temp-'));
      githubPath = join(work, 'github-path');
    });

    it('a run: step, an action or a job key the test does not know fails it', () => {
      const withSteps = (steps: GithubStep[]) => ({ jobs: { 'test-patch': { ...job, steps } } });
      expect(() => githubJob(withSteps([...job.steps, { name: 'Lint', run: 'npm run lint' }]))).toThrow('a run: step the test does not know: Lint');
      expect(() => githubJob(withSteps([{ uses: 'some/action@v1' }, ...job.steps]))).toThrow('an action the test does not know');
      expect(() => githubJob(withSteps(job.steps.map((st) => (st.name === GITHUB_TEST ? { ...st, shell: 'sh' } : st))))).toThrow(/has shell/);
      expect(() => githubJob({ jobs: { ...doc.jobs, other: job } })).toThrow(/jobs has other/);
    });

    it(
      "installs the CLI from the pinned commit outside the workspace, then the agent's patch passes and is promoted",
      async () => {
        const project = await userProject(join(work, 'gh-good'), GOOD);
        const install = await runStep(GITHUB_INSTALL, project);
        expect(install.code, install.output).toBe(0);
        const cli = join(runnerTemp, 'airlock');
        expect(relative(project, cli)).toMatch(/^\.\./);
        expect((await git(cli, 'rev-parse', 'HEAD')).trim()).toBe(secrets.AIRLOCK_REF);
        expect(pathAdded).toEqual([join(runnerTemp, 'bin')]);
        await expectPromoted(await runStep(GITHUB_TEST, project), project, 'PR #7');
        for (const f of uploads) expect(existsSync(join(project, f)), f).toBe(true);
      },
      INSTALL_MS,
    );

    it(
      'a patch that breaks a test fails the step with exit 1 (the same runner, another workspace)',
      async () => {
        expect(pathAdded).toHaveLength(1);
        const project = await userProject(join(work, 'gh-breaks'), BREAKS);
        await expectBroken(await runStep(GITHUB_TEST, project), project);
        for (const f of uploads) expect(existsSync(join(project, f)), f).toBe(true);
      },
      RUN_MS,
    );
  });

  describe('examples/gitlab-ci.yml', () => {
    let job: GitlabJob;
    let doc: Record<string, GitlabJob>;
    let tmp: string;
    /** $AIRLOCK_CLI of the first run: the clone and the bin/ before_script put on PATH. */
    let cliHome: string | undefined;
    /** GitLab's variables for the job: the CI/CD variables the header comment asks for, and the merge request's. */
    const env = () => ({ ...RUNNER_ENV, ...secrets, GITLAB_CI: 'true', CI_MERGE_REQUEST_IID: '7', TMPDIR: tmp });
    // the runner's shell runs before_script and script in one session, stopping at the first failing line
    const runJob = (lines: string[], project: string, extra: Record<string, string> = {}) =>
      bash(['-e', '-o', 'pipefail'], lines.join('\n'), project, { ...env(), CI_PROJECT_DIR: project, ...extra }, join(work, 'scripts'));

    beforeAll(async () => {
      doc = parse(await readFile(join(REPO, 'examples/gitlab-ci.yml'), 'utf8')) as typeof doc;
      job = gitlabJob(doc);
      expect(job.artifacts.when).toBe('always');
      tmp = await mkdtemp(join(work, 'gitlab-tmp-'));
    });

    it('a job key the test does not know (commands it would not run) fails it', () => {
      expect(() => gitlabJob({ airlock: { ...job, after_script: ['echo'] } as GitlabJob })).toThrow(/the job has after_script/);
      expect(() => gitlabJob({ ...doc, lint: job })).toThrow(/the file has lint/);
    });

    it(
      "installs the CLI from the pinned commit outside the project, then the agent's patch passes and is promoted",
      async () => {
        const project = await userProject(join(work, 'gl-good'), GOOD);
        await expectPromoted(await runJob([...(job.before_script ?? []), ...job.script], project), project, 'MR !7');
        // the folder mktemp made (TMPDIR also holds what npm and tsx leave there)
        const made = (await readdir(tmp)).filter((d) => existsSync(join(tmp, d, 'airlock', '.git')));
        expect(made).toHaveLength(1);
        cliHome = join(tmp, made[0]!);
        expect((await git(join(cliHome, 'airlock'), 'rev-parse', 'HEAD')).trim()).toBe(secrets.AIRLOCK_REF);
        for (const f of [job.artifacts.reports.junit, ...job.artifacts.paths]) expect(existsSync(join(project, f)), f).toBe(true);
      },
      INSTALL_MS,
    );

    it(
      'a patch that breaks a test fails the job with exit 1 (script: again, on the PATH before_script made)',
      async () => {
        expect(cliHome).toBeDefined();
        const project = await userProject(join(work, 'gl-breaks'), BREAKS);
        await expectBroken(await runJob(job.script, project, { PATH: `${join(cliHome!, 'bin')}:${RUNNER_ENV.PATH}` }), project);
        for (const f of [job.artifacts.reports.junit, ...job.artifacts.paths]) expect(existsSync(join(project, f)), f).toBe(true);
      },
      RUN_MS,
    );
  });
});
