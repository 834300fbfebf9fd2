/**
 * Verify: recompute the whole chain (segments for the trimmed part, then Redis, page by
 * page), check every checkpoint in the file sink against its signature and its position,
 * and report the first problem found.
 */
import type { Clock } from '../shared/index.js';
import { GENESIS_HEAD, parseRecord, type ChainHead } from './audit-record.js';
import type { AuditStore } from './audit-store.js';
import { ChainWalker, failure, type VerifyFailure } from './chain-walker.js';
import { checkpointSignatureValid, type Checkpoint } from './checkpoint.js';
import type { CheckpointFileSink } from './checkpoint-file-sink.js';
import type { VerifyKey } from './signing-key.js';
import { walkSegments } from './verify-segments.js';

export interface VerifyChainOptions {
  readonly store: AuditStore;
  readonly checkpoints: CheckpointFileSink;
  /** Public keys checkpoints may be signed with (the current one, plus any retired ones). */
  readonly trustedKeys: readonly VerifyKey[];
  /** Where retention writes segments. Without it, the trimmed part is taken on trust from the base. */
  readonly segmentsDir?: string;
  readonly clock: Clock;
  /** More uncovered records than this means checkpointing stopped. */
  readonly staleAfterRecords: number;
  /** An uncovered record older than this means checkpointing stopped. */
  readonly staleAfterMs: number;
  /** Records read from Redis per round trip (default 500). */
  readonly pageSize?: number;
}

export interface VerifySuccess {
  readonly ok: true;
  /** Records whose hashes were recomputed (segments included when read). */
  readonly records: number;
  readonly lastSeq: number;
  /** Highest seq a valid checkpoint covers (0 when none). */
  readonly lastCheckpointSeq: number;
}

export type VerifyResult = VerifySuccess | VerifyFailure;

export async function verifyChain(opts: VerifyChainOptions): Promise<VerifyResult> {
  // Snapshot first: appends that land while we walk are simply not part of this run.
  const head = await opts.store.head();
  const base = await opts.store.base();
  const { valid, invalid } = await loadCheckpoints(opts.checkpoints, opts.trustedKeys);
  const bySeq = checkpointsBySeq(valid);

  const result = await walk(opts, head, base, bySeq, valid);
  if (invalid === null || (!result.ok && result.seq < invalid.seq)) return result;
  return invalid;
}

async function walk(
  opts: VerifyChainOptions,
  head: ChainHead,
  base: ChainHead,
  bySeq: ReadonlyMap<number, readonly Checkpoint[]>,
  valid: readonly Checkpoint[],
): Promise<VerifyResult> {
  let walker: ChainWalker;
  let records = 0;
  let coveredSeq = 0;
  if (opts.segmentsDir !== undefined && base.seq > 0) {
    walker = new ChainWalker(GENESIS_HEAD, bySeq);
    const segments = await walkSegments(opts.segmentsDir, walker, opts.trustedKeys, base);
    if (!segments.ok) return segments;
    records += segments.records;
    coveredSeq = segments.lastCheckpointSeq;
  } else {
    walker = new ChainWalker(base, bySeq);
  }
  coveredSeq = Math.max(coveredSeq, base.seq);

  const pageSize = opts.pageSize ?? 500;
  const peek = async (seq: number) => (await opts.store.readRaw(seq, 1))[0] ?? null;
  for (let from = base.seq + 1; from <= head.seq; from += pageSize) {
    const raws = await opts.store.readRaw(from, Math.min(pageSize, head.seq - from + 1));
    for (const [i, raw] of raws.entries()) {
      const problem = await walker.check(from + i, raw, peek);
      if (problem) return problem;
      records += 1;
    }
  }

  if (walker.head.seq !== head.seq || walker.head.hash !== head.hash) {
    return failure(head.seq, 'head_mismatch', `the head names record ${head.seq} but the chain ends at record ${walker.head.seq}`);
  }
  // counted, then the head read again: records appended since the snapshot are behind the new head
  // (an append writes its record and the head in one script), so only a record stored beyond the
  // head as it is now is one that should not be there
  const stored = await opts.store.recordCount();
  const now = await opts.store.head();
  if (stored > now.seq - base.seq) {
    return failure(now.seq + 1, 'head_mismatch', `${stored - (now.seq - base.seq)} record(s) are stored beyond the head (${now.seq})`);
  }
  const beyond = valid.filter((cp) => cp.seq > head.seq).sort((a, b) => b.seq - a.seq)[0];
  if (beyond !== undefined) {
    return failure(
      head.seq + 1,
      'head_behind_checkpoint',
      `a checkpoint signed at ${beyond.time} covers record ${beyond.seq}, but the chain ends at ${head.seq}: the tail was truncated`,
    );
  }
  for (const cp of valid) if (cp.seq > coveredSeq) coveredSeq = cp.seq;

  const stale = await staleness(opts, head, coveredSeq);
  if (stale) return stale;
  return { ok: true, records, lastSeq: head.seq, lastCheckpointSeq: coveredSeq };
}

async function staleness(opts: VerifyChainOptions, head: ChainHead, coveredSeq: number): Promise<VerifyFailure | null> {
  const uncovered = head.seq - coveredSeq;
  if (uncovered <= 0) return null;
  const first = coveredSeq + 1;
  if (uncovered > opts.staleAfterRecords) {
    return failure(first, 'checkpoint_stale', `${uncovered} records since the last checkpoint (limit ${opts.staleAfterRecords}): checkpointing stopped`);
  }
  const [raw] = await opts.store.readRaw(first, 1);
  const record = raw == null ? null : parseRecord(raw);
  if (record === null) return null; // the walk above already read it; it was trimmed since
  const ageMs = opts.clock.now() - Date.parse(record.time);
  if (ageMs > opts.staleAfterMs) {
    return failure(
      first,
      'checkpoint_stale',
      `record ${first} is ${Math.round(ageMs / 1000)} s old and no checkpoint covers it (limit ${Math.round(opts.staleAfterMs / 1000)} s): checkpointing stopped`,
    );
  }
  return null;
}

/** Valid checkpoints by the seq they pin: what a ChainWalker checks each record against. */
export function checkpointsBySeq(valid: readonly Checkpoint[]): Map<number, Checkpoint[]> {
  const bySeq = new Map<number, Checkpoint[]>();
  for (const cp of valid) bySeq.set(cp.seq, [...(bySeq.get(cp.seq) ?? []), cp]);
  return bySeq;
}

/** Checkpoints from the file sink: the valid ones, and the first (lowest seq) invalid one. */
export async function loadCheckpoints(sink: CheckpointFileSink, keys: readonly VerifyKey[]): Promise<{ valid: Checkpoint[]; invalid: VerifyFailure | null }> {
  const valid: Checkpoint[] = [];
  let invalid: VerifyFailure | null = null;
  for (const { line, checkpoint } of await sink.readAll()) {
    let problem: VerifyFailure | null = null;
    if (checkpoint === null) problem = failure(0, 'checkpoint_signature_invalid', `${sink.path}:${line} is not a well-formed checkpoint`);
    else if (!checkpointSignatureValid(checkpoint, keys)) {
      problem = failure(
        checkpoint.seq,
        'checkpoint_signature_invalid',
        `the checkpoint at ${sink.path}:${line} (seq ${checkpoint.seq}) has an invalid signature or an unknown key`,
      );
    } else valid.push(checkpoint);
    if (problem && (invalid === null || problem.seq < invalid.seq)) invalid = problem;
  }
  return { valid, invalid };
}
