/**
 * Redaction: every audit event passes through `redact` before it becomes a record, so a
 * secret that reached an event (params, env, stdin, error text) never reaches Redis or a
 * segment file. Two layers: values under secret-looking keys are masked whole, and
 * secret-looking substrings are masked inside every string. Returns a new, JSON-safe value;
 * never mutates its input.
 */

export const REDACTED = '[redacted]';

/** Longer strings are cut after masking: audit records describe events, they do not carry payloads. */
export const MAX_STRING_LENGTH = 4096;
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

interface StringRule {
  readonly name: string;
  readonly pattern: RegExp;
  readonly replace: (match: string, ...groups: string[]) => string;
}

const whole = (kind: string) => () => `[redacted:${kind}]`;

// Order matters: whole-token rules run before the generic `name=value` rules.
const STRING_RULES: readonly StringRule[] = [
  {
    name: 'private_key',
    pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
    replace: whole('private_key'),
  },
  // Airlock API keys: ak_<16 hex id>_<secret>. The id is not secret (it is `key_<id>` in
  // actors) and tells which key leaked, so it stays; any other ak_ token goes whole.
  {
    name: 'airlock_api_key',
    pattern: /(?<![A-Za-z0-9])ak_[A-Za-z0-9_-]{8,}/g,
    replace: (match) => {
      const id = /^ak_([0-9a-f]{16})_/.exec(match)?.[1];
      return id === undefined ? '[redacted:api_key]' : `ak_${id}_${REDACTED}`;
    },
  },
  { name: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}/g, replace: whole('jwt') },
  {
    name: 'base64url_triple',
    pattern: /\b[A-Za-z0-9_-]{20,1024}\.[A-Za-z0-9_-]{20,1024}\.[A-Za-z0-9_-]{20,1024}\b/g,
    replace: whole('jwt'),
  },
  { name: 'aws_access_key_id', pattern: /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, replace: whole('aws_key') },
  { name: 'github_token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})/g, replace: whole('github_token') },
  { name: 'sk_token', pattern: /\b(?:sk|rk)[-_][A-Za-z0-9_-]{16,}/g, replace: whole('secret_key') },
  { name: 'slack_token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, replace: whole('slack_token') },
  { name: 'google_api_key', pattern: /\bAIza[0-9A-Za-z_-]{35}/g, replace: whole('google_key') },
  {
    name: 'auth_scheme',
    pattern: /\b(Bearer|Basic|Token)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi,
    replace: (_m, scheme = '', space = '') => `${scheme}${space}${REDACTED}`,
  },
  // scheme://user:password@host
  { name: 'url_password', pattern: /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, replace: (_m, head = '') => `${head}${REDACTED}@` },
  // PASSWORD=hunter2, "api_key": "x", ?token=abc — a secret-looking name, then = or :, then a value.
  {
    name: 'secret_assignment',
    pattern:
      /([A-Za-z0-9_.-]{0,64}(?:password|passwd|passphrase|secret|token|api[_-]?key|private[_-]?key|credential|authorization|cookie)[A-Za-z0-9_.-]{0,64}["']?\s{0,8}[=:]\s{0,8}["']?)([^\s"',;&]+)/gi,
    replace: (match, head = '', value = '') => (isHarmlessName(head) || value.startsWith('[redacted') || AUTH_SCHEME.test(value) ? match : `${head}${REDACTED}`),
  },
  // NAME=<long high-entropy run>: env files, `export X=...`, `X: ...` lines.
  {
    name: 'high_entropy_assignment',
    pattern: /([A-Za-z_][A-Za-z0-9_.-]{0,64}["']?\s{0,8}[=:]\s{0,8}["']?)([A-Za-z0-9+/_-]{32,}={0,2})/g,
    replace: (match, head = '', value = '') => (isHarmlessName(head) || !looksRandom(value) ? match : `${head}${REDACTED}`),
  },
];

// `Authorization: Bearer x` was masked by auth_scheme already; keep the scheme readable.
const AUTH_SCHEME = /^(?:Bearer|Basic|Token)$/i;

// Names whose long values are digests or ids, not secrets.
const HARMLESS_NAME = /(?:^|[_.-])(?:id|ids|sha\d*|md5|digest|hash|checksum|etag|commit|integrity|path|url|uri|dir|file)$|^(?:sha\d*|md5|blake\w*)$/i;

function isHarmlessName(head: string): boolean {
  // camelCase → snake_case so `imageDigest` ends in a `_digest` word like `IMAGE_DIGEST` does.
  const name = head
    .replace(/["'\s=:]+$/g, '')
    .replace(/^.*\s/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2');
  return HARMLESS_NAME.test(name) || /_(?:name|count)$/i.test(name);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A whole value that is one long random run: `{ RANDOM_SEED: 'q8Zr…' }` is `RANDOM_SEED=q8Zr…` as an object. */
function isRandomRun(value: string): boolean {
  return /^[A-Za-z0-9+/_-]{32,}={0,2}$/.test(value) && looksRandom(value);
}

/** Random-looking: not a path, not a UUID, and at least 3 bits of entropy per character. */
function looksRandom(value: string): boolean {
  if (UUID.test(value)) return false;
  if (value.startsWith('/') || value.startsWith('./') || (value.match(/\//g)?.length ?? 0) >= 3) return false;
  return shannonBitsPerChar(value) >= 3;
}

function shannonBitsPerChar(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Caps the length, then masks secret-looking substrings. Cutting first bounds the regex work
 * on hostile input; a token cut in half at the limit is dropped so no partial secret survives.
 */
export function redactString(value: string): string {
  let out = value;
  let note = '';
  if (value.length > MAX_STRING_LENGTH) {
    out = value.slice(0, MAX_STRING_LENGTH);
    if (/\S/.test(value.charAt(MAX_STRING_LENGTH))) out = out.replace(/\S+$/, '');
    note = `…[truncated ${value.length - out.length} chars]`;
  }
  for (const rule of STRING_RULES) out = out.replace(rule.pattern, rule.replace as (substring: string, ...args: unknown[]) => string);
  return out + note;
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
