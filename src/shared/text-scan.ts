/**
 * The pieces the redaction scanners are built from (redact-text.ts, secret-names.ts): ASCII
 * character classes as bit masks, run lengths, and a splicer that rebuilds a string from its
 * unchanged parts and the replacements. Every helper looks at each character once.
 */

// character classes, one bit each, for the 128 ASCII codes (anything else is in none of them)
export const WORD = 1; // [A-Za-z0-9_]
export const B64URL = 2; // [A-Za-z0-9_-]
export const NAME = 4; // [A-Za-z0-9_.-]
export const B64 = 8; // [A-Za-z0-9+/_-]
export const AUTH_VALUE = 16; // [A-Za-z0-9._~+/=-]
export const SCHEME = 32; // [A-Za-z0-9+.-]
export const UPPER_NUM = 64; // [A-Z0-9]
export const ALNUM = 128; // [A-Za-z0-9]
export const ALNUM_DASH = 256; // [A-Za-z0-9-]
export const PEM_LABEL = 512; // [A-Z0-9 ]

const CLASSES = (() => {
  const t = new Uint16Array(128);
  const add = (chars: string, bits: number) => {
    for (const ch of chars) t[ch.charCodeAt(0)]! |= bits;
  };
  const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const alnum = `${upper}${upper.toLowerCase()}0123456789`;
  add(alnum, WORD | B64URL | NAME | B64 | AUTH_VALUE | SCHEME | ALNUM | ALNUM_DASH);
  add(`${upper}0123456789`, UPPER_NUM | PEM_LABEL);
  add('_', WORD | B64URL | NAME | B64);
  add('-', B64URL | NAME | B64 | AUTH_VALUE | SCHEME | ALNUM_DASH);
  add('.', NAME | AUTH_VALUE | SCHEME);
  add('+', B64 | AUTH_VALUE | SCHEME);
  add('/', B64 | AUTH_VALUE);
  add('~=', AUTH_VALUE);
  add(' ', PEM_LABEL);
  return t;
})();

export const has = (s: string, i: number, cls: number): boolean => {
  const c = s.charCodeAt(i);
  return c < 128 && (CLASSES[c]! & cls) !== 0;
};

/** First index at or after `from` (and before `limit`) whose character is not in `cls`. */
export function runEnd(s: string, from: number, cls: number, limit = s.length): number {
  let i = from;
  while (i < limit && has(s, i, cls)) i += 1;
  return i;
}

export function isSpace(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c === 32 || (c >= 9 && c <= 13)) return true;
  return c >= 0xa0 && (c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff);
}

/** A regex `\b` before a word character at i: the start of the text or a non-word character before it. */
export const wordStart = (s: string, i: number) => i === 0 || !has(s, i - 1, WORD);

/** Collects the output of one pass: copies the text between replacements. */
export class Splicer {
  private out = '';
  private last = 0;
  constructor(private readonly s: string) {}
  replace(from: number, to: number, text: string): void {
    this.out += this.s.slice(this.last, from) + text;
    this.last = to;
  }
  done(): string {
    return this.last === 0 ? this.s : this.out + this.s.slice(this.last);
  }
}

/** First index at or after `from` holding whitespace or one of `stops`. */
export function runUntil(s: string, from: number, stops: string): number {
  let i = from;
  while (i < s.length && !isSpace(s, i) && !stops.includes(s.charAt(i))) i += 1;
  return i;
}

export const isUpper = (s: string, i: number) => {
  const c = s.charCodeAt(i);
  return c >= 0x41 && c <= 0x5a;
};
