/** One translation of S3 failures into AppErrors (the codes callers branch on, retryable when trying again can help). */
import { AppError } from '../shared/index.js';

interface S3ErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/** The HTTP status an S3 call failed with, if it got an answer. */
export function s3Status(err: unknown): number | undefined {
  const status = (err as S3ErrorShape | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/** S3's names for a body that did not match the checksum or digest sent with it. */
const CHECKSUM_REFUSED = new Set(['BadDigest', 'XAmzContentChecksumMismatch', 'InvalidDigest']);

/**
 * ARTIFACT_STORE_UNAVAILABLE, retryable for what may pass (no answer, 5xx, throttling, 408/429,
 * a checksum the store refused: bytes changed in transit), not for what needs an operator
 * (403 AccessDenied, 404 NoSuchBucket and other 4xx).
 */
export function s3Failure(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const e = (err ?? {}) as S3ErrorShape;
  const name = typeof e.name === 'string' ? e.name : typeof e.code === 'string' ? e.code : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(err);
  const status = s3Status(err);
  const retryable = status === undefined || status >= 500 || status === 408 || status === 429 || CHECKSUM_REFUSED.has(name);
  const answered = status === undefined ? 'no answer' : `${status} ${name}`;
  return new AppError('ARTIFACT_STORE_UNAVAILABLE', `artifact store: could not ${what}: ${answered}: ${message}`, { retryable, cause: err });
}
