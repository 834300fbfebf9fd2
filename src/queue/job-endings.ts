/**
 * How a job ends when it does not end with a result: requeued for a retry, `error`, or
 * `cancelled` because its API key was revoked. Each ending is one compare-and-set on the record
 * and, where it applied, one audit record by this worker. `job.finish` is fail-closed: when it
 * cannot be written, the result is withheld and the job ends as `error`. A finished run's end is
 * held (the append and the finish script retried) while Redis is away, up to `finishHoldMs`:
 * an outage shorter than that loses no good result.
 */
import type { AuditEvent, AuditStore } from '../audit/index.js';
import { AppError, isAppError, type Clock, type Logger } from '../shared/index.js';
import { KEY_REVOKED_ERROR, type KeyRefusal, type RedisJobStore } from './job-store.js';
import type { JobError } from './job-types.js';
import { workerEvent } from './worker-event.js';

export interface EndingDeps {
  readonly store: RedisJobStore;
  readonly audit: AuditStore;
  readonly clock: Clock;
  readonly workerId: string;
  readonly logger: Logger;
  /** How long a finished run's end is held while its job.finish or finish script cannot be written (Redis away); default FINISH_HOLD_MS. */
  readonly finishHoldMs?: number | undefined;
}

/** A finished run's end is held this long by default: a Redis restart or failover is well inside it. */
export const FINISH_HOLD_MS = 60_000;
/** Waits between tries while an end is held: doubling from the first, never longer than the last. */
const HOLD_FIRST_WAIT_MS = 200;
const HOLD_MAX_WAIT_MS = 2000;

/** The verdict on a failed attempt: retried by BullMQ (the record is back to `queued`), or ended as `error`. */
export interface FailedAttempt {
  readonly error: AppError;
  readonly retry: boolean;
}

/**
 * A retryable AppError before the last attempt is requeued (BullMQ backs off and retries);
 * anything else, or the last attempt, ends the job as `error`.
 */
export async function failAttempt(deps: EndingDeps, jobId: string, err: unknown, lastAttempt: boolean): Promise<FailedAttempt> {
  const log = deps.logger.child({ jobId });
  const error = isAppError(err) ? err : new AppError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
  const reason: JobError = { code: error.code, message: error.message };
  if (error.retryable && !lastAttempt) {
    log.warn({ err: error }, 'infrastructure failure; will retry');
    await deps.store.requeue(jobId, reason).catch((e: unknown) => log.error({ err: e }, 'could not requeue the job record'));
    return { error, retry: true };
  }
  log.error({ err: error }, 'job ended in error');
  await endAsError(deps, jobId, reason);
  return { error, retry: false };
}

/** queued|running → error, with a job.finish record when this call ended it. */
export async function endAsError(deps: EndingDeps, jobId: string, error: JobError): Promise<void> {
  const r = await deps.store.finish(jobId, 'error', { error, finishedAt: now(deps) });
  if (!r.applied) return;
  await appendFinish(deps, workerEvent(deps.workerId, 'job.finish', jobId, { outcome: { result: 'error', error: `${error.code}: ${error.message}` } })).catch((err: unknown) =>
    deps.logger.error({ err, jobId }, 'could not audit the end of a failed job'),
  );
}

/** A started job whose key was revoked before its program ran: running → cancelled (KEY_REVOKED), audited. */
export async function cancelForKey(deps: EndingDeps, jobId: string): Promise<void> {
  const r = await deps.store.transition(jobId, ['running'], 'cancelled', { finishedAt: now(deps), error: JSON.stringify(KEY_REVOKED_ERROR) });
  deps.logger.warn({ jobId, applied: r.applied }, 'API key revoked before the job ran; cancelled');
  if (r.applied) await auditKeyRefusal(deps, jobId, 'revoked', 'before the container started');
}

/** One job.cancel record by this worker for a job it refused to run because of its key. */
export async function auditKeyRefusal(deps: EndingDeps, jobId: string, state: KeyRefusal, when: string): Promise<void> {
  await deps.audit
    .append(
      workerEvent(deps.workerId, 'job.cancel', jobId, {
        outcome: { result: 'cancelled', error: KEY_REVOKED_ERROR.code },
        details: { reason: state === 'missing' ? 'key missing' : 'key revoked', at: when },
      }),
    )
    .catch((err: unknown) => deps.logger.error({ err, jobId }, 'could not audit a job refused for its key'));
}

/**
 * job.finish is retried while it cannot be written, up to the hold (failing it as retryable would
 * run the program again). If it still fails, AUDIT_UNAVAILABLE (not retryable): the job ends as
 * `error` and its result is withheld.
 */
export async function appendFinish(deps: Pick<EndingDeps, 'audit' | 'clock' | 'finishHoldMs'>, event: AuditEvent): Promise<void> {
  try {
    await holdWhileFailing(
      deps,
      () => deps.audit.append(event),
      () => true,
    );
  } catch (err) {
    throw new AppError('AUDIT_UNAVAILABLE', 'the job ran but its end could not be audited; the result is withheld', { retryable: false, cause: err });
  }
}

/**
 * Runs `attempt` until it succeeds, retrying the failures `retry` accepts with a doubling wait
 * until `finishHoldMs` has passed since the first try; then the last failure is thrown.
 */
export async function holdWhileFailing<T>(deps: Pick<EndingDeps, 'clock' | 'finishHoldMs'>, attempt: () => Promise<T>, retry: (err: unknown) => boolean): Promise<T> {
  const until = deps.clock.now() + (deps.finishHoldMs ?? FINISH_HOLD_MS);
  for (let wait = HOLD_FIRST_WAIT_MS; ; wait = Math.min(wait * 2, HOLD_MAX_WAIT_MS)) {
    try {
      return await attempt();
    } catch (err) {
      const left = until - deps.clock.now();
      if (left <= 0 || !retry(err)) throw err;
      await deps.clock.sleep(Math.min(wait, left));
    }
  }
}

function now(deps: Pick<EndingDeps, 'clock'>): string {
  return new Date(deps.clock.now()).toISOString();
}
