/**
 * The CLI's HTTP client of a running Airlock API: a bearer key, JSON in and out, and the
 * API's error envelope `{ error: { code, message } }` turned back into an AppError, so the
 * dispatcher prints `airlock: CODE: message` as for any other failure.
 */
import { AppError, ERROR_CODES, type ErrorCode } from '../root/index.js';

export interface ApiClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 (a trailing slash is ignored). */
  readonly url: string;
  /** An API key (`ak_…`), sent as `Authorization: Bearer <key>`. */
  readonly key: string;
  /** Per request; default 30 s. */
  readonly timeoutMs?: number;
}

export interface ApiClient {
  readonly url: string;
  /** GET, parsed as JSON. */
  get<T = unknown>(path: string): Promise<T>;
  /** GET, the body as text (e.g. a patch). */
  getText(path: string): Promise<string>;
  /** POST a JSON body, parsed as JSON. */
  post<T = unknown>(path: string, body: unknown): Promise<T>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export function apiClient(opts: ApiClientOptions): ApiClient {
  const base = opts.url.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;

  async function send(method: 'GET' | 'POST', path: string, body?: unknown): Promise<string> {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.key}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (e) {
      // network down, refused, DNS, TLS, or our timeout: retryable, the API may come back
      throw new AppError('INTERNAL', `cannot reach the Airlock API at ${base}: ${networkReason(e, timeoutMs)}`, { retryable: true, cause: e });
    }
    if (!res.ok) throw errorFrom(res.status, text, `${method} ${path}`);
    return text;
  }

  return {
    url: base,
    async get<T>(path: string): Promise<T> {
      return parseJson<T>(await send('GET', path), `GET ${path}`);
    },
    getText: (path) => send('GET', path),
    async post<T>(path: string, body: unknown): Promise<T> {
      return parseJson<T>(await send('POST', path, body), `POST ${path}`);
    },
  };
}

/** The API's error envelope as an AppError; a code this CLI does not know becomes INTERNAL with the server's code kept in the message. */
export function errorFrom(status: number, text: string, what: string): AppError {
  let envelope: unknown;
  try {
    envelope = JSON.parse(text);
  } catch {
    envelope = undefined;
  }
  const e = typeof envelope === 'object' && envelope !== null ? (envelope as { error?: unknown }).error : undefined;
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  const message = typeof e === 'object' && e !== null ? (e as { message?: unknown }).message : undefined;
  // 5xx (and 429) may pass: a long `promotion wait` retries them
  const retryable = status >= 500 || status === 429;
  const details = { status };
  if (typeof code !== 'string' || typeof message !== 'string') {
    const excerpt = text.trim().slice(0, 200);
    return new AppError('INTERNAL', `${what}: HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}`, { retryable, details });
  }
  if (isErrorCode(code)) return new AppError(code, message, { retryable, details });
  return new AppError('INTERNAL', `${code} (HTTP ${status}): ${message}`, { retryable, details });
}

function isErrorCode(code: string): code is ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code);
}

function parseJson<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new AppError('INTERNAL', `${what}: the API answered with something that is not JSON`, { cause: e });
  }
}

function networkReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  // undici: TypeError('fetch failed') with the socket error as its cause
  const cause = e instanceof Error ? e.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return e instanceof Error ? e.message : String(e);
}
