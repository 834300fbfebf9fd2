/**
 * The job mutations, whoever asks (HTTP, MCP, the command line), each appending its audit record
 * where it mutates:
 * - submit: the job's record is written but not queued, `job.submit` is appended, and only then
 *   is the job queued — so no worker can start (and record `job.start`) a job whose submission
 *   is not recorded. If the record cannot be written the job is discarded: not done. (If the
 *   queue then refuses it, it is discarded too, and a `job.cancel` record says it never ran.)
 * - every submission is admitted first by the limiter (monitor's RateLimiter: the queue cap, the
 *   key's in-flight maximum, its submissions per minute and input bytes per day, then its fairness
 *   priority); a refusal stores nothing, is summed into `ratelimit.refused` records and leaves as
 *   429 RATE_LIMITED or 503 QUEUE_FULL with Retry-After. Each accepted submission feeds the key's
 *   behavioural baseline (`submits`).
 * - cancel: the cancel compare-and-set, then `job.cancel`. A cancel only takes away, so it is not
 *   held back by the audit log: if its record cannot be written it stands, and the caller hears
 *   AUDIT_UNAVAILABLE.
 */
import { recordMutation, type AuditOrigin, type AuditStore } from '../audit/index.js';
import type { ApiKeyInfo } from '../credentials/index.js';
import { LimitRefusal, type BehaviourEvents, type RateLimiter, type RefusalRecorder } from '../monitor/index.js';
import { AppError, newId, type Logger } from '../shared/index.js';
import { codeDigestOf } from './code-digest.js';
import type { JobProducer } from './job-producer.js';
import type { CancelOutcome, InputUsage } from './job-store.js';
import type { JobInput, JobRecord } from './job-types.js';

export interface JobServiceDeps {
  readonly producer: JobProducer;
  readonly audit: AuditStore;
  readonly logger: Logger;
  readonly limiter: RateLimiter;
  /** Where a limit's refusals are summed into audit records. */
  readonly refusals: RefusalRecorder;
  /** The keys' behavioural baselines (anomaly detection). */
  readonly behaviour: BehaviourEvents;
  /** Benchmarks only (Config.http.unlimitedForBenchmark): submit without admission or observation, to measure what they cost. */
  readonly unlimitedForBenchmark?: boolean;
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
  async submit(owner: Pick<ApiKeyInfo, 'id' | 'role'>, input: JobInput, origin: AuditOrigin<JobRecord>, details: Readonly<Record<string, unknown>> = {}): Promise<JobRecord> {
    const { producer, logger } = this.deps;
    const ownerKeyId = owner.id;
    const id = newId('job');
    const { priority } = this.deps.unlimitedForBenchmark === true ? { priority: undefined } : await this.admit(owner, id, input);
    let rec: JobRecord;
    // what this input costs in Redis, and the key's running total (for admins, and a future quota)
    let usage: InputUsage;
    try {
      ({ record: rec, usage } = await producer.create(ownerKeyId, input, id));
    } catch (err) {
      // admitted: the id holds a place in the key's open set until discarded
      await producer.discard({ id, ownerKeyId }).catch((e: unknown) => logger.error({ err: e, jobId: id }, 'an admitted job that was never created keeps its in-flight place'));
      throw err;
    }
    try {
      await recordMutation(this.deps.audit, origin, { action: 'job.submit', target: rec.id, codeDigest: codeDigestOf(input), details: { ...details, ...usage } }, rec);
    } catch (err) {
      logger.error({ err, jobId: rec.id }, 'job.submit not recorded; the job is discarded');
      await producer.discard(rec).catch((e: unknown) => logger.error({ err: e, jobId: rec.id }, 'an unrecorded job could not be discarded (it was never queued)'));
      throw err;
    }
    try {
      await producer.enqueue(rec, { priority });
    } catch (err) {
      // recorded as submitted, then never queued (enqueue discarded it): say so in its trail
      const code = err instanceof AppError ? err.code : 'INTERNAL';
      await this.deps.audit
        .append({ actor: origin.actor, action: 'job.cancel', target: rec.id, outcome: { result: 'cancelled', error: code }, details: { reason: 'not queued' } })
        .catch((e: unknown) => logger.error({ err: e, jobId: rec.id }, 'a recorded job that was never queued has no job.cancel record'));
      throw err;
    }
    if (this.deps.unlimitedForBenchmark !== true) this.deps.behaviour.observe(ownerKeyId, 'submits');
    return rec;
  }

  /** The limiter's admission; a refusal is recorded (summed) and rethrown. */
  private async admit(owner: Pick<ApiKeyInfo, 'id' | 'role'>, id: string, input: JobInput) {
    try {
      return await this.deps.limiter.admitJob(owner.id, owner.role, id, inputBytesOf(input), this.deps.producer.admissionKeys(owner.id));
    } catch (err) {
      if (err instanceof LimitRefusal) {
        void this.deps.refusals.refused({ keyId: owner.id, role: owner.role }, err.decision.limitName, err.code);
        this.deps.behaviour.observe(owner.id, 'refused');
      }
      throw err;
    }
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

/** What a job's input weighs against the key's daily input allowance: its JSON size (files, patch, stdin, argv, env). */
function inputBytesOf(input: JobInput): number {
  return Buffer.byteLength(JSON.stringify(input));
}
