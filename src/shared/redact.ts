/**
 * The one redaction policy. Every audit event passes `redact` before it becomes a record, and
 * the logger's serializers pass what they write (request URLs, error messages) through it, so
 * a secret that reached an event or a log line (params, env, stdin, a query string, error
 * text) never reaches Redis, a segment file or the log. Two layers: values under
 * secret-looking keys are masked whole, and secret-looking substrings are masked inside every
 * string (redact-text.ts). Returns a new, JSON-safe value; never mutates its input.
 */
import { REDACTED, redactString } from './redact-text.js';
import { isHarmlessName, isRandomRun } from './secret-names.js';

export { REDACTED, MAX_STRING_LENGTH, redactString } from './redact-text.js';

const MAX_DEPTH = 32;

// Keys are compared lowercased with everything but [a-z0-9] removed: `X-Api-Key` → `xapikey`.
const SECRET_KEY_EXACT = new Set(['key', 'pass', 'pwd', 'auth', 'session', 'sid', 'pin', 'otp', 'jwt', 'pat', 'dsn']);
const SECRET_KEY_PARTS = [
  'authorization',
  'token',
  'secret',
  'password',
  'passwd',
  'passphrase',
  'apikey',
  'cookie',
  'privatekey',
  'signingkey',
  'encryptionkey',
  'masterkey',
  'accesskey',
  'credential',
  'bearer',
  'connectionstring',
];
// A key naming *about* a secret is not one: tokenId, credentialId, secretName, tokenCount.
const HARMLESS_KEY_SUFFIXES = ['id', 'ids', 'name', 'names', 'count', 'type', 'kind'];

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[^a-z0-9]/g, '');
}

export function isSecretKey(key: string): boolean {
  const k = normalizeKey(key);
  if (SECRET_KEY_EXACT.has(k)) return true;
  if (HARMLESS_KEY_SUFFIXES.some((suffix) => k.endsWith(suffix) && k.length > suffix.length)) return false;
  return SECRET_KEY_PARTS.some((part) => k.includes(part));
}

/**
 * Returns a redacted, JSON-safe copy of `value`: secret keys masked, secret strings masked,
 * Dates as ISO strings, binary as a size note, cycles and excessive depth cut. Object shapes
 * are kept, so the result has the input's type for the purposes of callers.
 */
export function redact<T>(value: T): T {
  return redactValue(value, 0, new WeakSet()) as T;
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  switch (typeof value) {
    case 'string':
      return redactString(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'boolean':
    case 'undefined':
      return value;
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      return redactObject(value, depth, seen);
  }
}

function redactObject(value: object | null, depth: number, seen: WeakSet<object>): unknown {
  if (value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[binary ${value.byteLength} bytes]`;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated: too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item, depth + 1, seen) ?? null);
    if (value instanceof Map)
      return redactEntries(
        [...value.entries()].map(([k, v]) => [String(k), v]),
        depth,
        seen,
      );
    if (value instanceof Set) return [...value].map((item) => redactValue(item, depth + 1, seen) ?? null);
    if (value instanceof Error)
      return redactEntries(
        [
          ['name', value.name],
          ['message', value.message],
        ],
        depth,
        seen,
      );
    return redactEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function redactEntries(entries: Array<[string, unknown]>, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, member] of entries) {
    if (key === '__proto__') continue; // canonical JSON could not represent it faithfully
    if (member === undefined) continue;
    if (isSecretKey(key) && member !== null) out[key] = REDACTED;
    else if (typeof member === 'string' && isRandomRun(member) && !isHarmlessName(key)) out[key] = REDACTED;
    else out[key] = redactValue(member, depth + 1, seen);
  }
  return out;
}
