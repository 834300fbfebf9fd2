/**
 * Walks records in seq order and reports the first broken link. Used by verify for both the
 * segment files and Redis, so both are judged by the same rules.
 */
import { hashMatches, headOf, parseRecord, type ChainHead } from './audit-record.js';
import type { Checkpoint } from './checkpoint.js';

/** Every reason verify can give, in the order a reader meets them in docs. */
export const VERIFY_REASONS = [
  'hash_mismatch', // a record's content does not match its hash (edited, or unreadable)
  'prev_hash_mismatch', // a record does not link to the one before it
  'seq_gap', // a record is missing
  'reordered', // records are stored out of order
  'duplicate', // a record appears twice
  'time_backwards', // a record is older than the one before it
  'head_mismatch', // the head key does not name the last record (or records lie beyond it)
  'head_behind_checkpoint', // a signed checkpoint names a seq beyond the head: the tail was truncated
  'checkpoint_signature_invalid', // a checkpoint is unreadable, forged, or signed by an unknown key
  'checkpoint_mismatch', // the chain is self-consistent but differs from a signed checkpoint: rewritten
  'checkpoint_stale', // records older than the allowed age/count have no checkpoint: checkpointing stopped
  'segment_missing', // a segment file for trimmed records is gone
  'segment_corrupt', // a segment file is damaged, or does not chain up to the Redis base
] as const;
export type VerifyReason = (typeof VERIFY_REASONS)[number];

export interface VerifyFailure {
  readonly ok: false;
  /** The first record (or checkpoint position) where the problem shows. */
  readonly seq: number;
  readonly reason: VerifyReason;
  /** A sentence for humans. */
  readonly detail: string;
}

export function failure(seq: number, reason: VerifyReason, detail: string): VerifyFailure {
  return { ok: false, seq, reason, detail };
}

/** Looks up the stored JSON at a seq, to tell a swap from a gap and a copy from a move. */
export type PeekRecord = (seq: number) => Promise<string | null>;

export class ChainWalker {
  private current: ChainHead;

  constructor(
    start: ChainHead,
    /** Valid checkpoints by seq: each record that one names must have its headHash. */
    private readonly checkpoints: ReadonlyMap<number, readonly Checkpoint[]>,
  ) {
    this.current = start;
  }

  /** The last record accepted (or the start). */
  get head(): ChainHead {
    return this.current;
  }

  async check(expectedSeq: number, raw: string | null, peek?: PeekRecord): Promise<VerifyFailure | null> {
    if (raw === null) return failure(expectedSeq, 'seq_gap', `record ${expectedSeq} is missing`);
    const record = parseRecord(raw);
    if (record === null) return failure(expectedSeq, 'hash_mismatch', `record ${expectedSeq} is not a well-formed record`);
    if (!hashMatches(record)) return failure(expectedSeq, 'hash_mismatch', `record ${expectedSeq}'s content does not match its hash`);
    if (record.seq !== expectedSeq) return this.misplaced(expectedSeq, record.seq, raw, peek);
    if (record.prevHash !== this.current.hash) {
      return failure(expectedSeq, 'prev_hash_mismatch', `record ${expectedSeq} does not link to record ${this.current.seq}`);
    }
    if (Date.parse(record.time) < Date.parse(this.current.time)) {
      return failure(expectedSeq, 'time_backwards', `record ${expectedSeq} (${record.time}) is older than record ${this.current.seq} (${this.current.time})`);
    }
    for (const checkpoint of this.checkpoints.get(expectedSeq) ?? []) {
      if (checkpoint.headHash !== record.hash) {
        return failure(expectedSeq, 'checkpoint_mismatch', `record ${expectedSeq} differs from the checkpoint signed at ${checkpoint.time}: the chain was rewritten`);
      }
    }
    this.current = headOf(record);
    return null;
  }

  /** An intact record stored where another seq belongs: a copy, a move, or a gap closed up. */
  private async misplaced(expectedSeq: number, foundSeq: number, raw: string, peek?: PeekRecord): Promise<VerifyFailure> {
    const at = `position ${expectedSeq} holds record ${foundSeq}`;
    if (foundSeq === this.current.seq) return failure(expectedSeq, 'duplicate', `${at}, a copy of the one before it`);
    const own = peek === undefined ? undefined : await peek(foundSeq);
    if (foundSeq < expectedSeq) {
      return own === raw ? failure(expectedSeq, 'duplicate', `${at}, a copy of an earlier record`) : failure(expectedSeq, 'reordered', at);
    }
    // Ahead of its place: a swap if the record that belongs here sits at the other position.
    const other = own === undefined || own === null ? null : parseRecord(own);
    return other?.seq === expectedSeq ? failure(expectedSeq, 'reordered', `${at} (swapped)`) : failure(expectedSeq, 'seq_gap', `${at}: record ${expectedSeq} is missing`);
  }
}
