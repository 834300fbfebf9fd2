/**
 * The one translation of Redis failures. An outage (no connection, a timeout, a cluster that
 * cannot serve the slot, a server out of memory or still loading) becomes a retryable
 * REDIS_UNAVAILABLE, which the API answers 503 and the worker retries; a reply that says our
 * own request was wrong (WRONGTYPE, a Lua runtime error) is a bug: INTERNAL, not retried.
 * Both are `RedisFailure`s, so a store with a fail-closed code of its own (the audit log's
 * AUDIT_UNAVAILABLE) can tell a Redis failure from its own errors in one place.
 */
import { AppError } from '../errors.js';

/** An AppError raised by the Redis seam: `REDIS_UNAVAILABLE` (retryable) or `INTERNAL`. */
export class RedisFailure extends AppError {}

/** Reply codes that mean "Redis cannot serve this now", not "this request is wrong". */
const OUTAGE_CODES = new Set(['OOM', 'LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'MISCONF', 'NOREPLICAS', 'CLUSTERDOWN', 'TRYAGAIN', 'MOVED', 'ASK', 'CROSSSLOT']);
/** EXECABORT carries the reason the transaction was discarded (e.g. OOM while queueing). */
const EXECABORT = /^EXECABORT Transaction discarded because of(?: previous errors)?[:.]?\s*/;
/** Errors of ours, never of the connection: a bug in how we called the driver. */
const PROGRAMMING_ERRORS = new Set(['TypeError', 'RangeError', 'SyntaxError', 'ReferenceError']);

/** The first word of a Redis error reply (`OOM`, `WRONGTYPE`, `ERR`, …), past an EXECABORT wrapper. */
export function replyCode(message: string): string {
  return message.replace(EXECABORT, '').split(/[\s.]/, 1)[0] ?? '';
}

function isReplyError(err: Error): boolean {
  return err.name === 'ReplyError';
}

/** Whether `err` (from the driver) means Redis is unavailable rather than that we asked wrongly. */
export function isRedisOutage(err: unknown): boolean {
  if (err instanceof RedisFailure) return err.code === 'REDIS_UNAVAILABLE';
  if (!(err instanceof Error)) return false;
  if (isReplyError(err)) {
    // EXECABORT: the reasons are the commands refused while queueing (ioredis: previousErrors)
    const previous = (err as { previousErrors?: unknown }).previousErrors;
    if (Array.isArray(previous) && previous.some(isRedisOutage)) return true;
    return OUTAGE_CODES.has(replyCode(err.message)) || /\bOOM command not allowed\b/.test(err.message);
  }
  // connection closed, stream not writeable, command timed out, max retries, socket errors
  return !PROGRAMMING_ERRORS.has(err.name);
}

/** `err` from a Redis call made to `what` (e.g. "start job job_x"), as the one error the rest of Airlock sees. */
export function redisFailure(what: string, err: unknown): AppError {
  if (err instanceof AppError) return err;
  const previous = (err as { previousErrors?: unknown } | null)?.previousErrors;
  const reasons = Array.isArray(previous) ? `: ${previous.map((e) => (e instanceof Error ? e.message : String(e))).join('; ')}` : '';
  const message = `${err instanceof Error ? err.message : String(err)}${reasons}`;
  if (isRedisOutage(err)) return new RedisFailure('REDIS_UNAVAILABLE', `Redis is unavailable (${what}): ${message}`, { retryable: true, cause: err });
  return new RedisFailure('INTERNAL', `Redis refused ${what}: ${message}`, { cause: err });
}

/** Runs one Redis interaction; any driver failure leaves as `redisFailure(what, err)`. Our own AppErrors pass through. */
export async function redisCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw redisFailure(what, err);
  }
}
