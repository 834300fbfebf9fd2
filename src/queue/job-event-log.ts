/**
 * A job's live events in Redis: one stream per job, `{prefix}:job:<id>:events`, that the worker
 * appends to while the job runs (its container's start, output chunks) and the API reads from
 * for GET /v1/jobs/:id/events. A stream entry's id is the event's SSE id, so Last-Event-ID
 * resumes exactly after the last event a client saw (XRANGE with an exclusive start).
 *
 * Bounded three ways: output chunks carry only what the stored result keeps (the sandbox's caps),
 * the stream is trimmed to about `maxEntries` (a chatty job's oldest entries go first) and it
 * expires `ttlS` after its last append, like the finished job's record.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseStoredJson, redisCall } from '../shared/index.js';

export const StoredJobEventSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('state'), status: z.literal('running'), at: z.string(), attempt: z.number().int(), containerId: z.string() }),
  z.object({
    type: z.literal('output'),
    stream: z.enum(['stdout', 'stderr']),
    offset: z.number().int().min(0),
    /** base64 of the bytes */
    data: z.string(),
    attempt: z.number().int(),
  }),
]);
export type StoredJobEvent = z.infer<typeof StoredJobEventSchema>;

export interface LoggedJobEvent {
  /** The stream entry id (`<ms>-<seq>`): the event's SSE id. */
  readonly id: string;
  readonly event: StoredJobEvent;
}

/** A stream id as Redis writes them; anything else from a client is not a position. */
export const STREAM_ID = /^\d{1,20}-\d{1,20}$/;

export class JobEventLog {
  constructor(
    private readonly redis: Redis,
    /** The deployment's key root (`{prefix}`). */
    private readonly root: string,
    private readonly ttlS: number,
    private readonly maxEntries = 20_000,
  ) {}

  key(jobId: string): string {
    return `${this.root}:job:${jobId}:events`;
  }

  /** Appends in order, in one round trip. */
  async append(jobId: string, events: readonly StoredJobEvent[]): Promise<void> {
    if (events.length === 0) return;
    const key = this.key(jobId);
    const p = this.redis.pipeline();
    for (const e of events) p.xadd(key, 'MAXLEN', '~', this.maxEntries, '*', 'e', JSON.stringify(e));
    p.expire(key, this.ttlS);
    await redisCall('append job events', async () => {
      for (const [err] of (await p.exec()) ?? []) if (err) throw err;
    });
  }

  /** Events after `afterId` (all when undefined), oldest first, at most `count`. */
  async read(jobId: string, afterId: string | undefined, count = 500): Promise<LoggedJobEvent[]> {
    const start = afterId === undefined ? '-' : `(${afterId}`;
    const entries = await redisCall('read job events', () => this.redis.xrange(this.key(jobId), start, '+', 'COUNT', count));
    return entries.map(([id, fields]) => ({ id, event: parseStoredJson(StoredJobEventSchema, fields[1] ?? '', 'job event') }));
  }
}
