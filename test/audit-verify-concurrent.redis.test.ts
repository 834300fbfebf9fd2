/**
 * verify while records are being appended (the API verifies in the background for /metrics while
 * it serves): an append that lands after verify took its head snapshot is not "a record stored
 * beyond the head". A record stored beyond the head as it is now still is (audit-verify.redis.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VerifyResult } from '../src/audit/index.js';
import { auditHarness, type AuditHarness } from './fixtures/audit/harness.js';

describe('verifyChain next to appends', () => {
  let h: AuditHarness;
  beforeEach(async () => {
    h = await auditHarness('audit-verify-concurrent');
    await h.appendMany(5);
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('reports no tampering for records appended during the walk', async () => {
    const results: VerifyResult[] = [];
    // 30 verifies (under the harness's 100 records between checkpoints), each racing a burst of appends: the count of stored records is read after the walk
    for (let i = 0; i < 30; i++) {
      const [result] = await Promise.all([h.verify(), h.appendMany(3)]);
      results.push(result);
    }
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(await h.verify()).toMatchObject({ ok: true, lastSeq: 5 + 30 * 3 });
  });
});
