/**
 * Artifact garbage collection, mark and sweep: a blob is removed when nothing references it any
 * more (the references are the caller's to give: job records, promotion snapshots, audit records
 * still held by retention) and no writer has it pinned, and it is older than `minAgeMs`. Each
 * removal condemns the digest first (atomic against pins: artifact-pins.ts), so a job storing
 * the same digest meanwhile either keeps it (its pin came first) or stores it again after the
 * deletion (its pin waited). A dry run says what would go and touches nothing.
 */
import type { Clock, Logger } from '../shared/index.js';
import type { ArtifactPins } from './artifact-pins.js';
import type { CollectableArtifactStore } from './artifact-store.js';

/** Every digest something still points at; a source may name digests the store does not hold (ignored) or non-blob digests (harmless). */
export type ReferenceSource = () => AsyncIterable<string>;

export interface ArtifactGcOptions {
  readonly store: CollectableArtifactStore;
  readonly pins: ArtifactPins;
  readonly references: readonly ReferenceSource[];
  /** A blob written (or written again) less than this long ago is kept whatever references it. */
  readonly minAgeMs: number;
  readonly clock: Clock;
  readonly logger?: Logger | undefined;
}

export interface ArtifactGcReport {
  readonly dryRun: boolean;
  /** Blobs in the store, and their bytes. */
  readonly blobs: number;
  readonly bytes: number;
  /** Referenced (kept). */
  readonly referenced: number;
  /** Unreferenced but younger than minAgeMs, or pinned (kept). */
  readonly young: number;
  readonly pinned: number;
  /** Removed (a dry run: would be removed), and their bytes. */
  readonly removed: number;
  readonly removedBytes: number;
  readonly removedDigests: readonly string[];
}

export const GC_MIN_AGE_MS = 60 * 60 * 1000;

export async function collectArtifacts(o: ArtifactGcOptions, opts: { dryRun: boolean }): Promise<ArtifactGcReport> {
  await o.pins.prune();
  // the listing first, then the marks: a blob stored after the marks were read is young or pinned
  const blobs = [];
  for await (const b of o.store.list()) blobs.push(b);
  const live = new Set<string>();
  for (const source of o.references) for await (const d of source()) live.add(d);
  const pinnedNow = await o.pins.pinned();
  const cutoffMs = o.clock.now() - o.minAgeMs;
  let referenced = 0;
  let young = 0;
  let pinned = 0;
  let bytes = 0;
  const removed: { sha256: string; bytes: number }[] = [];
  for (const b of blobs) {
    bytes += b.bytes;
    if (live.has(b.sha256)) referenced += 1;
    else if (b.modifiedMs > cutoffMs) young += 1;
    else if (pinnedNow.has(b.sha256)) pinned += 1;
    else if (opts.dryRun) removed.push(b);
    else if (await removeUnpinned(o, b.sha256)) removed.push(b);
    else pinned += 1;
  }
  const report: ArtifactGcReport = {
    dryRun: opts.dryRun,
    blobs: blobs.length,
    bytes,
    referenced,
    young,
    pinned,
    removed: removed.length,
    removedBytes: removed.reduce((n, b) => n + b.bytes, 0),
    removedDigests: removed.map((b) => b.sha256),
  };
  o.logger?.info({ ...report, removedDigests: undefined }, opts.dryRun ? 'artifact GC (dry run)' : 'artifact GC');
  return report;
}

/** Condemn (refused while pinned), delete, release. */
async function removeUnpinned(o: ArtifactGcOptions, sha256: string): Promise<boolean> {
  if (!(await o.pins.condemn(sha256))) return false;
  try {
    await o.store.remove(sha256);
  } finally {
    await o.pins.release(sha256);
  }
  return true;
}

/** The blob names (64 hex digits) a stored record mentions: what a reference source yields from a record's JSON. */
export function digestsIn(text: string): string[] {
  return text.match(/\b[0-9a-f]{64}\b/g) ?? [];
}
