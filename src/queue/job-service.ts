/**
 * The job mutations, whoever asks (HTTP, MCP, the command line), each appending its audit record
 * where it mutates:
 * - submit: the job's record is written but not queued, `job.submit` is appended, and only then
 *   is the job queued — so no worker can start (and record `job.start`) a job whose submission
 *   is not recorded. If the record cannot be written the job is discarded: not done. (If the
 *   queue then refuses it, it is discarded too, and a `job.cancel` record says it never ran.)
 * - cancel: the cancel compare-and-set, then `job.cancel`. A cancel only takes away, so it is not
 *   held back by the audit log: if its record cannot be written it stands, and the caller hears
 *   AUDIT_UNAVAILABLE.
 */
import { recordMutation, type AuditOrigin, type AuditStore } from '../audit/index.js';
import { AppError, type Logger } from '../shared/index.js';
import { codeDigestOf } from './code-digest.js';
import type { JobProducer } from './job-producer.js';
import type { CancelOutcome } from './job-store.js';
import type { JobInput, JobRecord } from './job-types.js';

export interface JobServiceDeps {
  readonly producer: JobProducer;
  readonly audit: AuditStore;
  readonly logger: Logger;
}

/** A cancel that did something: `did_cancel` (queued → cancelled) or `cancelling` (running: the worker kills it). */
export interface CancelledJob {
  readonly outcome: Extract<CancelOutcome, 'did_cancel' | 'cancelling'>;
  /** The job as it is after the cancel. */
  readonly job: JobRecord;
}

export class JobService {
  constructor(private readonly deps: JobServiceDeps) {}

  /** `details`: what the caller adds to the record (e.g. which requested tools were refused, and why). */
  async submit(ownerKeyId: string, input: JobInput, origin: AuditOrigin<JobRecord>, details: Readonly<Record<string, unknown>> = {}): Promise<JobRecord> {
    const { producer, logger } = this.deps;
    const rec = await producer.create(ownerKeyId, input);
    // what this input costs in Redis, and the key's running total (for admins, and a future quota)
    const usage = await producer.store.inputUsage(rec.id, ownerKeyId).catch((err: unknown) => logger.warn({ err, jobId: rec.id }, 'input usage not read'));
    try {
      await recordMutation(this.deps.audit, origin, { action: 'job.submit', target: rec.id, codeDigest: codeDigestOf(input), details: { ...details, ...usage } }, rec);
    } catch (err) {
      logger.error({ err, jobId: rec.id }, 'job.submit not recorded; the job is discarded');
      await producer.discard(rec).catch((e: unknown) => logger.error({ err: e, jobId: rec.id }, 'an unrecorded job could not be discarded (it was never queued)'));
      throw err;
    }
    try {
      await producer.enqueue(rec);
    } catch (err) {
      // recorded as submitted, then never queued (enqueue discarded it): say so in its trail
      const code = err instanceof AppError ? err.code : 'INTERNAL';
      await this.deps.audit
        .append({ actor: origin.actor, action: 'job.cancel', target: rec.id, outcome: { result: 'cancelled', error: code }, details: { reason: 'not queued' } })
        .catch((e: unknown) => logger.error({ err: e, jobId: rec.id }, 'a recorded job that was never queued has no job.cancel record'));
      throw err;
    }
    return rec;
  }

  /** JOB_ALREADY_FINISHED when there is nothing to cancel (the job ended, or its record is gone). */
  async cancel(id: string, origin: AuditOrigin<CancelledJob>): Promise<CancelledJob> {
    const { producer } = this.deps;
    const outcome = await producer.cancel(id);
    if (outcome !== 'did_cancel' && outcome !== 'cancelling') {
      throw new AppError('JOB_ALREADY_FINISHED', `job ${id} already finished (${outcome ?? 'unknown'}); nothing to cancel`);
    }
    const job = await producer.get(id);
    if (job === undefined) throw new AppError('JOB_NOT_FOUND', `job ${id} is gone`);
    const cancelled: CancelledJob = { outcome, job };
    await recordMutation(this.deps.audit, origin, { action: 'job.cancel', target: id, result: outcome === 'did_cancel' ? 'cancelled' : 'killing' }, cancelled);
    return cancelled;
  }
}
