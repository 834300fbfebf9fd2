/**
 * The one place that knows HTTP statuses. Every error leaves as
 * `{ error: { code, message } }`; a new ErrorCode without a status is a compile error.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LimitRefusal, rateLimitHeaders } from '../monitor/index.js';
import { AppError, type ErrorCode, type Logger } from '../shared/index.js';

export const HTTP_STATUS: Record<ErrorCode, number> = {
  INVALID_REQUEST: 400,
  URI_TOO_LONG: 414,
  MALFORMED_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  BODY_TOO_LARGE: 413,
  FORBIDDEN_KEY: 400,
  INVALID_PATH: 400,
  INVALID_PATCH: 400,
  TOO_MANY_FILES: 400,
  FILE_TOO_LARGE: 413,
  INPUT_TOO_LARGE: 413,
  LIMIT_EXCEEDS_PROFILE: 400,
  LIMIT_OUT_OF_RANGE: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PROFILE_NOT_ALLOWED: 403,
  TOOL_NOT_GRANTED: 403,
  KEY_REVOKED: 403,
  ROUTE_NOT_FOUND: 404,
  JOB_NOT_FOUND: 404,
  KEY_NOT_FOUND: 404,
  PROFILE_NOT_FOUND: 404,
  ARTIFACT_NOT_FOUND: 404,
  INVALID_ARCHIVE: 400,
  JOB_ALREADY_FINISHED: 409,
  RATE_LIMITED: 429,
  PROMOTION_NOT_FOUND: 404,
  TARGET_NOT_FOUND: 404,
  NOT_PROMOTABLE: 409,
  DIGEST_MISMATCH: 409,
  SELF_APPROVAL_FORBIDDEN: 403,
  REVIEWER_NOT_ELIGIBLE: 403,
  ALREADY_DECIDED: 409,
  PROMOTION_NOT_PENDING: 409,
  PROMOTION_EXPIRED: 410,
  PROMOTION_APPLY_FAILED: 502,
  REDIS_UNAVAILABLE: 503,
  QUEUE_FULL: 503,
  SANDBOX_UNAVAILABLE: 503,
  IMAGE_MISSING: 503,
  ISOLATION_UNAVAILABLE: 503,
  SANDBOX_INPUT_FAILED: 500,
  AUDIT_UNAVAILABLE: 503,
  ARTIFACT_CORRUPT: 500,
  ARTIFACT_STORE_UNAVAILABLE: 503,
  CONFIG_INVALID: 500,
  AUDIT_CHAIN_BROKEN: 409,
  INTERNAL: 500,
};

/** Maps fastify's own errors (parser, body limit) onto our codes. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const fe = err as Partial<FastifyError> & { message?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('BODY_TOO_LARGE', 'request body is larger than the limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'the body is empty but the content type is application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('MALFORMED_JSON', 'the body is not valid JSON');
    // the router's own refusals (fastify frameworkErrors): no route was matched
    case 'FST_ERR_BAD_URL':
      return new AppError('INVALID_REQUEST', 'the URL has a malformed percent-escape', { details: { field: 'url' } });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('URI_TOO_LONG', 'a path parameter is longer than the router accepts', { details: { field: 'url' } });
    default:
      break;
  }
  if (err instanceof SyntaxError || (fe.statusCode === 400 && fe.code === undefined)) {
    return new AppError('MALFORMED_JSON', `the body is not valid JSON: ${fe.message ?? ''}`);
  }
  if (fe.statusCode === 413) return new AppError('BODY_TOO_LARGE', 'request body is larger than the limit');
  if (fe.statusCode === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  if (fe.statusCode !== undefined && fe.statusCode >= 400 && fe.statusCode < 500) return new AppError('INVALID_REQUEST', fe.message ?? 'bad request');
  return new AppError('INTERNAL', 'internal error', { cause: err });
}

export function errorBody(err: AppError): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
  return { error: { code: err.code, message: err.message, ...(err.details ?? {}) } };
}

export function makeErrorHandler(logger: Logger) {
  return (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const appErr = toAppError(err);
    const status = HTTP_STATUS[appErr.code];
    if (status >= 500 && !(appErr instanceof LimitRefusal)) logger.error({ err, reqId: req.id, code: appErr.code }, 'request failed');
    // a limit's refusal says when to come back (Retry-After) in both header styles
    if (appErr instanceof LimitRefusal) void reply.headers(rateLimitHeaders(appErr.decision));
    // RFC 6750: a 401 names the scheme it wants (MCP clients read it)
    if (appErr.code === 'UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer realm="airlock"');
    return reply.status(status).send(errorBody(appErr));
  };
}
