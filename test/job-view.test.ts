/**
 * What GET /v1/jobs/:id shows of a finished job's result (issue 11: `codeDigest` was silently
 * missing from the view, which restated the result field by field).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { view } from '../src/api/routes/jobs.js';

const stored = JSON.parse(readFileSync(new URL('./fixtures/job-result.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const rec = {
  id: 'job_0123456789abcdef',
  status: 'succeeded' as const,
  ownerKeyId: 'key_owner',
  profile: 'python',
  createdAt: '2025-01-01T00:00:00.000Z',
  startedAt: '2025-01-01T00:00:01.000Z',
  finishedAt: '2025-01-01T00:00:02.000Z',
  attempts: 1,
  cancelRequested: false,
  result: stored as never,
};

describe('the job view', () => {
  const shown = view(rec) as Record<string, unknown>;

  it('shows the code digest, the findings and the digest of the artifacts tar', () => {
    expect(shown['codeDigest']).toBe(stored['codeDigest']);
    expect(shown['findings']).toEqual(stored['findings']);
    expect(shown['artifactsTarSha256']).toBe(stored['artifactsTarSha256']);
  });

  it('shows every field of the result as stored, its profile as the job states it, and never the owner', () => {
    for (const [k, v] of Object.entries(stored)) if (k !== 'profile') expect(shown[k], k).toEqual(v);
    expect(shown['profile']).toBe(rec.profile);
    expect(shown).not.toHaveProperty('ownerKeyId');
    expect(shown).toMatchObject({ id: rec.id, status: 'succeeded', statusUrl: `/v1/jobs/${rec.id}`, attempts: 1, cancelRequested: false });
  });
});
