/**
 * Retention: records older than `retentionDays` are exported to signed gzip segments and only
 * then removed from Redis; the Redis base keeps the last removed {seq, hash} so the chain
 * continues. Before signing a segment, its records are walked by the same ChainWalker that
 * verify uses (hashes, links, order, time, every checkpoint signed by a trusted key), so a
 * segment is signed only when verify would accept it: a tampered chain is refused with verify's
 * reason rather than laundered by a signature.
 */
import { AppError, type Clock } from '../shared/index.js';
import { withAuditDefaults } from './audit-options.js';
import { headOf, parseRecord, type Actor, type AuditRecord, type ChainHead } from './audit-record.js';
import { ChainWalker, type VerifyFailure } from './chain-walker.js';
import type { Checkpoint } from './checkpoint.js';
import { signCheckpoint } from './checkpoint.js';
import type { CheckpointFileSink } from './checkpoint-file-sink.js';
import type { RedisAuditStore } from './redis-audit-store.js';
import { writeSegment, type SegmentFile } from './segment-file.js';
import type { SigningKey, VerifyKey } from './signing-key.js';
import { checkpointsBySeq, loadCheckpoints } from './verify-chain.js';

const DAY_MS = 24 * 3600 * 1000;
const READ_PAGE = 1000;

export interface RetentionOptions {
  readonly store: RedisAuditStore;
  readonly key: SigningKey;
  /** Keys checkpoints may be signed with, as verify trusts them (default: the current key only). */
  readonly trustedKeys?: readonly VerifyKey[];
  readonly checkpoints: CheckpointFileSink;
  readonly segmentsDir: string;
  readonly clock: Clock;
  /** Default and range: AuditOptionsSchema's retentionDays (less than MIN_RETENTION_DAYS is refused). */
  readonly retentionDays?: number;
  /** Records per segment file (default and range: AuditOptionsSchema's segmentMaxRecords). */
  readonly segmentMaxRecords?: number;
  /** Who runs retention, named in each `audit.trim` record (default: the system). */
  readonly actor?: Actor;
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
    // the options' own ranges and defaults, not a copy of them
    const o = withAuditDefaults({ retentionDays: opts.retentionDays, segmentMaxRecords: opts.segmentMaxRecords });
    this.retentionDays = o.retentionDays;
    this.segmentMaxRecords = o.segmentMaxRecords;
  }

  /** Exports and trims everything older than the retention window; safe to re-run after a crash. */
  async run(): Promise<RetentionReport> {
    const { store } = this.opts;
    const nowMs = this.opts.clock.now();
    const lastOld = await store.lastSeqBefore(nowMs - this.retentionDays * DAY_MS);
    let base = await store.base();
    const segments: Array<SegmentFile & { sha256: string }> = [];
    if (lastOld <= base.seq) return { segments, trimmedThroughSeq: base.seq };
    const pinned = await this.trustedCheckpoints(lastOld);
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
        actor: this.opts.actor ?? { type: 'system' },
        action: 'audit.trim',
        target: null,
        details: { firstSeq: base.seq + 1, lastSeq: last.seq, segment: segment.name, sha256: segment.sha256 },
      });
      base = newBase;
    }
    return { segments, trimmedThroughSeq: base.seq };
  }

  /** Records base+1..lastSeq, walked as verify walks them; the first problem refuses the export. */
  private async readChecked(base: ChainHead, lastSeq: number, pinned: ReadonlyMap<number, readonly Checkpoint[]>): Promise<AuditRecord[]> {
    const out: AuditRecord[] = [];
    const walker = new ChainWalker(base, pinned);
    const peek = async (seq: number) => (await this.opts.store.readRaw(seq, 1))[0] ?? null;
    for (let from = base.seq + 1; from <= lastSeq; from += READ_PAGE) {
      const raws = await this.opts.store.readRaw(from, Math.min(READ_PAGE, lastSeq - from + 1));
      for (const [i, raw] of raws.entries()) {
        const problem = await walker.check(from + i, raw, peek);
        if (problem !== null) throw chainBroken(problem);
        // the walker accepted it, so it parses
        out.push(parseRecord(raw!)!);
      }
    }
    return out;
  }

  /** Checkpoints by seq, signed by a trusted key; an invalid one in the exported range refuses the export. */
  private async trustedCheckpoints(lastOld: number): Promise<Map<number, Checkpoint[]>> {
    const { valid, invalid } = await loadCheckpoints(this.opts.checkpoints, this.opts.trustedKeys ?? [this.opts.key]);
    if (invalid !== null && invalid.seq <= lastOld) throw chainBroken(invalid);
    return checkpointsBySeq(valid);
  }
}

function chainBroken(problem: VerifyFailure): AppError {
  return new AppError('AUDIT_CHAIN_BROKEN', `refusing to export: ${problem.detail} (${problem.reason}); run \`airlock audit verify\``, {
    details: { seq: problem.seq, reason: problem.reason },
  });
}
