/**
 * Verify's pass over the segment files: they must cover 1..base without gaps, each must match
 * its checksum, chain on from the one before, and end with a trailer whose signed checkpoint
 * pins its last record; the last must end exactly at the Redis base.
 */
import type { ChainHead } from './audit-record.js';
import { failure, type ChainWalker, type VerifyFailure } from './chain-walker.js';
import { checkpointSignatureValid } from './checkpoint.js';
import { checkSegmentChecksum, listSegments, parseTrailer, readSegmentLines, type SegmentFile, type SegmentTrailer } from './segment-file.js';
import type { VerifyKey } from './signing-key.js';

export type SegmentWalk = { ok: true; records: number; lastCheckpointSeq: number } | VerifyFailure;

export async function walkSegments(dir: string, walker: ChainWalker, keys: readonly VerifyKey[], base: ChainHead): Promise<SegmentWalk> {
  let records = 0;
  let lastCheckpointSeq = 0;
  for (const segment of await listSegments(dir)) {
    // A segment past the base was written by a retention run that crashed before trimming:
    // its records are still in Redis, which is where the walk reads them.
    if (segment.firstSeq > base.seq) break;
    const expected = walker.head.seq + 1;
    if (segment.firstSeq > expected) return failure(expected, 'segment_missing', `no segment file holds records ${expected}..${segment.firstSeq - 1}`);
    if (segment.firstSeq < expected || segment.lastSeq > base.seq || segment.lastSeq < segment.firstSeq) {
      return failure(segment.firstSeq, 'segment_corrupt', `${segment.name} overlaps its neighbours or the Redis base (${base.seq})`);
    }
    const checksum = await checkSegmentChecksum(segment);
    if (checksum !== 'ok') return failure(segment.firstSeq, 'segment_corrupt', `${segment.name}: ${checksum.replace('_', ' ')}`);
    const walked = await walkOne(segment, walker, keys);
    if (!walked.ok) return walked;
    records += walked.records;
    lastCheckpointSeq = segment.lastSeq;
  }
  if (walker.head.seq < base.seq) {
    return failure(walker.head.seq + 1, 'segment_missing', `no segment file holds records ${walker.head.seq + 1}..${base.seq}`);
  }
  if (walker.head.hash !== base.hash) {
    return failure(base.seq, 'segment_corrupt', `the segments end with a different record ${base.seq} than the Redis base names`);
  }
  return { ok: true, records, lastCheckpointSeq };
}

async function walkOne(segment: SegmentFile, walker: ChainWalker, keys: readonly VerifyKey[]): Promise<{ ok: true; records: number } | VerifyFailure> {
  const corrupt = (seq: number, why: string) => failure(seq, 'segment_corrupt', `${segment.name}: ${why}`);
  let seq = segment.firstSeq;
  let trailer: SegmentTrailer | null = null;
  try {
    for await (const line of readSegmentLines(segment.path)) {
      if (trailer !== null) return corrupt(segment.lastSeq, 'lines after the trailer');
      trailer = parseTrailer(line);
      if (trailer !== null) continue;
      if (seq > segment.lastSeq) return corrupt(seq, `more records than its name says`);
      const problem = await walker.check(seq, line);
      if (problem) return problem;
      seq += 1;
    }
  } catch (err) {
    return corrupt(seq, `unreadable (${err instanceof Error ? err.message : String(err)})`);
  }
  if (trailer === null) return corrupt(segment.lastSeq, 'no trailer');
  if (seq !== segment.lastSeq + 1) return corrupt(seq, `ends after record ${seq - 1}, its name says ${segment.lastSeq}`);
  const cp = trailer.checkpoint;
  if (trailer.firstSeq !== segment.firstSeq || trailer.lastSeq !== segment.lastSeq || trailer.headHash !== walker.head.hash) {
    return corrupt(segment.lastSeq, 'the trailer does not describe the records');
  }
  if (cp.seq !== segment.lastSeq || cp.headHash !== trailer.headHash || !checkpointSignatureValid(cp, keys)) {
    return corrupt(segment.lastSeq, 'the trailer checkpoint is invalid');
  }
  return { ok: true, records: segment.lastSeq - segment.firstSeq + 1 };
}
