/**
 * The client's errors: the API's envelope `{ error: { code, message, …details } }` as an AppError
 * carrying the same stable code (shared's catalogue), the HTTP status and the server's Retry-After,
 * so a caller branches on `code` as the server's own code does. No answer at all (refused,
 * DNS, TLS, our timeout) is `ApiUnreachableError`: status 0, retryable.
 */
import { AppError, ERROR_CODES, type ErrorCode } from '../shared/errors.js';

export class AirlockApiError extends AppError {
  constructor(
    code: ErrorCode,
    message: string,
    /** The HTTP status; 0 when no answer came. */
    readonly status: number,
    opts: { retryable: boolean; cause?: unknown; details?: Record<string, unknown>; retryAfterMs?: number | undefined; serverCode?: string } = { retryable: false },
  ) {
    super(code, message, opts);
    this.retryAfterMs = opts.retryAfterMs;
    this.serverCode = opts.serverCode ?? code;
  }
  /** What the server's Retry-After asked for, in ms. */
  readonly retryAfterMs: number | undefined;
  /** The code the server sent (differs from `code` only when this client does not know it: then `code` is INTERNAL). */
  readonly serverCode: string;
}

/** The API did not answer: connection refused, DNS, TLS, or no answer within the timeout. */
export class ApiUnreachableError extends AirlockApiError {
  constructor(message: string, cause: unknown) {
    super('INTERNAL', message, 0, { retryable: true, cause });
  }
}

export function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

/** Retry-After as delta seconds or an HTTP date, in ms from `nowMs` (undefined when absent or unreadable). */
export function retryAfterMsOf(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const s = Number(header.trim());
  if (Number.isFinite(s) && s >= 0) return Math.round(s * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The API's error envelope as an AirlockApiError; a code this client does not know becomes INTERNAL with the server's code kept. */
export function errorFromResponse(status: number, text: string, what: string, retryAfterMs?: number): AirlockApiError {
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = undefined;
  }
  const e = typeof envelope === 'object' && envelope !== null ? (envelope as { error?: unknown }).error : undefined;
  const fields = typeof e === 'object' && e !== null ? (e as Record<string, unknown>) : {};
  const { code, message, ...details } = fields;
  // 5xx and 429: the server may take the same request later
  const retryable = status >= 500 || status === 429;
  if (typeof code !== 'string' || typeof message !== 'string') {
    const excerpt = text.trim().slice(0, 200);
    return new AirlockApiError('INTERNAL', `${what}: HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}`, status, { retryable, retryAfterMs });
  }
  if (isErrorCode(code)) return new AirlockApiError(code, message, status, { retryable, details, retryAfterMs });
  return new AirlockApiError('INTERNAL', `${code} (HTTP ${status}): ${message}`, status, { retryable, details, retryAfterMs, serverCode: code });
}

export function networkReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${Math.round(timeoutMs / 100) / 10} s`;
  // undici: TypeError('fetch failed') with the socket error as its cause
  const cause = e instanceof Error ? e.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return e instanceof Error ? e.message : String(e);
}
