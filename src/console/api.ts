/**
 * The console's only way to the server: the keyed JSON API on this origin. The key lives in
 * sessionStorage (this tab only, gone when it closes; never in a URL or a cookie) and goes out as
 * a bearer header, which a cross-site page cannot make a browser send: no CSRF token needed.
 */

import type { Whoami } from './wire-types.js';

const KEY = 'airlock.apiKey';

/** An error answer of the API: its stable code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

export const session = {
  key: (): string | null => sessionStorage.getItem(KEY),
  signIn: (key: string): void => sessionStorage.setItem(KEY, key.trim()),
  signOut: (): void => sessionStorage.removeItem(KEY),
};

async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  const key = session.key();
  const headers: Record<string, string> = {};
  if (key !== null) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  // credentials: 'omit': no cookie ever rides along (there are none, and there must be none)
  const res = await fetch(path, { method, headers, credentials: 'omit', cache: 'no-store', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  if (res.ok) return res;
  let code = 'HTTP_' + String(res.status);
  let message = res.statusText;
  let details: Record<string, unknown> = {};
  try {
    const e = (await res.json()) as { error?: { code?: string; message?: string } & Record<string, unknown> };
    const { code: c, message: m, ...rest } = e.error ?? {};
    code = c ?? code;
    message = m ?? message;
    details = rest;
  } catch {
    // not JSON: keep the status line
  }
  throw new ApiError(res.status, code, message, details);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call('GET', path)).json()) as T;
}

export async function getText(path: string): Promise<string> {
  return (await call('GET', path)).text();
}

export async function postJson<T>(path: string, body: unknown): Promise<T> {
  return (await (await call('POST', path, body)).json()) as T;
}

/** Downloads a keyed file (the key cannot go in a link): fetched, then handed to the browser as a blob. */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await call('GET', path)).blob();
  const url = URL.createObjectURL(new Blob([blob], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export function whoami(): Promise<Whoami> {
  return getJson<Whoami>('/v1/whoami');
}
