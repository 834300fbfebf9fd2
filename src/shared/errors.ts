/**
 * The one catalogue of error codes. Every error Airlock raises carries one of these;
 * api/error-handler.ts maps each to an HTTP status (a new code without a status is a
 * compile error) and docs/api.md documents each (test/api-catalogue.test.ts).
 */
export const ERROR_CODES = [
  // request shape
  'INVALID_REQUEST',
  'URI_TOO_LONG',
  'MALFORMED_JSON',
  'UNSUPPORTED_MEDIA_TYPE',
  'BODY_TOO_LARGE',
  'FORBIDDEN_KEY',
  'INVALID_PATH',
  'INVALID_PATCH',
  'TOO_MANY_FILES',
  'FILE_TOO_LARGE',
  'INPUT_TOO_LARGE',
  'LIMIT_EXCEEDS_PROFILE',
  'LIMIT_OUT_OF_RANGE',
  // auth
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PROFILE_NOT_ALLOWED',
  'TOOL_NOT_GRANTED',
  'KEY_REVOKED',
  // objects
  'ROUTE_NOT_FOUND',
  'JOB_NOT_FOUND',
  'KEY_NOT_FOUND',
  'PROFILE_NOT_FOUND',
  'ARTIFACT_NOT_FOUND',
  'INVALID_ARCHIVE',
  'JOB_ALREADY_FINISHED',
  'RATE_LIMITED',
  // promotions and review
  'PROMOTION_NOT_FOUND',
  'TARGET_NOT_FOUND',
  'NOT_PROMOTABLE',
  'DIGEST_MISMATCH',
  'SELF_APPROVAL_FORBIDDEN',
  'REVIEWER_NOT_ELIGIBLE',
  'ALREADY_DECIDED',
  'PROMOTION_NOT_PENDING',
  'PROMOTION_EXPIRED',
  'PROMOTION_APPLY_FAILED',
  // infrastructure
  'REDIS_UNAVAILABLE',
  'QUEUE_FULL',
  'SANDBOX_UNAVAILABLE',
  'IMAGE_MISSING',
  'ISOLATION_UNAVAILABLE',
  'SANDBOX_INPUT_FAILED',
  'AUDIT_UNAVAILABLE',
  'ARTIFACT_CORRUPT',
  'ARTIFACT_STORE_UNAVAILABLE',
  'CONFIG_INVALID',
  'AUDIT_CHAIN_BROKEN',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Root of every error we raise. `retryable` decides whether the queue retries a job. */
export class AppError extends Error {
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: { retryable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}
