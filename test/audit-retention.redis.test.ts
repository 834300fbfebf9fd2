import { createHash } from 'node:crypto';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Retention, computeHash, exportRange, loadOrCreateSigningKey, parseAuditOptions, queryAudit, segmentName, signCheckpoint, type AuditRecord } from '../src/audit/index.js';
import { AppError, canonicalJson } from '../src/shared/index.js';
import { DAY_MS, auditHarness, type AuditHarness } from './fixtures/audit/harness.js';

function collect(): { out: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    out,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== ''),
  };
}

describe('audit options', () => {
  it('refuses retention under 90 days, here and in Retention', async () => {
    const paths = { signingKeyFile: 'k.pem', checkpointFile: 'c.jsonl', segmentsDir: 's' };
    expect(parseAuditOptions(paths)).toMatchObject({ retentionDays: 180, checkpointEveryRecords: 1000, checkpointEveryMs: 60_000 });
    expect(() => parseAuditOptions({ ...paths, retentionDays: 89 })).toThrow(AppError);
    expect(() => parseAuditOptions({ ...paths, staleAfterRecords: 10, checkpointEveryRecords: 10 })).toThrow(/staleAfterRecords/);
    const h = await auditHarness('audit-options');
    try {
      expect(() => new Retention({ store: h.store, key: h.key, checkpoints: h.sink, segmentsDir: h.segmentsDir, clock: h.clock, retentionDays: 30 })).toThrow(/at least 90/);
    } finally {
      await h.cleanup();
    }
  });
});

describe('retention', () => {
  let h: AuditHarness;
  let old: AuditRecord[];
  let recent: AuditRecord[];
  let retention: Retention;

  beforeEach(async () => {
    h = await auditHarness('audit-retention');
    old = await h.appendMany(25);
    await h.checkpointer.maybeCheckpoint();
    h.clock.advance(100 * DAY_MS);
    recent = await h.appendMany(10);
    await h.checkpointer.maybeCheckpoint();
    h.clock.advance(81 * DAY_MS); // the first 25 are now older than 180 days, the rest are not
    retention = new Retention({
      store: h.store,
      key: h.key,
      checkpoints: h.sink,
      segmentsDir: h.segmentsDir,
      clock: h.clock,
      segmentMaxRecords: 10,
    });
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('exports old records to signed segments before trimming them, and verify stays green', async () => {
    const report = await retention.run();
    expect(report.trimmedThroughSeq).toBe(25);
    expect(report.segments.map((s) => s.name)).toEqual([segmentName(1, 10), segmentName(11, 20), segmentName(21, 25)]);
    expect((await readdir(h.segmentsDir)).sort()).toEqual(report.segments.flatMap((s) => [s.name, `${s.name}.sha256`]).sort());

    const gz = await readFile(join(h.segmentsDir, segmentName(11, 20)));
    expect(await readFile(join(h.segmentsDir, `${segmentName(11, 20)}.sha256`), 'utf8')).toBe(`${createHash('sha256').update(gz).digest('hex')}  ${segmentName(11, 20)}\n`);
    const lines = gunzipSync(gz).toString().trim().split('\n');
    expect(lines.slice(0, 10).map((l) => (JSON.parse(l) as AuditRecord).seq)).toEqual([11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    expect(JSON.parse(lines[10]!)).toMatchObject({
      type: 'segment-end',
      firstSeq: 11,
      lastSeq: 20,
      headHash: old[19]!.hash,
      checkpoint: { seq: 20, headHash: old[19]!.hash },
    });

    expect(await h.redis.hexists(`{${h.prefix}}:audit:records`, '25')).toBe(0);
    expect(await h.redis.hexists(`{${h.prefix}}:audit:records`, '26')).toBe(1);
    expect(await h.store.base()).toEqual({ seq: 25, hash: old[24]!.hash, time: old[24]!.time });
    // index zsets hold no trimmed seqs
    expect(await h.redis.zrangebyscore(`{${h.prefix}}:audit:idx:action:job.submit`, '-inf', 25)).toEqual([]);

    // three audit.trim records were appended after the trims
    const trims = await queryAudit(h.store, { action: 'audit.trim', order: 'asc' });
    expect(trims.records.map((r) => r.details)).toMatchObject([
      { firstSeq: 1, lastSeq: 10 },
      { firstSeq: 11, lastSeq: 20 },
      { firstSeq: 21, lastSeq: 25 },
    ]);
    await h.checkpointer.checkpointNow();
    expect(await h.verify()).toEqual({ ok: true, records: 38, lastSeq: 38, lastCheckpointSeq: 38 });
    expect(await h.verify({ segmentsDir: undefined })).toMatchObject({ ok: true, records: 13, lastSeq: 38 });

    // a second run finds nothing new; queries only see what Redis still holds
    expect((await retention.run()).segments).toEqual([]);
    const page = await queryAudit(h.store, { order: 'asc', limit: 500 });
    expect(page.records[0]?.seq).toBe(26);
  });

  it('detects a deleted segment as segment_missing', async () => {
    await retention.run();
    await h.checkpointer.checkpointNow();
    await rm(join(h.segmentsDir, segmentName(11, 20)));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 11, reason: 'segment_missing' });
    await rm(join(h.segmentsDir, segmentName(1, 10)));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 1, reason: 'segment_missing' });
  });

  it('detects a deleted last segment as segment_missing', async () => {
    await retention.run();
    await h.checkpointer.checkpointNow();
    await rm(join(h.segmentsDir, segmentName(21, 25)));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 21, reason: 'segment_missing' });
  });

  it('detects a corrupted segment as segment_corrupt', async () => {
    await retention.run();
    await h.checkpointer.checkpointNow();
    const path = join(h.segmentsDir, segmentName(11, 20));
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] ?? 0) ^ 0xff;
    await writeFile(path, bytes);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 11, reason: 'segment_corrupt' });
  });

  it('detects a missing checksum file as segment_corrupt', async () => {
    await retention.run();
    await h.checkpointer.checkpointNow();
    await rm(join(h.segmentsDir, `${segmentName(21, 25)}.sha256`));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 21, reason: 'segment_corrupt' });
  });

  it('refuses to export a tampered chain', async () => {
    const key = `{${h.prefix}}:audit:records`;
    await h.redis.hset(key, '3', (await h.redis.hget(key, '3'))!.replace('"job_', '"job_X'));
    // issue 11: verify's reason, not INTERNAL (was: rejects.toMatchObject({ code: 'INTERNAL' }))
    await expect(retention.run()).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { seq: 3, reason: 'hash_mismatch' } });
    expect((await h.store.base()).seq).toBe(0);
    expect(await h.redis.hexists(key, '1')).toBe(1);
  });

  it('refuses a chain whose time runs backwards, as verify does (same walker, same reason)', async () => {
    // record 25 rewritten an hour before record 24 and re-hashed: its content, hash and link are
    // self-consistent, only the order in time is wrong
    const key = `{${h.prefix}}:audit:records`;
    const { hash: _old, ...unhashed } = JSON.parse((await h.redis.hget(key, '25'))!) as AuditRecord;
    const early = { ...unhashed, time: new Date(Date.parse(old[23]!.time) - 3600_000).toISOString() };
    await h.redis.hset(key, '25', canonicalJson({ ...early, hash: computeHash(early) }));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 25, reason: 'time_backwards' });
    await expect(retention.run()).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { seq: 25, reason: 'time_backwards' } });
    // the sound segments before it were exported; the one holding the bad record was never signed
    expect((await h.store.base()).seq).toBe(20);
    expect((await readdir(h.segmentsDir)).filter((f) => f.endsWith('.gz'))).toEqual([segmentName(1, 10), segmentName(11, 20)]);
    expect(await h.redis.hexists(key, '21')).toBe(1);
  });

  it('trusts the checkpoints verify trusts: a retired key still pins, a forged checkpoint refuses the export', async () => {
    const retired = await loadOrCreateSigningKey(join(h.dir, 'keys', 'retired.pem'));
    // a checkpoint signed by a retired, still trusted key that contradicts record 5
    await h.sink.append(signCheckpoint(retired, { seq: 5, headHash: 'f'.repeat(64), timeMs: h.clock.now() }));
    const withRetired = new Retention({ store: h.store, key: h.key, trustedKeys: [h.key, retired], checkpoints: h.sink, segmentsDir: h.segmentsDir, clock: h.clock });
    await expect(withRetired.run()).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { seq: 5, reason: 'checkpoint_mismatch' } });
    expect(await h.verify({ trustedKeys: [h.key, retired] })).toMatchObject({ ok: false, seq: 5, reason: 'checkpoint_mismatch' });
    // with only the current key, that checkpoint is one verify rejects: so does retention
    await expect(retention.run()).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { seq: 5, reason: 'checkpoint_signature_invalid' } });
    expect((await h.store.base()).seq).toBe(0);
  });

  it('exports a time range from segments and Redis as JSONL', async () => {
    await retention.run();
    const { out, lines } = collect();
    const result = await exportRange({ store: h.store, segmentsDir: h.segmentsDir, since: old[19]!.time, until: recent[3]!.time, out });
    const seqs = lines().map((l) => (JSON.parse(l) as AuditRecord).seq);
    expect(seqs).toEqual([20, 21, 22, 23, 24, 25, 26, 27, 28]);
    expect(result.records).toBe(9);
    const everything = collect();
    await exportRange({ store: h.store, segmentsDir: h.segmentsDir, out: everything.out, pageSize: 4 });
    expect(everything.lines().map((l) => (JSON.parse(l) as AuditRecord).seq)).toEqual(Array.from({ length: 38 }, (_, i) => i + 1));
  });
});
