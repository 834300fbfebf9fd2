/**
 * Signs a checkpoint of the chain head when enough is uncovered: `everyRecords` records
 * since the last checkpoint, or an uncovered record older than `everyMs`. Each checkpoint is
 * appended to the file sink (authoritative) and copied to Redis. Run one checkpointer per
 * deployment (e.g. in the api role); a second one only adds redundant checkpoints.
 */
import type { Clock } from '../shared/index.js';
import { AUDIT_DEFAULTS } from './audit-options.js';
import { parseRecord, type ChainHead } from './audit-record.js';
import type { AuditStore } from './audit-store.js';
import { signCheckpoint, type Checkpoint } from './checkpoint.js';
import type { CheckpointFileSink } from './checkpoint-file-sink.js';
import type { SigningKey } from './signing-key.js';

export interface CheckpointerOptions {
  readonly store: AuditStore;
  readonly key: SigningKey;
  readonly sink: CheckpointFileSink;
  readonly clock: Clock;
  readonly everyRecords: number;
  readonly everyMs: number;
  /** How often the timer loop asks `maybeCheckpoint` (default: AuditOptionsSchema's checkpointPollMs). */
  readonly pollMs?: number;
  /** Where timer-loop failures go (they never throw out of the timer). */
  readonly onError?: (err: unknown) => void;
}

export class Checkpointer {
  private last: Checkpoint | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CheckpointerOptions) {}

  /** Checkpoints the head if one is due; returns the new checkpoint or null. */
  maybeCheckpoint(): Promise<Checkpoint | null> {
    return this.serialized(async () => {
      const head = await this.dueHead();
      return head === null ? null : this.checkpoint(head);
    });
  }

  /** Checkpoints the head now unless it is already covered (or the chain is empty). */
  checkpointNow(): Promise<Checkpoint | null> {
    return this.serialized(async () => {
      const head = await this.opts.store.head();
      const last = await this.lastCheckpoint();
      return head.seq === 0 || (last !== null && last.seq >= head.seq) ? null : this.checkpoint(head);
    });
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      this.maybeCheckpoint().catch((err: unknown) => this.opts.onError?.(err));
    }, this.opts.pollMs ?? AUDIT_DEFAULTS.checkpointPollMs);
    this.timer.unref();
  }

  /** Stops the loop and waits for a checkpoint in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  /** The head when a checkpoint is due (enough records, or the oldest uncovered one is old enough); null otherwise. */
  private async dueHead(): Promise<ChainHead | null> {
    const head = await this.opts.store.head();
    const coveredSeq = (await this.lastCheckpoint())?.seq ?? 0;
    const uncovered = head.seq - coveredSeq;
    if (uncovered <= 0) return null;
    if (uncovered >= this.opts.everyRecords) return head;
    const [raw] = await this.opts.store.readRaw(coveredSeq + 1, 1);
    const oldest = raw == null ? null : parseRecord(raw);
    // Gone (trimmed) or unreadable: checkpoint now rather than guess.
    if (oldest === null) return head;
    return this.opts.clock.now() - Date.parse(oldest.time) >= this.opts.everyMs ? head : null;
  }

  private async checkpoint(head: ChainHead): Promise<Checkpoint> {
    const checkpoint = signCheckpoint(this.opts.key, { seq: head.seq, headHash: head.hash, timeMs: this.opts.clock.now() });
    await this.opts.sink.append(checkpoint);
    this.last = checkpoint;
    await this.opts.store.putCheckpoint(checkpoint);
    return checkpoint;
  }

  /** The newest of ours and the Redis copies (another process may have checkpointed). */
  private async lastCheckpoint(): Promise<Checkpoint | null> {
    const stored = await this.opts.store.lastCheckpoint();
    if (stored !== null && (this.last === null || stored.seq > this.last.seq)) this.last = stored;
    return this.last;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
