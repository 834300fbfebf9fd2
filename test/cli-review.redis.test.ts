/**
 * `airlock review …` and `airlock promotion wait` against a real API (role api, real Redis,
 * a directory staging target in a temp dir). There is no worker: finished jobs are written
 * to Redis the way the worker writes them, with their artifact bytes in the artifact store.
 * The CLI runs in-process through run(), pointed at the server with --url and --key.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifactDigest, FileArtifactStore } from '../src/artifacts/index.js';
import { run } from '../src/cli/index.js';
import { WAIT_EXIT } from '../src/cli/review-commands.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { RedisJobStore } from '../src/queue/job-store.js';
import type { JobInput, JobResult } from '../src/queue/job-types.js';
import { newId } from '../src/shared/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[]; text: string; errText: string }> {
  const out: string[] = [];
  const err: string[] = [];
  // the server comes from --url and --key; no variable of the test process reaches the CLI
  const code = await run(argv, { out: (s) => out.push(...s.split('\n')), err: (s) => err.push(...s.split('\n')), env: {} });
  return { code, out, err, text: out.join('\n'), errText: err.join('\n') };
}

describe('airlock review / promotion wait (CLI)', () => {
  let dir: string;
  let staging: string;
  let t: TestAirlock;
  let redis: Redis;
  let jobs: RedisJobStore;
  let artifacts: FileArtifactStore;
  let alice: CreatedApiKey;
  let bob: CreatedApiKey;
  let admin: CreatedApiKey;
  const as = (key: CreatedApiKey) => ['--url', t.baseUrl, '--key', key.key];

  /** A succeeded job of alice's with one artifact, written as the worker would, then a promotion of it to staging. */
  async function promotion(content: string): Promise<{ id: string; jobId: string; artifactDigest: string; path: string }> {
    const jobId = newId('job');
    const path = 'out/app.txt';
    const buf = Buffer.from(content, 'utf8');
    const sha256 = await artifacts.put(buf);
    const refs = [{ path, bytes: buf.length, sha256 }];
    const profile = loadProfiles(t.config.profilesDir).get('python');
    if (profile === undefined) throw new Error('the python profile is missing');
    const input: JobInput = {
      profile: 'python',
      argv: ['python', 'main.py', '--greeting', "it's me"],
      files: [{ path: 'main.py', content: 'print("hi")\n', encoding: 'utf8' }],
      stdin: '',
      env: {},
      limits: profile.profile.limits,
    };
    const lines = Array.from({ length: 50 }, (_, i) => `line ${i + 1}`);
    const result: JobResult = {
      exitCode: 0,
      stdout: `\u001b[2Jcleared\n${lines.join('\n')}\n`,
      stderr: Buffer.from('warning: from base64\n').toString('base64'),
      stdoutEncoding: 'utf8',
      stderrEncoding: 'base64',
      stdoutBytes: 100,
      stderrBytes: 21,
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 42,
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
      findings: [],
    };
    const createdAt = new Date().toISOString();
    await jobs.create({ id: jobId, ownerKeyId: alice.id, profile: 'python', createdAt }, input);
    await jobs.finish(jobId, 'succeeded', { result, finishedAt: new Date().toISOString() });
    const res = await t.request('POST', `/v1/jobs/${jobId}/promotions`, alice.key, { target: 'staging', note: 'release candidate' });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return { id: res.body.id, jobId, artifactDigest: res.body.artifactDigest, path };
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'airlock-cli-review-'));
    staging = join(dir, 'staging');
    const policyFile = join(dir, 'policy.json');
    const policy = {
      version: 't1',
      targets: { staging: { target: { type: 'directory', path: staging }, approval: { mode: 'review', approvals: 1, groups: ['platform'] } } },
    };
    await writeFile(policyFile, JSON.stringify(policy));
    t = await startTestAirlock('cli-review', { AIRLOCK_ROLE: 'api', AIRLOCK_REVIEW_POLICY_FILE: policyFile, AIRLOCK_DATA_DIR: join(dir, 'data') });
    redis = testRedis();
    jobs = new RedisJobStore(redis, t.prefix, 3600);
    artifacts = new FileArtifactStore(join(t.config.dataDir, 'artifacts'));
    alice = await t.key('agent', 'alice');
    bob = await t.key('reviewer', 'bob', ['platform']);
    admin = await t.key('admin', 'root');
  });

  afterAll(async () => {
    await t?.airlock.review?.settled();
    await t?.stop();
    redis?.disconnect();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('lists, shows, approves and waits for a promotion until it is in staging', async () => {
    const p = await promotion('hello staging\n');

    const list = await cli('review', 'list', ...as(bob));
    expect(list.code, list.errText).toBe(0);
    expect(list.out[0]).toMatch(/^ID\s+STATE\s+TARGET\s+JOB\s+RISK\s+APPROVALS\s+DEADLINE\s+REQUESTER$/);
    const row = list.out.find((l) => l.startsWith(p.id));
    expect(row).toBeDefined();
    expect(row).toContain('pending_review');
    expect(row).toContain(p.jobId);
    expect(row).toContain('0/1');
    expect(row).toMatch(/alice$/);

    const listJson = await cli('review', 'list', '--json', ...as(bob));
    expect(listJson.code).toBe(0);
    expect((JSON.parse(listJson.text) as { id: string }[]).map((x) => x.id)).toContain(p.id);

    const show = await cli('review', 'show', p.id, ...as(bob));
    expect(show.code, show.errText).toBe(0);
    expect(show.text).toContain(`${p.artifactDigest} (artifacts)`);
    expect(show.text).toContain(`$ python main.py --greeting 'it'\\''s me'`);
    expect(show.text).toMatch(new RegExp(`out/app\\.txt\\s+14\\s+[0-9a-f]{64}`));
    expect(show.text).toContain('release candidate');
    expect(show.text).toContain('alice');
    // terminal escapes from job output are shown, never sent to the terminal
    expect(show.text).toContain('| \\x1b[2Jcleared');
    expect(show.text).not.toContain('\u001b');
    // 51 lines of stdout: 40 shown, the rest counted
    expect(show.text).toContain('line 39');
    expect(show.text).not.toContain('line 40\n');
    expect(show.text).toContain('11 more lines not shown');
    expect(show.text).toContain('| warning: from base64');
    // a reviewer of the promotion reads its audit trail too
    expect(show.text).toMatch(/== Audit trail\n(.*\n)*.*promotion\.request/);
    expect(show.text).toMatch(/#1 \S+ {2}\(new\) -> pending_review {2}by alice/);

    const adminShow = await cli('review', 'show', p.id, ...as(admin));
    expect(adminShow.code, adminShow.errText).toBe(0);
    expect(adminShow.text).toMatch(/== Audit trail\n(.*\n)*.*promotion\.request/);

    const showJson = await cli('review', 'show', '--json', p.id, ...as(bob));
    expect(showJson.code, showJson.errText).toBe(0);
    expect(JSON.parse(showJson.text)).toMatchObject({ id: p.id, artifactDigest: p.artifactDigest, state: 'pending_review' });

    const noReason = await cli('review', 'approve', p.id, ...as(bob));
    expect(noReason.code).toBe(2);
    expect(noReason.errText).toContain('--reason');
    const bareReason = await cli('review', 'approve', p.id, ...as(bob), '--reason');
    expect(bareReason.code).toBe(2);

    // the agent's own key: a party to the promotion is told it may never decide it (the API
    // checks this before the role, so the agent hears why rather than a bare FORBIDDEN)
    const self = await cli('review', 'approve', p.id, '--reason', 'lgtm', ...as(alice));
    expect(self.code).toBe(1);
    expect(self.errText).toMatch(/^airlock: SELF_APPROVAL_FORBIDDEN: principal alice /m);
    // a key of another role that is no party: the route needs a reviewer key
    const notReviewer = await cli('review', 'approve', p.id, '--reason', 'lgtm', ...as(admin));
    expect(notReviewer.code).toBe(1);
    expect(notReviewer.errText).toMatch(/^airlock: FORBIDDEN: .*reviewer/m);

    const approve = await cli('review', 'approve', p.id, '--reason', 'read the diff', ...as(bob));
    expect(approve.code, approve.errText).toBe(0);
    expect(approve.text).toContain(`digest ${p.artifactDigest}`);
    expect(approve.out.at(-1)).toBe('approved: quorum reached; applying');
    await t.airlock.review?.settled();

    const wait = await cli('promotion', 'wait', p.id, '--timeout', '20', '--interval', '200', ...as(alice));
    expect(wait.code, wait.errText).toBe(WAIT_EXIT.promoted);
    expect(wait.out).toHaveLength(1);
    expect(wait.out[0]).toMatch(/^promoted \S+/);
    expect(wait.errText).toContain(`${p.id}: promoted`);
    expect(await readFile(join(staging, 'current', p.path), 'utf8')).toBe('hello staging\n');

    // no longer pending: gone from the default list, still in --state all
    expect((await cli('review', 'list', ...as(bob))).text).not.toContain(p.id);
    expect((await cli('review', 'list', '--state', 'all', ...as(bob))).text).toContain(p.id);
  });

  it('exits 3 when the promotion is rejected', async () => {
    const p = await promotion('rejected content\n');
    const reject = await cli('review', 'reject', p.id, '--reason', 'not this one', ...as(bob));
    expect(reject.code, reject.errText).toBe(0);
    expect(reject.out.at(-1)).toBe('rejected');

    const wait = await cli('promotion', 'wait', p.id, '--timeout', '20', '--interval', '200', ...as(alice));
    expect(wait.code, wait.errText).toBe(WAIT_EXIT.rejected);
    expect(wait.out).toEqual([expect.stringMatching(/^rejected: .*not this one/)]);
  });

  it('exits 7 when nobody decides before the timeout, and refuses a decision on a digest that is not bound', async () => {
    const p = await promotion('undecided content\n');
    const wait = await cli('promotion', 'wait', p.id, '--timeout', '1', '--interval', '200', ...as(alice));
    expect(wait.code).toBe(WAIT_EXIT.timeout);
    expect(wait.text).toContain('still pending_review');

    const pinned = await cli('review', 'approve', p.id, '--reason', 'reviewed', '--digest', 'sha256-of-something-else', ...as(bob));
    expect(pinned.code).toBe(1);
    expect(pinned.errText).toContain('airlock: DIGEST_MISMATCH:');
  });

  it('explains usage, a missing key and an unreachable API', async () => {
    const noId = await cli('promotion', 'wait', ...as(alice));
    expect(noId.code).toBe(WAIT_EXIT.usage);
    const badTimeout = await cli('promotion', 'wait', 'prm_abcdefgh1234', '--timeout', 'soon', ...as(alice));
    expect(badTimeout.code).toBe(WAIT_EXIT.usage);
    expect((await cli('review', 'frobnicate', ...as(bob))).code).toBe(2);

    const noKey = await cli('review', 'list', '--url', t.baseUrl, '--key');
    expect(noKey.code).toBe(1);
    expect(noKey.errText).toContain('no API key');

    const down = await cli('review', 'list', '--url', 'http://127.0.0.1:1', '--key', bob.key);
    expect(down.code).toBe(1);
    expect(down.errText).toContain('airlock: INTERNAL: cannot reach the Airlock API at http://127.0.0.1:1');

    const unknown = await cli('review', 'show', 'prm_doesnotexist1', ...as(bob));
    expect(unknown.code).toBe(1);
    expect(unknown.errText).toContain('airlock: PROMOTION_NOT_FOUND');
  });
});
