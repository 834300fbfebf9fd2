/**
 * Segment files: records retention removed from Redis, as gzip JSONL in seq order, ending
 * with a trailer that carries a signed checkpoint at the last seq. A `.sha256` file next to
 * each (sha256sum format) lets verify spot a damaged file before reading it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { createGunzip, gzip } from 'node:zlib';
import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../shared/index.js';
import type { AuditRecord } from './audit-record.js';
import { CheckpointSchema, type Checkpoint } from './checkpoint.js';

const gzipAsync = promisify(gzip);
const SEGMENT_NAME = /^audit-(\d{12})-(\d{12})\.jsonl\.gz$/;

export const SegmentTrailerSchema = z.strictObject({
  type: z.literal('segment-end'),
  firstSeq: z.number().int().positive(),
  lastSeq: z.number().int().positive(),
  headHash: z.string().regex(/^[0-9a-f]{64}$/),
  checkpoint: CheckpointSchema,
});
export type SegmentTrailer = z.infer<typeof SegmentTrailerSchema>;

export interface SegmentFile {
  readonly name: string;
  readonly path: string;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

/** Zero-padded, so names sort in seq order. */
export function segmentName(firstSeq: number, lastSeq: number): string {
  return `audit-${String(firstSeq).padStart(12, '0')}-${String(lastSeq).padStart(12, '0')}.jsonl.gz`;
}

/**
 * Writes one segment (records must be consecutive and end at checkpoint.seq) via a temp file
 * and rename, each synced, so a crash never leaves a half-written segment under its name.
 * Returns the file and the sha256 of its bytes.
 */
export async function writeSegment(dir: string, records: readonly AuditRecord[], checkpoint: Checkpoint): Promise<SegmentFile & { sha256: string }> {
  const first = records[0];
  const last = records.at(-1);
  if (first === undefined || last === undefined) throw new Error('a segment needs at least one record');
  const trailer: SegmentTrailer = { type: 'segment-end', firstSeq: first.seq, lastSeq: last.seq, headHash: last.hash, checkpoint };
  const lines = records.map((r) => canonicalJson(r));
  lines.push(canonicalJson(trailer));
  const gz = await gzipAsync(Buffer.from(`${lines.join('\n')}\n`));
  const name = segmentName(first.seq, last.seq);
  const path = join(dir, name);
  const sha256 = sha256Hex(gz);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeDurably(path, gz);
  await writeDurably(`${path}.sha256`, `${sha256}  ${name}\n`);
  return { name, path, firstSeq: first.seq, lastSeq: last.seq, sha256 };
}

async function writeDurably(path: string, data: string | Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
}

/** Segment files in `dir`, by first seq; an absent dir has none. */
export async function listSegments(dir: string): Promise<SegmentFile[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentFile[] = [];
  for (const name of names) {
    const m = SEGMENT_NAME.exec(name);
    if (m) out.push({ name, path: join(dir, name), firstSeq: Number(m[1]), lastSeq: Number(m[2]) });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq || a.lastSeq - b.lastSeq);
}

/** 'ok', or why the file's bytes cannot be trusted. */
export async function checkSegmentChecksum(segment: SegmentFile): Promise<'ok' | 'checksum_missing' | 'checksum_mismatch'> {
  let expected: string;
  try {
    expected = (await readFile(`${segment.path}.sha256`, 'utf8')).split(/\s+/)[0] ?? '';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'checksum_missing';
    throw err;
  }
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(segment.path)) hash.update(chunk as Buffer);
  return hash.digest('hex') === expected ? 'ok' : 'checksum_mismatch';
}

/** The segment's lines (records, then the trailer), decompressed as a stream. */
export async function* readSegmentLines(path: string): AsyncGenerator<string> {
  // pipeline (not pipe) so a read or gunzip error ends the iteration with that error.
  const gunzip = createGunzip();
  const done = pipeline(createReadStream(path), gunzip);
  done.catch(() => undefined); // observed below; this only keeps an early failure from counting as unhandled
  gunzip.setEncoding('utf8');
  let rest = '';
  try {
    for await (const chunk of gunzip) {
      const lines = (rest + (chunk as string)).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) if (line !== '') yield line;
    }
    await done;
  } finally {
    gunzip.destroy();
  }
  if (rest !== '') yield rest;
}

/** Parses a trailer line; null when the line is not one. */
export function parseTrailer(line: string): SegmentTrailer | null {
  try {
    const parsed = SegmentTrailerSchema.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
