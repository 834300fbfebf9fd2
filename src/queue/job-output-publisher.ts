/**
 * The worker's side of a job's live events: its container's start, then its output as it comes,
 * batched (a chunk per stream every `flushMs` or `chunkBytes`, whichever first) and appended in
 * order to the job's event log. Best effort: a failed append is logged once and the job runs on;
 * the stored result, not this stream, is the record. `close()` flushes what is left, so every
 * chunk is in the log before the job's final status is written.
 */
import type { Logger } from '../shared/index.js';
import type { JobEventLog, StoredJobEvent } from './job-event-log.js';

type Stream = 'stdout' | 'stderr';

export class JobOutputPublisher {
  private readonly pending: Record<Stream, { offset: number; parts: Buffer[]; bytes: number }> = {
    stdout: { offset: 0, parts: [], bytes: 0 },
    stderr: { offset: 0, parts: [], bytes: 0 },
  };
  private order: StoredJobEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failed = false;

  constructor(
    private readonly log: JobEventLog,
    private readonly jobId: string,
    private readonly attempt: number,
    private readonly logger: Logger,
    private readonly opts: { flushMs?: number; chunkBytes?: number } = {},
  ) {}

  /** The container started: the `running` event. */
  running(containerId: string, at: string): void {
    this.order.push({ type: 'state', status: 'running', at, attempt: this.attempt, containerId });
    this.flush();
  }

  /** The sandbox's output listener (bytes the result keeps, in order per stream). */
  readonly onOutput = (stream: Stream, offsetBytes: number, data: Buffer): void => {
    const p = this.pending[stream];
    if (p.bytes === 0) p.offset = offsetBytes;
    p.parts.push(data);
    p.bytes += data.length;
    if (p.bytes >= (this.opts.chunkBytes ?? 64 * 1024)) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.opts.flushMs ?? 100);
  };

  /** Flushes what is pending and waits for every append. */
  async close(): Promise<void> {
    this.flush();
    await this.chain;
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const stream of ['stdout', 'stderr'] as const) {
      const p = this.pending[stream];
      if (p.bytes === 0) continue;
      this.order.push({ type: 'output', stream, offset: p.offset, data: Buffer.concat(p.parts).toString('base64'), attempt: this.attempt });
      this.pending[stream] = { offset: p.offset + p.bytes, parts: [], bytes: 0 };
    }
    const batch = this.order;
    this.order = [];
    if (batch.length === 0) return;
    // appends chained: the log holds the events in the order they happened
    this.chain = this.chain.then(() =>
      this.log.append(this.jobId, batch).catch((err: unknown) => {
        if (!this.failed) this.logger.warn({ err, jobId: this.jobId }, 'live events not written (the result is unaffected)');
        this.failed = true;
      }),
    );
  }
}
