/**
 * `airlock audit export --since --until`: JSONL of every record with since <= time < until,
 * from the segment files (trimmed records) and then Redis, in seq order. Streams with
 * backpressure; never holds more than one page in memory.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { AppError } from '../shared/index.js';
import { parseRecord } from './audit-record.js';
import type { RedisAuditStore } from './redis-audit-store.js';
import { listSegments, parseTrailer, readSegmentLines } from './segment-file.js';

export type TimeInput = Date | string | number;

export interface ExportRangeOptions {
  readonly store: RedisAuditStore;
  /** Read trimmed records from here; without it only Redis is exported. */
  readonly segmentsDir?: string;
  readonly since?: TimeInput;
  readonly until?: TimeInput;
  readonly out: Writable;
  readonly pageSize?: number;
}

export async function exportRange(opts: ExportRangeOptions): Promise<{ records: number }> {
  const sinceMs = opts.since === undefined ? -Infinity : toMs(opts.since, 'since');
  const untilMs = opts.until === undefined ? Infinity : toMs(opts.until, 'until');
  const base = await opts.store.base();
  const head = await opts.store.head();
  let records = 0;
  const write = async (line: string) => {
    records += 1;
    if (!opts.out.write(`${line}\n`)) await once(opts.out, 'drain');
  };

  if (opts.segmentsDir !== undefined) {
    for (const segment of await listSegments(opts.segmentsDir)) {
      if (segment.firstSeq > base.seq) break; // still in Redis too: exported from there
      for await (const line of readSegmentLines(segment.path)) {
        if (parseTrailer(line) !== null) continue;
        const record = parseRecord(line);
        if (record === null) throw new AppError('INTERNAL', `${segment.name} holds an unreadable record; run \`airlock audit verify\``);
        const t = Date.parse(record.time);
        if (t >= untilMs) return { records }; // time is monotonic in seq: nothing later can match
        if (t >= sinceMs) await write(line);
      }
    }
  }

  let from = Math.max(base.seq + 1, sinceMs === -Infinity ? 1 : ((await opts.store.firstSeqFrom(sinceMs)) ?? head.seq + 1));
  const to = untilMs === Infinity ? head.seq : Math.min(head.seq, await opts.store.lastSeqBefore(untilMs));
  const pageSize = opts.pageSize ?? 500;
  for (; from <= to; from += pageSize) {
    for (const raw of await opts.store.readRaw(from, Math.min(pageSize, to - from + 1))) {
      if (raw !== null) await write(raw);
    }
  }
  return { records };
}

export function toMs(value: TimeInput, name: string): number {
  const ms = value instanceof Date ? value.getTime() : typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) throw new AppError('INVALID_REQUEST', `${name} is not a valid time`);
  return ms;
}
