/**
 * The review console and operations view in real headless Chromium (Debian's package, driven by
 * playwright-core) against a real Airlock (API and worker, real Redis and Docker engine). The
 * promotions' jobs are written to Redis the way the worker writes them (review rules need no
 * container); the operations view shows real jobs run by the worker. Screenshots of the
 * promotion page and the operations view are saved under test-output/console/.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Browser, Page, Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactDigest, FileArtifactStore } from '../src/artifacts/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { printable } from '../src/cli/terminal-text.js';
import { loadProfiles } from '../src/profiles/index.js';
import { RedisJobStore } from '../src/queue/job-store.js';
import type { JobInput, JobResult } from '../src/queue/job-types.js';
import { newId } from '../src/shared/index.js';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { launchBrowser, screenshotPath } from './helpers/browser.js';
import { testRedis } from './helpers/redis.js';

/** A new file and a change: what the reviewer reads as a diff. */
const PATCH = [
  'diff --git a/src/greet.py b/src/greet.py',
  'new file mode 100644',
  '--- /dev/null',
  '+++ b/src/greet.py',
  '@@ -0,0 +1,4 @@',
  '+def greet(name):',
  '+    """Say hello."""',
  "+    return f'hello {name}'",
  '+',
  '',
].join('\n');

/** Everything a hostile job can put on the reviewer's screen. */
const XSS = [
  '<script>window.__xss = "script"</script>',
  '<img src=x onerror="window.__xss = \'img\'">',
  '<a href="javascript:window.__xss=\'link\'">click me</a>',
  '\u001b[31mred ANSI\u001b[0m \u001b]8;;javascript:alert(1)\u0007osc link\u001b]8;;\u0007',
  'bidi: \u202eexe.txt\u202c and \u2066isolate\u2069',
  '</pre><iframe src="javascript:parent.__xss=\'iframe\'"></iframe>',
].join('\n');

describe('console (browser)', () => {
  let dir: string;
  let staging: string;
  let t: TestAirlock;
  let redis: Redis;
  let jobs: RedisJobStore;
  let artifacts: FileArtifactStore;
  let browser: Browser;
  let alice: CreatedApiKey;
  let aliceReviewer: CreatedApiKey;
  let bob: CreatedApiKey;
  let admin: CreatedApiKey;

  /** A succeeded job of alice's with a patch and one artifact, written as the worker would, and its promotion to staging. */
  async function promotion(opts: { stdout: string; argv?: string[]; note?: string; artifactPath?: string }): Promise<{ id: string; jobId: string; artifactDigest: string }> {
    const jobId = newId('job');
    const buf = Buffer.from('built output\n', 'utf8');
    const refs = [{ path: opts.artifactPath ?? 'dist/greet.txt', bytes: buf.length, sha256: await artifacts.put(buf) }];
    const profile = loadProfiles(t.config.profilesDir).get('python');
    if (profile === undefined) throw new Error('the python profile is missing');
    const input: JobInput = {
      profile: 'python',
      argv: opts.argv ?? ['python', '-m', 'pytest', '-q'],
      files: [{ path: 'test_greet.py', content: 'def test(): pass\n', encoding: 'utf8' }],
      stdin: '',
      env: {},
      patch: PATCH,
      limits: profile.profile.limits,
    };
    const result: JobResult = {
      exitCode: 0,
      stdout: opts.stdout,
      stderr: 'warning: 1 deprecation\n',
      stdoutEncoding: 'utf8',
      stderrEncoding: 'utf8',
      stdoutBytes: Buffer.byteLength(opts.stdout),
      stderrBytes: 24,
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 1234,
      imageDigest: `sha256:${'a'.repeat(64)}`,
      profile: 'python',
      profileDigest: profile.digest,
      seccompDigest: profile.seccompDigest,
      isolation: 'container',
      artifacts: refs,
      artifactDigest: artifactDigest(refs),
      artifactsTarSha256: null,
      artifactsRejected: [],
      codeDigest: 'c'.repeat(64),
      findings: [{ kind: 'credential_file_read', severity: 'medium', message: 'the tests read ~/.netrc', detector: 'credential-theft', class: 'credential_theft' }],
    };
    await jobs.create({ id: jobId, ownerKeyId: alice.id, profile: 'python', createdAt: new Date().toISOString() }, input);
    await jobs.finish(jobId, 'succeeded', { result, finishedAt: new Date().toISOString() });
    const res = await t.request('POST', `/v1/jobs/${jobId}/promotions`, alice.key, { target: 'staging', note: opts.note ?? 'greeting helper' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { id: res.body.id, jobId, artifactDigest: res.body.artifactDigest };
  }

  /** A fresh tab (its own sessionStorage) on the console, signed in with this key; `answer`: the console page's HTTP answer. */
  async function signedIn(key: CreatedApiKey, hash = ''): Promise<{ page: Page; answer: Response | null }> {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const answer = await page.goto(`${t.baseUrl}/console/${hash}`);
    await page.fill('#api-key', key.key);
    await page.click('[data-testid=sign-in]');
    await page.waitForSelector('[data-testid=sign-out]');
    return { page, answer };
  }

  async function waitForState(id: string, state: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await t.request('GET', `/v1/promotions/${id}`, admin.key);
      if (res.body.state === state) return;
      if (Date.now() > deadline) throw new Error(`promotion ${id} is ${res.body.state}, not ${state}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-console-'));
    staging = join(dir, 'staging');
    const policyFile = join(dir, 'policy.json');
    await writeFile(
      policyFile,
      JSON.stringify({ version: 'c1', targets: { staging: { target: { type: 'directory', path: staging }, approval: { mode: 'review', approvals: 1, groups: ['platform'] } } } }),
    );
    t = await startTestAirlock('console', { AIRLOCK_REVIEW_POLICY_FILE: policyFile, AIRLOCK_POOL_SIZE: '0,python=1', AIRLOCK_REVIEW_SWEEP_MS: '200' });
    redis = testRedis();
    jobs = new RedisJobStore(redis, t.prefix, 3600);
    artifacts = new FileArtifactStore(join(t.config.dataDir, 'artifacts'));
    alice = await t.key('agent', 'alice');
    aliceReviewer = await t.key('reviewer', 'alice', ['platform']);
    bob = await t.key('reviewer', 'bob', ['platform']);
    admin = await t.key('admin', 'root');
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await t?.airlock.review?.settled();
    await t?.stop();
    redis?.disconnect();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a reviewer signs in, reads the diff and the findings, approves with a reason, and the promotion is promoted', async () => {
    const p = await promotion({ stdout: '....\n4 passed in 0.12s\n' });
    const { page } = await signedIn(bob);
    // the list of what bob may decide
    await page.waitForSelector(`[data-testid=promotions] >> text=${p.id}`);
    await page.click(`text=${p.id} >> nth=0`);
    await page.waitForSelector('[data-testid=diff]');
    expect(await page.textContent('[data-testid=diff]')).toContain("+    return f'hello {name}'");
    expect(await page.textContent('[data-testid=findings]')).toContain('the tests read ~/.netrc');
    expect(await page.textContent('[data-testid=digest]')).toBe(p.artifactDigest);
    expect(await page.textContent('[data-testid=quorum]')).toBe('0 of 1 approvals (distinct principals)');
    await page.screenshot({ path: await screenshotPath('console', 'promotion'), fullPage: true });

    // no reason: nothing is sent
    await page.click('[data-testid=approve]');
    expect(await page.textContent('[data-testid=decide-status]')).toBe('A reason is mandatory.');
    await page.fill('#reason', 'read the diff: a pure function, tests pass');
    await page.click('[data-testid=approve]');
    await page.waitForSelector('[data-testid=decide-status].ok');
    await waitForState(p.id, 'promoted');
    expect(await readFile(join(staging, 'current', 'dist/greet.txt'), 'utf8')).toBe('built output\n');
    await page.waitForSelector('[data-testid=state] >> text=promoted');
    const decision = await t.request('GET', `/v1/promotions/${p.id}`, admin.key);
    expect(decision.body.decisions).toMatchObject([
      { principal: 'bob', decision: 'approve', reason: 'read the diff: a pure function, tests pass', artifactDigest: p.artifactDigest },
    ]);
    await page.close();
  });

  it('the submitter (agent or reviewer key) and a non-reviewer see the decide buttons disabled, with the reason', async () => {
    const p = await promotion({ stdout: 'ok\n' });
    for (const [key, why] of [
      [alice, 'SELF_APPROVAL'],
      [aliceReviewer, 'principal alice submitted or requested this promotion and cannot decide it'],
      [admin, 'decisions are taken by reviewer keys (your key has admin)'],
    ] as const) {
      const { page } = await signedIn(key, `#/promotions/${p.id}`);
      await page.waitForSelector('[data-testid=decide-status].refused');
      expect(await page.isDisabled('[data-testid=approve]')).toBe(true);
      expect(await page.isDisabled('[data-testid=reject]')).toBe(true);
      const text = await page.textContent('[data-testid=decide-status]');
      expect(text).toContain('You cannot decide this promotion');
      if (why !== 'SELF_APPROVAL') expect(text).toContain(why);
      else expect(text).toContain('alice');
      await page.close();
    }
    // and the server agrees: nothing was decided
    const after = await t.request('GET', `/v1/promotions/${p.id}`, admin.key);
    expect(after.body.decisions).toEqual([]);
  });

  it('a decision on a digest other than the one bound is refused and explained', async () => {
    const p = await promotion({ stdout: 'ok\n' });
    const { page } = await signedIn(bob, `#/promotions/${p.id}`);
    await page.waitForSelector('[data-testid=decide]');
    // the page was drawn for another artifact (what a reviewer holding a stale page sends)
    await page.$eval('[data-testid=decide]', (el, other) => ((el as unknown as { dataset: Record<string, string> }).dataset['digest'] = other), `sha256:${'0'.repeat(64)}`);
    await page.fill('#reason', 'looked fine');
    await page.click('[data-testid=approve]');
    await page.waitForSelector('[data-testid=decide-status].refused');
    const text = await page.textContent('[data-testid=decide-status]');
    expect(text).toContain(`is not what this promotion is bound to now (${p.artifactDigest})`);
    expect((await t.request('GET', `/v1/promotions/${p.id}`, admin.key)).body.state).toBe('pending_review');
    await page.close();
  });

  it('hostile job output renders as text: no script runs, control and bidi characters are shown, the CSP is strict', async () => {
    const p = await promotion({
      stdout: `${XSS}\n`,
      argv: ['python', '-c', '<script>window.__xss="argv"</script>'],
      note: '<img src=x onerror="window.__xss=\'note\'">',
      artifactPath: 'dist/<b>x</b>.txt',
    });
    const { page, answer } = await signedIn(bob, `#/promotions/${p.id}`);
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const csp = answer?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(answer?.headers()['x-frame-options']).toBe('DENY');
    await page.waitForSelector('[data-testid=stdout]');
    const stdout = (await page.textContent('[data-testid=stdout]')) ?? '';
    expect(stdout).toContain('<script>window.__xss = "script"</script>');
    expect(stdout).toContain('<img src=x onerror=');
    expect(stdout).toContain('\\x1b[31mred ANSI\\x1b[0m');
    expect(stdout).toContain('bidi: \\u202eexe.txt\\u202c and \\u2066isolate\\u2069');
    expect([...stdout].filter((c) => c === '\u001b' || c === '\u202e' || c === '\u2066')).toEqual([]);
    // nothing of it became markup: no script but ours, no image, frame or javascript: link
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(await page.$$eval('script', (s) => s.map((e) => e.getAttribute('src')))).toEqual(['/console/main.js']);
    expect(await page.$$('main img, main iframe')).toHaveLength(0);
    expect(await page.$$eval('a', (as) => as.map((a) => a.getAttribute('href') ?? '').filter((h) => !h.startsWith('#/')))).toEqual([]);
    expect(await page.textContent('main')).toContain('-c \'<script>window.__xss="argv"</script>\'');
    expect(await page.textContent('main')).toContain('dist/<b>x</b>.txt');
    // the console's rule for untrusted text is the CLI's (newlines aside: the console draws them as lines)
    const sample = 'a\u001b[31mb \u202eevil\u202c \u2066x\u2069 \u0000\u009b\u200f tab\tend';
    expect(await page.evaluate(`import('/console/dom.js').then((m) => m.visible(${JSON.stringify(sample)}))`)).toBe(printable(sample));
    // an inline script injected anyway is refused by the policy
    await page.evaluate("const s = document.createElement('script'); s.textContent = 'window.__xss = 1'; document.body.appendChild(s);");
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(violations.length).toBeGreaterThan(0);
    await page.screenshot({ path: await screenshotPath('console', 'promotion-hostile-output'), fullPage: true });
    await page.close();
  });

  it('the operations view shows jobs, the queue, workers and pools, tool calls, refusals and the audit chain', async () => {
    await runJob(t, alice.key, { runtime: 'python', files: [{ path: 'main.py', content: 'print(1)' }] });
    await runJob(t, alice.key, { runtime: 'python', files: [{ path: 'main.py', content: 'import sys; sys.exit(3)' }] });
    expect((await t.request('GET', '/v1/audit', bob.key)).status).toBe(403); // a refused request to show
    const { page } = await signedIn(admin, '#/operations');
    await page.waitForSelector('[data-testid=jobs-chart] .bar');
    expect(await page.textContent('main')).toContain('succeeded 1');
    expect(await page.textContent('main')).toContain('failed 1');
    expect(await page.textContent('[data-testid=workers]')).toContain('engine ok');
    expect(await page.textContent('[data-testid=refused]')).toContain('FORBIDDEN');
    await page.click('[data-testid=verify]');
    await page.waitForSelector('.card .status.ok');
    await page.screenshot({ path: await screenshotPath('console', 'operations'), fullPage: true });
    // each figure links to its audit records
    await page.click('text=succeeded 1');
    await page.waitForSelector('[data-testid=audit]');
    expect(await page.textContent('[data-testid=audit]')).toContain('job.finish');
    await page.close();
  });
});
