/**
 * Masks secret-looking substrings in one string: the text half of the one redaction policy
 * (audit records and log lines both pass it; see redact.ts for values).
 *
 * Linear time by construction: no regular expression runs over the text. Each rule is a
 * left-to-right scan that inspects a bounded window at each candidate position, or scans a
 * run of characters and then resumes after that run, so no character is examined more than a
 * constant number of times whatever the input (a backtracking regex over a hostile query
 * string cost 70–118 ms per request).
 */

import { isHarmlessName, looksRandom } from './secret-names.js';
import { ALNUM, ALNUM_DASH, AUTH_VALUE, B64, B64URL, NAME, PEM_LABEL, SCHEME, Splicer, UPPER_NUM, WORD, has, isSpace, runEnd, runUntil, wordStart } from './text-scan.js';

export const REDACTED = '[redacted]';

/** Longer strings are cut before masking: audit records describe events, they do not carry payloads. */
export const MAX_STRING_LENGTH = 4096;

const kind = (k: string) => () => `[redacted:${k}]`;

/**
 * A token that starts with one of `prefixes` at a word start (or, for `notAfterAlnum`, after
 * no letter or digit) and continues with a run of `body` characters: at least `min`, at most
 * `max` taken (the scan never looks further than max + 1). With `endAtBoundary`, the run must
 * end there (a regex `\b`).
 */
interface TokenRule {
  readonly prefixes: readonly string[];
  readonly body: number;
  readonly min: number;
  readonly max?: number;
  readonly endAtBoundary?: boolean;
  readonly notAfterAlnum?: boolean;
  readonly replace: (match: string) => string;
}

const TOKEN_RULES: readonly TokenRule[] = [
  // Airlock API keys: ak_<16 hex id>_<secret>. The id is not secret (it is `key_<id>` in
  // actors) and tells which key leaked, so it stays; any other ak_ token goes whole.
  {
    prefixes: ['ak_'],
    body: B64URL,
    min: 8,
    notAfterAlnum: true,
    replace: (match) => {
      const id = match.slice(3, 19);
      return match.charAt(19) === '_' && /^[0-9a-f]{16}$/.test(id) ? `ak_${id}_${REDACTED}` : '[redacted:api_key]';
    },
  },
  { prefixes: ['AKIA', 'ASIA'], body: UPPER_NUM, min: 16, max: 16, endAtBoundary: true, replace: kind('aws_key') },
  { prefixes: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'], body: ALNUM, min: 30, replace: kind('github_token') },
  { prefixes: ['github_pat_'], body: WORD, min: 20, replace: kind('github_token') },
  { prefixes: ['sk-', 'sk_', 'rk-', 'rk_'], body: B64URL, min: 16, replace: kind('secret_key') },
  { prefixes: ['xoxa-', 'xoxb-', 'xoxp-', 'xoxo-', 'xoxs-', 'xoxr-'], body: ALNUM_DASH, min: 10, replace: kind('slack_token') },
  { prefixes: ['AIza'], body: B64URL, min: 35, max: 35, replace: kind('google_key') },
];

function tokenPass(rule: TokenRule, s: string): string {
  const out = new Splicer(s);
  let i = 0;
  while (i < s.length) {
    const starts = rule.notAfterAlnum ? i === 0 || !has(s, i - 1, ALNUM) : wordStart(s, i);
    const prefix = starts ? startsWithAny(s, i, rule.prefixes) : undefined;
    if (prefix === undefined) {
      i += 1;
      continue;
    }
    const bodyStart = i + prefix.length;
    const end = runEnd(s, bodyStart, rule.body, rule.max === undefined ? s.length : Math.min(s.length, bodyStart + rule.max));
    const ok = end - bodyStart >= rule.min && (!rule.endAtBoundary || !has(s, end, WORD));
    if (!ok) {
      i += 1; // a failed run is shorter than `min` (or `max` + 1): a bounded look
      continue;
    }
    out.replace(i, end, rule.replace(s.slice(i, end)));
    i = end;
  }
  return out.done();
}

function startsWithAny(s: string, i: number, prefixes: readonly string[]): string | undefined {
  for (const p of prefixes) if (s.startsWith(p, i)) return p;
  return undefined;
}

/** `-----BEGIN … PRIVATE KEY-----` through its END line, or to the end of a cut string. */
function privateKeyPass(s: string): string {
  const out = new Splicer(s);
  let i = s.indexOf('-----BEGIN ');
  while (i !== -1) {
    const header = pemLabelEnd(s, i + '-----BEGIN '.length);
    if (header === -1) {
      i = s.indexOf('-----BEGIN ', i + 1);
      continue;
    }
    let end = s.length;
    for (let j = s.indexOf('-----END ', header); j !== -1; j = s.indexOf('-----END ', j + 1)) {
      const footer = pemLabelEnd(s, j + '-----END '.length);
      if (footer !== -1) {
        end = footer;
        break;
      }
    }
    out.replace(i, end, '[redacted:private_key]');
    i = s.indexOf('-----BEGIN ', end);
  }
  return out.done();
}

/** After `BEGIN `/`END `: a label ending in PRIVATE KEY (or PRIVATE KEY BLOCK), then `-----`; the index after it, or -1. */
function pemLabelEnd(s: string, from: number): number {
  const end = runEnd(s, from, PEM_LABEL);
  const label = s.slice(Math.max(from, end - 17), end);
  return (label.endsWith('PRIVATE KEY') || label.endsWith('PRIVATE KEY BLOCK')) && s.startsWith('-----', end) ? end + 5 : -1;
}

/** eyJ….….…: a JWT (three base64url segments of five or more). */
function jwtPass(s: string): string {
  const out = new Splicer(s);
  let i = s.indexOf('eyJ');
  while (i !== -1) {
    if (!wordStart(s, i)) {
      i = s.indexOf('eyJ', i + 1);
      continue;
    }
    const seg1 = runEnd(s, i + 3, B64URL);
    // a later start inside this run ends its first segment here too, and fails alike: skip the run
    let next = seg1;
    if (seg1 - (i + 3) >= 5 && s.charCodeAt(seg1) === 0x2e) {
      const seg2 = runEnd(s, seg1 + 1, B64URL);
      if (seg2 - seg1 - 1 >= 5 && s.charCodeAt(seg2) === 0x2e) {
        const seg3 = runEnd(s, seg2 + 1, B64URL);
        if (seg3 - seg2 - 1 >= 5) {
          out.replace(i, seg3, '[redacted:jwt]');
          next = seg3;
        }
      }
    }
    i = s.indexOf('eyJ', Math.max(next, i + 1));
  }
  return out.done();
}

/** Three dot-joined base64url runs of 20 or more (a JWT without the eyJ, a signed token). */
function base64urlTriplePass(s: string): string {
  const out = new Splicer(s);
  let i = 0;
  while (i < s.length) {
    if (!has(s, i, B64URL)) {
      i += 1;
      continue;
    }
    const a = runEnd(s, i, B64URL);
    const b = a - i >= 20 && s.charCodeAt(a) === 0x2e ? runEnd(s, a + 1, B64URL) : -1;
    const c = b !== -1 && b - a - 1 >= 20 && s.charCodeAt(b) === 0x2e ? runEnd(s, b + 1, B64URL) : -1;
    if (c !== -1 && c - b - 1 >= 20) {
      out.replace(i, c, '[redacted:jwt]');
      i = c;
    } else {
      i = a; // the next run starts after this one: each run is looked at by at most three starts
    }
  }
  return out.done();
}

const AUTH_SCHEMES = ['bearer', 'basic', 'token'];

/** `Bearer <token>`, `Basic …`, `Token …` (any case): the scheme stays readable. */
function authSchemePass(s: string): string {
  const out = new Splicer(s);
  let i = 0;
  while (i < s.length) {
    const first = s.charCodeAt(i) | 0x20;
    const scheme = (first === 0x62 || first === 0x74) && wordStart(s, i) ? AUTH_SCHEMES.find((w) => s.slice(i, i + w.length).toLowerCase() === w) : undefined;
    if (scheme === undefined) {
      i += 1;
      continue;
    }
    let v = i + scheme.length;
    while (v < s.length && isSpace(s, v)) v += 1;
    const end = v > i + scheme.length ? runEnd(s, v, AUTH_VALUE) : v;
    if (end - v >= 8) {
      out.replace(v, end, REDACTED);
      i = end;
    } else {
      i = Math.max(i + 1, v); // the spaces and the short value hold no other scheme
    }
  }
  return out.done();
}

/** scheme://user:password@host: the password goes. */
function urlPasswordPass(s: string): string {
  const out = new Splicer(s);
  for (let k = s.indexOf('://'); k !== -1; k = s.indexOf('://', k + 3)) {
    if (!hasSchemeBefore(s, k)) continue;
    const userEnd = runUntil(s, k + 3, ':/@');
    if (userEnd === k + 3 || s.charCodeAt(userEnd) !== 0x3a) continue;
    const passEnd = runUntil(s, userEnd + 1, '@/');
    if (passEnd === userEnd + 1 || s.charCodeAt(passEnd) !== 0x40) continue;
    out.replace(userEnd + 1, passEnd, REDACTED);
    k = passEnd - 2; // resume after the '@' (the loop adds 3)
  }
  return out.done();
}

/** A URL scheme ends at k: a letter at a word start, then scheme characters up to k. */
function hasSchemeBefore(s: string, k: number): boolean {
  let ok = false;
  for (let p = k - 1; p >= 0 && has(s, p, SCHEME); p -= 1) {
    const c = s.charCodeAt(p) | 0x20;
    if (c >= 0x61 && c <= 0x7a && wordStart(s, p)) ok = true;
  }
  return ok;
}

// A name containing one of these, then = or :, then a value: `PASSWORD=x`, `"api_key": "x"`, `?token=x`.
const SECRET_WORDS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'api_key',
  'api-key',
  'privatekey',
  'private_key',
  'private-key',
  'credential',
  'authorization',
  'cookie',
];
const NAME_CHARS = 64; // characters of a name around its secret word (the old pattern's bounds)
const SPACES = 8;

interface Assignment {
  /** The name before the separator (at most its last 2 × NAME_CHARS + 13 characters). */
  readonly name: string;
  readonly valueStart: number;
}

/** `name ["'] spaces (= or :) spaces ["']` around the separator at e, or undefined. */
function assignmentAt(s: string, e: number): Assignment | undefined {
  let j = e;
  while (j > 0 && e - j < SPACES && isSpace(s, j - 1)) j -= 1;
  if (j > 0 && isSpace(s, j - 1)) return undefined; // more than SPACES spaces
  if (j > 0 && (s.charCodeAt(j - 1) === 0x22 || s.charCodeAt(j - 1) === 0x27)) j -= 1;
  let start = j;
  while (start > 0 && j - start < 2 * NAME_CHARS + 13 && has(s, start - 1, NAME)) start -= 1;
  if (start === j) return undefined;
  let v = e + 1;
  while (v < s.length && v - e - 1 < SPACES && isSpace(s, v)) v += 1;
  if (s.charCodeAt(v) === 0x22 || s.charCodeAt(v) === 0x27) v += 1;
  return { name: s.slice(start, j), valueStart: v };
}

function namesSecret(name: string): boolean {
  const lower = name.toLowerCase();
  return SECRET_WORDS.some((w) => {
    const at = lower.lastIndexOf(w);
    return at !== -1 && lower.length - at - w.length <= NAME_CHARS;
  });
}

/** Every `=`/`:` is a candidate separator; `decide` returns where its match ends (scanning resumes there) or -1. */
function assignmentPass(s: string, decide: (out: Splicer, a: Assignment) => number): string {
  const out = new Splicer(s);
  for (let e = 0; e < s.length; e += 1) {
    const c = s.charCodeAt(e);
    if (c !== 0x3d && c !== 0x3a) continue;
    const a = assignmentAt(s, e);
    const end = a === undefined ? -1 : decide(out, a);
    if (end !== -1) e = end - 1;
  }
  return out.done();
}

function secretAssignmentPass(s: string): string {
  return assignmentPass(s, (out, a) => {
    if (!namesSecret(a.name)) return -1;
    const end = runUntil(s, a.valueStart, `"',;&`);
    if (end === a.valueStart) return -1;
    const value = s.slice(a.valueStart, end);
    // `Authorization: Bearer x` was masked by the scheme rule already; keep the scheme readable
    const keep = isHarmlessName(a.name) || value.startsWith('[redacted') || AUTH_SCHEMES.includes(value.toLowerCase());
    if (!keep) out.replace(a.valueStart, end, REDACTED);
    return end;
  });
}

/** NAME=<long high-entropy run>: env files, `export X=...`, `X: ...` lines. */
function highEntropyAssignmentPass(s: string): string {
  return assignmentPass(s, (out, a) => {
    // the name starts with a letter or _, at most NAME_CHARS + 1 characters before the separator
    let n = Math.max(0, a.name.length - NAME_CHARS - 1);
    while (n < a.name.length && !isNameStart(a.name.charCodeAt(n))) n += 1;
    if (n === a.name.length) return -1;
    const runStop = runEnd(s, a.valueStart, B64);
    if (runStop - a.valueStart < 32) return -1;
    let end = runStop;
    while (end < s.length && end - runStop < 2 && s.charCodeAt(end) === 0x3d) end += 1;
    const value = s.slice(a.valueStart, end);
    if (!isHarmlessName(a.name.slice(n)) && looksRandom(value)) out.replace(a.valueStart, end, REDACTED);
    return end;
  });
}

const isNameStart = (c: number) => c === 0x5f || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a);

// Order matters: whole-token rules run before the generic `name=value` rules.
const PASSES: readonly ((s: string) => string)[] = [
  privateKeyPass,
  (s) => tokenPass(TOKEN_RULES[0]!, s),
  jwtPass,
  base64urlTriplePass,
  ...TOKEN_RULES.slice(1).map((rule) => (s: string) => tokenPass(rule, s)),
  authSchemePass,
  urlPasswordPass,
  secretAssignmentPass,
  highEntropyAssignmentPass,
];

/**
 * Caps the length, then masks secret-looking substrings. Cutting first bounds the work on
 * hostile input; a token cut in half at the limit is dropped so no partial secret survives.
 */
export function redactString(value: string): string {
  let out = value;
  let note = '';
  if (value.length > MAX_STRING_LENGTH) {
    let cut = MAX_STRING_LENGTH;
    if (!isSpace(value, cut)) while (cut > 0 && !isSpace(value, cut - 1)) cut -= 1;
    out = value.slice(0, cut);
    note = `…[truncated ${value.length - out.length} chars]`;
  }
  for (const pass of PASSES) out = pass(out);
  return out + note;
}
