/**
 * Retention: records older than `retentionDays` are exported to signed gzip segments and only
 * then removed from Redis; the Redis base keeps the last removed {seq, hash} so the chain
 * continues. Before signing a segment, its records are re-checked (hashes, links, and the
 * file-sink checkpoints), so a tampered chain is refused rather than laundered by a signature.
 */
import { AppError, type Clock } from '../shared/index.js';
import { hashMatches, headOf, parseRecord, type AuditRecord, type ChainHead } from './audit-record.js';
import { checkpointSignatureValid, signCheckpoint } from './checkpoint.js';
import type { CheckpointFileSink } from './checkpoint-file-sink.js';
import type { RedisAuditStore } from './redis-audit-store.js';
import { writeSegment, type SegmentFile } from './segment-file.js';
import type { SigningKey } from './signing-key.js';

export const MIN_RETENTION_DAYS = 90;
export const DEFAULT_RETENTION_DAYS = 180;
const DAY_MS = 24 * 3600 * 1000;
const READ_PAGE = 1000;

export interface RetentionOptions {
  readonly store: RedisAuditStore;
  readonly key: SigningKey;
  readonly checkpoints: CheckpointFileSink;
  readonly segmentsDir: string;
  readonly clock: Clock;
  /** Default 180; less than 90 is refused. */
  readonly retentionDays?: number;
  /** Records per segment file (default 10,000). */
  readonly segmentMaxRecords?: number;
}

export interface RetentionReport {
  readonly segments: ReadonlyArray<SegmentFile & { sha256: string }>;
  /** The base after this run: every record up to it lives in segments only. */
  readonly trimmedThroughSeq: number;
}

export class Retention {
  private readonly retentionDays: number;
  private readonly segmentMaxRecords: number;

  constructor(private readonly opts: RetentionOptions) {
    this.retentionDays = opts.retentionDays ?? DEFAULT_RETENTION_DAYS;
    this.segmentMaxRecords = opts.segmentMaxRecords ?? 10_000;
    if (!Number.isInteger(this.retentionDays) || this.retentionDays < MIN_RETENTION_DAYS) {
      throw new AppError('CONFIG_INVALID', `audit retention must be at least ${MIN_RETENTION_DAYS} days (got ${this.retentionDays})`);
    }
    if (!Number.isInteger(this.segmentMaxRecords) || this.segmentMaxRecords < 1) {
      throw new AppError('CONFIG_INVALID', 'audit segmentMaxRecords must be a positive integer');
    }
  }

  /** Exports and trims everything older than the retention window; safe to re-run after a crash. */
  async run(): Promise<RetentionReport> {
    const { store } = this.opts;
    const nowMs = this.opts.clock.now();
    const lastOld = await store.lastSeqBefore(nowMs - this.retentionDays * DAY_MS);
    let base = await store.base();
    const segments: Array<SegmentFile & { sha256: string }> = [];
    if (lastOld <= base.seq) return { segments, trimmedThroughSeq: base.seq };
    const pinned = await this.pinnedHashes();
    while (base.seq < lastOld) {
      const lastSeq = Math.min(lastOld, base.seq + this.segmentMaxRecords);
      const records = await this.readChecked(base, lastSeq, pinned);
      const last = records.at(-1);
      if (last === undefined) break;
      const checkpoint = signCheckpoint(this.opts.key, { seq: last.seq, headHash: last.hash, timeMs: nowMs });
      const segment = await writeSegment(this.opts.segmentsDir, records, checkpoint);
      await this.opts.checkpoints.append(checkpoint);
      await store.putCheckpoint(checkpoint);
      const newBase = headOf(last);
      if (!(await store.trim(base, newBase))) {
        throw new AppError('AUDIT_UNAVAILABLE', 'another retention run moved the audit base; try again', { retryable: true });
      }
      segments.push(segment);
      await store.append({
        actor: { type: 'system' },
        action: 'audit.trim',
        target: null,
        details: { firstSeq: base.seq + 1, lastSeq: last.seq, segment: segment.name, sha256: segment.sha256 },
      });
      base = newBase;
    }
    return { segments, trimmedThroughSeq: base.seq };
  }

  /** Records base+1..lastSeq, refusing any that do not chain or that contradict a signed checkpoint. */
  private async readChecked(base: ChainHead, lastSeq: number, pinned: ReadonlyMap<number, string>): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    let prev = base;
    for (let from = base.seq + 1; from <= lastSeq; from += READ_PAGE) {
      const raws = await this.opts.store.readRaw(from, Math.min(READ_PAGE, lastSeq - from + 1));
      for (const [i, raw] of raws.entries()) {
        const seq = from + i;
        const record = raw === null ? null : parseRecord(raw);
        const pin = pinned.get(seq);
        if (record === null || record.seq !== seq || !hashMatches(record) || record.prevHash !== prev.hash || (pin !== undefined && pin !== record.hash)) {
          throw new AppError('INTERNAL', `refusing to export: the audit chain is broken at record ${seq}; run \`airlock audit verify\``, {
            details: { seq },
          });
        }
        out.push(record);
        prev = headOf(record);
      }
    }
    return out;
  }

  /** seq → headHash of every validly signed checkpoint in the file sink. */
  private async pinnedHashes(): Promise<Map<number, string>> {
    const pinned = new Map<number, string>();
    for (const { checkpoint } of await this.opts.checkpoints.readAll()) {
      if (checkpoint !== null && checkpointSignatureValid(checkpoint, [this.opts.key])) pinned.set(checkpoint.seq, checkpoint.headHash);
    }
    return pinned;
  }
}
