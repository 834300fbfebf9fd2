/**
 * One signed JSON POST with bounded retries. Never throws: a webhook receiver that is down
 * is an outcome the caller records, not a crash.
 */
import { randomUUID } from 'node:crypto';
import { signWebhook, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js';

export interface PostSignedOptions {
  readonly url: string;
  readonly secret: string;
  /** Serialised to JSON once; every attempt sends the same bytes. */
  readonly body: unknown;
  /** Total tries, including the first (at least 1). */
  readonly attempts: number;
  /** Wait before retry n is backoffMs * 2^(n-1). */
  readonly backoffMs: number;
  /** Per attempt, headers and status only (the response body is not read). */
  readonly timeoutMs: number;
  /** Unix seconds, for the signature timestamp (re-read on every attempt). */
  readonly nowS: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Extra headers; they cannot replace the ones this function sets. */
  readonly headers?: Readonly<Record<string, string>>;
}

export type PostSignedResult =
  | { readonly ok: true; readonly status: number; readonly attempts: number; readonly delivery: string }
  | { readonly ok: false; readonly status: number | null; readonly attempts: number; readonly delivery: string; readonly error: string };

export const DELIVERY_HEADER = 'x-airlock-delivery';
const USER_AGENT = 'airlock-webhook/1';

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** 5xx, 408 and 429 may succeed later; any other non-2xx (3xx included: redirects are not followed) will not. */
export function retryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function urlProblem(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'invalid URL';
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return 'URL must be http or https';
  if (parsed.username !== '' || parsed.password !== '') return 'URL must not carry credentials';
  return undefined;
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `timed out after ${timeoutMs} ms`;
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `network error: ${err instanceof Error ? err.message : String(err)}${cause}`;
}

export async function postSigned(opts: PostSignedOptions): Promise<PostSignedResult> {
  const delivery = randomUUID();
  const fail = (attempts: number, status: number | null, error: string): PostSignedResult => ({ ok: false, status, attempts, delivery, error });
  let body: string | undefined;
  try {
    // typed as string, but undefined for a function or undefined body
    body = JSON.stringify(opts.body);
  } catch (err) {
    return fail(0, null, `body is not serialisable: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (body === undefined) return fail(0, null, 'body is not serialisable');
  const problem = urlProblem(opts.url);
  if (problem !== undefined) return fail(0, null, problem);

  const sleep = opts.sleep ?? defaultSleep;
  const maxAttempts = Math.max(1, Math.floor(opts.attempts));
  let last = fail(0, null, 'not sent');
  for (let n = 1; n <= maxAttempts; n++) {
    let status: number;
    try {
      if (n > 1) await sleep(opts.backoffMs * 2 ** (n - 2));
      const headers = new Headers(opts.headers);
      headers.set('content-type', 'application/json');
      headers.set('user-agent', USER_AGENT);
      headers.set(DELIVERY_HEADER, delivery);
      headers.set(WEBHOOK_SIGNATURE_HEADER, signWebhook(opts.secret, body, Math.floor(opts.nowS())));
      const res = await fetch(opts.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(opts.timeoutMs) });
      status = res.status;
      // free the connection; what the receiver says is not used
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      last = fail(n, null, describeFetchError(err, opts.timeoutMs));
      continue;
    }
    if (status >= 200 && status < 300) return { ok: true, status, attempts: n, delivery };
    last = fail(n, status, status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`);
    if (!retryableStatus(status)) return last;
  }
  return last;
}
