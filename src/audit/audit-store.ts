/**
 * Port: where the audit chain lives. Producers (api, worker) only call `append`; verify and
 * the checkpointer read through the rest. `RedisAuditStore` is the adapter.
 */
import type { AuditEvent, AuditRecord, ChainHead } from './audit-record.js';
import type { Checkpoint } from './checkpoint.js';

export interface AuditStore {
  /**
   * Redacts the event, links it to the current head and stores it atomically; returns the
   * stored record. Throws AppError AUDIT_UNAVAILABLE when the record could not be written:
   * a caller that must fail closed refuses the operation then.
   */
  append(event: AuditEvent): Promise<AuditRecord>;
  /** The last record appended; GENESIS_HEAD for an empty chain. */
  head(): Promise<ChainHead>;
  /** The last record removed by retention (exported to a segment); GENESIS_HEAD when none. */
  base(): Promise<ChainHead>;
  /** Stored JSON of records fromSeq .. fromSeq+count-1, null where absent. */
  readRaw(fromSeq: number, count: number): Promise<Array<string | null>>;
  /** How many records are stored (not trimmed). */
  recordCount(): Promise<number>;
  /** Keeps a convenience copy of a checkpoint (the file sink is authoritative). */
  putCheckpoint(checkpoint: Checkpoint): Promise<void>;
  /** The highest-seq checkpoint copy, or null. */
  lastCheckpoint(): Promise<Checkpoint | null>;
}
