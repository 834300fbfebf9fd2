import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointFileSink, computeHash, signCheckpoint, signingKeyFromPem, type AuditRecord } from '../src/audit/index.js';
import { canonicalJson } from '../src/shared/index.js';
import { STALE_AFTER_MS, auditHarness, type AuditHarness } from './fixtures/audit/harness.js';

/** 20 records with checkpoints at 10 and 20, straight into Redis like an attacker would see them. */
describe('verifyChain against tampering', () => {
  let h: AuditHarness;
  let recordsKey: string;
  let headKey: string;

  const getRaw = async (seq: number) => (await h.redis.hget(recordsKey, String(seq)))!;
  const getRecord = async (seq: number) => JSON.parse(await getRaw(seq)) as AuditRecord;
  const setHeadTo = (r: AuditRecord) => h.redis.set(headKey, canonicalJson({ seq: r.seq, hash: r.hash, time: r.time }));

  beforeEach(async () => {
    h = await auditHarness('audit-verify');
    recordsKey = `{${h.prefix}}:audit:records`;
    headKey = `{${h.prefix}}:audit:head`;
    await h.appendMany(10);
    expect(await h.checkpointer.maybeCheckpoint()).toMatchObject({ seq: 10 });
    await h.appendMany(10);
    expect(await h.checkpointer.maybeCheckpoint()).toMatchObject({ seq: 20 });
  });
  afterEach(async () => {
    await h.cleanup();
  });

  it('passes an intact chain', async () => {
    expect(await h.verify({ pageSize: 7 })).toEqual({ ok: true, records: 20, lastSeq: 20, lastCheckpointSeq: 20 });
  });

  it('detects a modified field', async () => {
    await h.redis.hset(recordsKey, '7', (await getRaw(7)).replace('"job_', '"job_X'));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 7, reason: 'hash_mismatch' });
  });

  it('detects a modified field whose own hash was recomputed', async () => {
    const r = await getRecord(7);
    const { hash: _old, ...unhashed } = { ...r, target: 'job_forged' };
    await h.redis.hset(recordsKey, '7', canonicalJson({ ...unhashed, hash: computeHash(unhashed) }));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 8, reason: 'prev_hash_mismatch' });
  });

  it('detects a deleted record', async () => {
    await h.redis.hdel(recordsKey, '12');
    expect(await h.verify()).toMatchObject({ ok: false, seq: 12, reason: 'seq_gap' });
  });

  it('detects two swapped records', async () => {
    const [a, b] = [await getRaw(5), await getRaw(6)];
    await h.redis.hset(recordsKey, '5', b, '6', a);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 5, reason: 'reordered' });
  });

  it('detects an inserted duplicate', async () => {
    // Shift 6..20 up by one, put a copy of 5 at 6, and move the head: a consistent-looking insert.
    for (let seq = 20; seq >= 6; seq -= 1) await h.redis.hset(recordsKey, String(seq + 1), await getRaw(seq));
    await h.redis.hset(recordsKey, '6', await getRaw(5));
    const last = await getRecord(21);
    await h.redis.set(headKey, canonicalJson({ seq: 21, hash: last.hash, time: last.time }));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 6, reason: 'duplicate' });
  });

  it('detects a truncated tail through the checkpoint', async () => {
    for (let seq = 16; seq <= 20; seq += 1) await h.redis.hdel(recordsKey, String(seq));
    await setHeadTo(await getRecord(15));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 16, reason: 'head_behind_checkpoint' });
  });

  it('detects a consistent rewrite of the whole chain through the checkpoint', async () => {
    let prevHash = '0'.repeat(64);
    let last: AuditRecord | undefined;
    for (let seq = 1; seq <= 20; seq += 1) {
      const { hash: _old, ...unhashed } = await getRecord(seq);
      const forged = { ...unhashed, prevHash, ...(seq === 3 ? { target: 'job_innocent' } : {}) };
      last = { ...forged, hash: computeHash(forged) };
      await h.redis.hset(recordsKey, String(seq), canonicalJson(last));
      prevHash = last.hash;
    }
    await setHeadTo(last!);
    // Without the checkpoints the forgery is self-consistent: only the signatures catch it.
    const noCheckpoints = new CheckpointFileSink(join(h.dir, 'none.jsonl'));
    expect(await h.verify({ checkpoints: noCheckpoints, staleAfterMs: 1e12, staleAfterRecords: 1e6 })).toMatchObject({ ok: true });
    expect(await h.verify()).toMatchObject({ ok: false, seq: 10, reason: 'checkpoint_mismatch' });
  });

  it('detects a forged checkpoint', async () => {
    const lines = (await readFile(h.sink.path, 'utf8')).trim().split('\n');
    const cp = JSON.parse(lines[1]!) as { headHash: string };
    lines[1] = JSON.stringify({ ...cp, headHash: 'f'.repeat(64) });
    await writeFile(h.sink.path, `${lines.join('\n')}\n`);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 20, reason: 'checkpoint_signature_invalid' });
  });

  it('detects a checkpoint signed with a key it does not trust', async () => {
    const other = signingKeyFromPem(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const forged = signCheckpoint({ ...other, keyId: h.key.keyId }, { seq: 15, headHash: (await getRecord(15)).hash, timeMs: h.clock.now() });
    await appendFile(h.sink.path, `${JSON.stringify(forged)}\n`);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 15, reason: 'checkpoint_signature_invalid' });
  });

  it('detects an unreadable checkpoint line', async () => {
    await appendFile(h.sink.path, 'not json\n');
    expect(await h.verify()).toMatchObject({ ok: false, seq: 0, reason: 'checkpoint_signature_invalid' });
  });

  it('detects that checkpointing stopped, by age and by count', async () => {
    await h.appendMany(5);
    expect(await h.verify()).toMatchObject({ ok: true, lastSeq: 25, lastCheckpointSeq: 20 });
    h.clock.advance(STALE_AFTER_MS + 1);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 21, reason: 'checkpoint_stale' });
    expect(await h.verify({ staleAfterMs: 1e12, staleAfterRecords: 4 })).toMatchObject({ ok: false, seq: 21, reason: 'checkpoint_stale' });
    await h.checkpointer.maybeCheckpoint();
    expect(await h.verify()).toMatchObject({ ok: true, lastCheckpointSeq: 25 });
  });

  it('detects a deleted checkpoint file as staleness', async () => {
    await rm(h.sink.path);
    h.clock.advance(STALE_AFTER_MS + 1);
    expect(await h.verify()).toMatchObject({ ok: false, seq: 1, reason: 'checkpoint_stale' });
  });

  it('detects a head that does not name the last record', async () => {
    await setHeadTo({ ...(await getRecord(20)), hash: 'e'.repeat(64) });
    expect(await h.verify()).toMatchObject({ ok: false, seq: 20, reason: 'head_mismatch' });
  });

  it('detects records stored beyond the head', async () => {
    await h.redis.hset(recordsKey, '21', await getRaw(20));
    expect(await h.verify()).toMatchObject({ ok: false, seq: 21, reason: 'head_mismatch' });
  });
});
