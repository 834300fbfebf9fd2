/**
 * One shape for a job's result (issue 11): the API view, the promotable job, the reviewer's
 * snapshot and the job.finish audit details all come from one parse of a stored result.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { view } from '../src/api/routes/jobs.js';
import { GENESIS_HEAD, nextRecord } from '../src/audit/index.js';
import { loadProfiles } from '../src/profiles/index.js';
import { JobResultSchema, JobResultViewSchema, jobFinishAudit, promotableJobOf, resultView, toJobResult } from '../src/queue/job-result.js';
import type { JobInput, JobRecord } from '../src/queue/job-types.js';
import { JobSnapshotSchema, PromotableResultSchema, jobSnapshot } from '../src/review/index.js';
import type { SandboxResult } from '../src/sandbox/index.js';
import { sha256Hex } from '../src/shared/index.js';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/job-result.json', import.meta.url), 'utf8')) as Record<string, unknown>;

const input: JobInput = {
  profile: 'python',
  argv: ['python', 'build.py'],
  files: [
    { path: 'build.py', content: 'print("built out/app.txt")\n', encoding: 'utf8' },
    { path: 'data.bin', content: Buffer.from([0, 1, 2, 255]).toString('base64'), encoding: 'base64' },
  ],
  stdin: '',
  env: {},
  limits: {} as JobInput['limits'],
};

describe('one JobResultSchema, one parse', () => {
  // the one parse: a stored result, with a field the shape does not know
  const r = JobResultSchema.parse({ ...fixture, internalNote: 'never part of any derived shape' });
  const rec: JobRecord = {
    id: 'job_0123456789abcdef',
    status: 'succeeded',
    ownerKeyId: 'key_alice',
    profile: 'python',
    createdAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:02.000Z',
    attempts: 1,
    cancelRequested: false,
    result: r,
  };
  const shown = view(rec) as Record<string, unknown>;
  const promotable = promotableJobOf(rec, input, 'alice');
  const snapshot = jobSnapshot(promotable, promotable.result!, 'a'.repeat(64));
  const trace = { containerId: 'c0ffee', stdout: Buffer.from(r.stdout, r.stdoutEncoding), stderr: Buffer.from(r.stderr, r.stderrEncoding) };
  const audit = jobFinishAudit('succeeded', r, trace);
  const field = (k: string) => (r as Record<string, unknown>)[k];

  it('keeps exactly the fields of the shape: an unknown one is dropped, none is changed', () => {
    expect(r).toEqual(fixture);
    expect(Object.keys(JobResultSchema.shape).sort()).toEqual(Object.keys(fixture).concat('patchMessage').sort());
  });

  it('codeDigest and findings are part of every result (they were optional for review and missing from the view)', () => {
    for (const k of ['codeDigest', 'findings', 'artifactsRejected']) {
      const { [k]: _dropped, ...without } = fixture;
      expect(JobResultSchema.safeParse(without).success, k).toBe(false);
      if (k in PromotableResultSchema.shape) expect(PromotableResultSchema.safeParse(without).success, k).toBe(false);
    }
  });

  it('the API view shows every field of it but profile, as parsed', () => {
    expect(Object.keys(resultView(r)).sort()).toEqual(
      Object.keys(JobResultViewSchema.shape)
        .filter((k) => k !== 'patchMessage')
        .sort(),
    );
    for (const k of Object.keys(JobResultViewSchema.shape)) expect(shown[k], k).toEqual(field(k));
    expect(shown['profile']).toBe(rec.profile);
    expect(shown).not.toHaveProperty('internalNote');
    expect(shown).not.toHaveProperty('ownerKeyId');
  });

  it('the promotable job carries that same parse, and the submitter as the owner', () => {
    expect(promotable.result).toBe(r);
    expect(promotable).toMatchObject({ id: rec.id, status: 'succeeded', profile: 'python', submitter: { keyId: 'key_alice', principal: 'alice' }, input });
    expect(PromotableResultSchema.parse(r)).toEqual(Object.fromEntries(Object.keys(PromotableResultSchema.shape).flatMap((k) => (k in r ? [[k, field(k)]] : []))));
  });

  it("the reviewer's snapshot picks its result fields from it, and is what its schema says", () => {
    expect(JobSnapshotSchema.strict().parse(snapshot)).toEqual(snapshot);
    const picked = Object.keys(snapshot).filter((k) => k in r);
    expect(picked.sort()).toEqual(
      [
        'artifacts',
        'artifactsTarSha256',
        'durationMs',
        'exitCode',
        'imageDigest',
        'isolation',
        'profile',
        'seccompDigest',
        ...Object.keys(fixture).filter((k) => /^std(out|err)(Encoding|Bytes|Truncated)$/.test(k)),
      ].sort(),
    );
    for (const k of picked) expect((snapshot as Record<string, unknown>)[k], k).toEqual(field(k));
    expect(snapshot).toMatchObject({
      status: 'succeeded',
      profile: 'python',
      argv: input.argv,
      files: [
        { path: 'build.py', bytes: 27 },
        { path: 'data.bin', bytes: 4 },
      ],
      stdoutExcerpt: r.stdout,
      stderrExcerpt: r.stderr,
      patchSha256: 'a'.repeat(64),
    });
  });

  it('the job.finish record states it, and is a valid audit event', () => {
    expect(audit).toEqual({
      outcome: { result: 'succeeded' },
      durationMs: r.durationMs,
      bytes: { request: 0, response: r.stdoutBytes + r.stderrBytes },
      details: {
        containerId: 'c0ffee',
        exitCode: r.exitCode,
        stdoutBytes: r.stdoutBytes,
        stderrBytes: r.stderrBytes,
        stdoutSha256: sha256Hex(trace.stdout),
        stderrSha256: sha256Hex(trace.stderr),
        stdoutTruncated: r.stdoutTruncated,
        stderrTruncated: r.stderrTruncated,
        artifactDigest: r.artifactDigest,
        artifacts: r.artifacts.length,
        artifactsRejected: r.artifactsRejected,
        // what each finding is and who says so; its evidence stays in the result
        findings: [
          { kind: 'ci_config_change', severity: 'high', detector: 'sensitive-paths', class: 'persistence' },
          { kind: 'artifacts_rejected', severity: 'low' },
        ],
      },
    });
    const record = nextRecord(GENESIS_HEAD, { actor: { type: 'worker', workerId: 'w1' }, action: 'job.finish', target: rec.id, ...audit }, Date.parse('2025-01-01T00:00:03Z'));
    expect(record.details).toEqual(audit.details);
  });
});

describe("the worker's result builder", () => {
  const profile = loadProfiles(resolve(import.meta.dirname, '../profiles')).get('python')!;
  const content = Buffer.from('hello\n');
  const run: SandboxResult = {
    outcome: 'exited',
    exitCode: 0,
    stdout: Buffer.from('ok\n'),
    // not UTF-8: the result carries it base64-encoded, the audit record hashes the bytes
    stderr: Buffer.from([0xff, 0xfe, 0x00, 0x41]),
    stdoutBytes: 3,
    stderrBytes: 4,
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: 120,
    containerId: 'c1',
    startedAt: '2025-01-01T00:00:00.000Z',
    finishedAt: '2025-01-01T00:00:01.000Z',
    patchMessage: 'Hunk #1 FAILED',
    artifacts: [{ path: 'out/a.txt', bytes: content.length, sha256: sha256Hex(content), content }],
    artifactsRejected: [{ path: 'out/link', reason: 'symlink' }],
  };
  const stored = { entries: [{ path: 'out/a.txt', bytes: content.length, sha256: sha256Hex(content) }], digest: 'd'.repeat(64), tarSha256: 't'.repeat(64) };
  const built = toJobResult(run, profile, 'sha256:img', stored, 'c'.repeat(64), [{ kind: 'patch_refused', severity: 'high', message: 'no' }]);

  it('builds exactly the shape: stored as JSON and parsed back, nothing is added, dropped or changed', () => {
    expect(JobResultSchema.strict().parse(JSON.parse(JSON.stringify(built)))).toEqual(built);
    expect(built).toMatchObject({
      stdoutEncoding: 'utf8',
      stderrEncoding: 'base64',
      stderr: run.stderr.toString('base64'),
      profile: 'python',
      profileDigest: profile.digest,
      codeDigest: 'c'.repeat(64),
    });
    expect(jobFinishAudit('succeeded', built, run).details).toMatchObject({ stderrSha256: sha256Hex(run.stderr), artifacts: 1, artifactDigest: 'd'.repeat(64) });
  });
});
