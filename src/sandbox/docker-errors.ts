/** How the Docker adapter reads the engine's errors (304/404/409 are answers, not failures). */
import { AppError, isAppError } from '../shared/index.js';

export function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * A failure while a run talked to the engine, as the port's error: ours stand; anything else
 * (the socket gone: ENOENT, ECONNREFUSED, ECONNRESET, EPIPE, a hang-up, whatever errno; or the
 * engine's own 5xx) is the engine failing under the job, an infrastructure failure worth
 * retrying (SANDBOX_UNAVAILABLE), never INTERNAL.
 */
export function engineFailure(err: unknown, during: string): AppError {
  if (isAppError(err)) return err;
  return new AppError('SANDBOX_UNAVAILABLE', `the Docker engine failed during ${during}: ${messageOf(err)}`, { retryable: true, cause: err });
}
