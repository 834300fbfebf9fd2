/**
 * Masks secret values inside strings and bodies: what an upstream echoes back (a debug
 * endpoint returning request headers) must not hand the job an injected secret, and no
 * report may carry the job's token. An echo is rarely literal, so each secret is masked in
 * the forms common encoders give it (secretForms). Bodies are masked whole, after decoding
 * (response-decoding.ts), so neither a chunk boundary nor a compression hides a secret. What
 * this cannot catch (a secret re-encoded twice, encrypted, split into fields, case-folded)
 * is why an endpoint that reflects its request must never be configured as a tool.
 */
export const REDACTED = '[redacted]';

const ALNUM = /^[A-Za-z0-9]$/;
/** Characters each common URL encoder leaves as they are (besides letters and digits). */
const URL_KEPT = [
  "-_.!~*'()", // JavaScript encodeURIComponent
  '-_.~', // RFC 3986 unreserved (Python quote(safe=''), Go QueryEscape)
  '-_.~/', // Python quote() default
  '', // every other character encoded
];

const pct = (c: string, upper: boolean): string =>
  [...Buffer.from(c, 'utf8')].map((b) => `%${upper ? b.toString(16).toUpperCase().padStart(2, '0') : b.toString(16).padStart(2, '0')}`).join('');

const unicodeEscape = (c: string, upper: boolean): string => {
  const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${upper ? hex.toUpperCase() : hex}`;
};

function urlForms(secret: string): string[] {
  const out: string[] = [];
  for (const kept of URL_KEPT) {
    for (const upper of [true, false]) {
      for (const plus of [false, true]) {
        out.push([...secret].map((c) => (ALNUM.test(c) || kept.includes(c) ? c : c === ' ' && plus ? '+' : pct(c, upper))).join(''));
      }
    }
  }
  return out;
}

function jsonForms(secret: string): string[] {
  const minimal = JSON.stringify(secret).slice(1, -1); // JavaScript, Python: only " \ and controls
  return [
    minimal,
    minimal.replaceAll('/', '\\/'), // PHP
    minimal.replace(/[<>&]/g, (c) => unicodeEscape(c, false)), // Go
    [...secret].map((c) => (ALNUM.test(c) ? c : unicodeEscape(c, false))).join(''),
    [...secret].map((c) => (ALNUM.test(c) ? c : unicodeEscape(c, true))).join(''),
  ];
}

/**
 * The characters base64 gives the secret wherever it sits in a longer encoded input: for each
 * of the three byte alignments, the run of output characters that depend on secret bytes only.
 */
function base64Forms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  const out: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const core = encoded.slice(Math.ceil((8 * shift) / 6), Math.floor((8 * (shift + bytes.length)) / 6));
    out.push(core, core.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return out;
}

/** Every form of `secret` that is masked: literal, JSON-escaped, URL-encoded, hex, base64 and base64url. */
export function secretForms(secret: string): string[] {
  if (secret.length === 0) return [];
  const hex = Buffer.from(secret, 'utf8').toString('hex');
  return [...new Set([secret, ...jsonForms(secret), ...urlForms(secret), hex, hex.toUpperCase(), ...base64Forms(secret)])].filter((f) => f.length > 0);
}

/** Longest first, so a prefixed value (`Bearer s3cr3t…`) is masked whole before its bare secret. */
const longestFirst = (forms: Iterable<string>): string[] => [...new Set(forms)].sort((a, b) => b.length - a.length);

function maskAll(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
  return out;
}

export class SecretMask {
  private readonly forms: readonly string[];

  constructor(values: Iterable<string>) {
    this.forms = longestFirst([...values].flatMap(secretForms));
  }

  text(text: string, ...extra: ReadonlyArray<string | undefined>): string {
    const more = extra.filter((v): v is string => v !== undefined && v.length > 0);
    return maskAll(text, more.length === 0 ? this.forms : longestFirst([...more.flatMap(secretForms), ...this.forms]));
  }

  /** Masks the whole body at once. Forms are ASCII, so a byte-for-byte (latin1) view finds them in any text encoding that keeps ASCII as is. */
  body(body: Buffer): Buffer {
    const view = body.toString('latin1');
    const masked = maskAll(view, this.forms);
    return masked === view ? body : Buffer.from(masked, 'latin1');
  }
}
