/**
 * Which names hold no secret (`imageDigest`, `tokenCount`) and which values look like one (a
 * long random run): the judgement calls of the redaction policy, in linear time.
 */
import { ALNUM, B64, has, isSpace, isUpper, runEnd } from './text-scan.js';

// Names whose values are digests or ids, not secrets: their last word (camelCase split like snake_case).
const HARMLESS_LAST_WORDS = new Set(['id', 'ids', 'md5', 'digest', 'hash', 'checksum', 'etag', 'commit', 'integrity', 'path', 'url', 'uri', 'dir', 'file']);
/** Only after an `_` (`secret_name`, `tokenCount`): a name alone (`name`, `count`) may still hold a secret. */
const HARMLESS_SUFFIXES = new Set(['name', 'count']);
const MAX_NAME_CHARS = 256;

/** `imageDigest`, `BUILD_SHA256`, `file.path`, `tokenCount`: a name whose value is not a secret. */
export function isHarmlessName(head: string): boolean {
  // the name is the last word of the head, without the quotes, spaces, = or : after it
  let end = head.length;
  while (end > 0 && (`"'=:`.includes(head.charAt(end - 1)) || isSpace(head, end - 1))) end -= 1;
  let start = end;
  while (start > 0 && end - start < MAX_NAME_CHARS && !isSpace(head, start - 1)) start -= 1;
  const name = head.slice(start, end);
  if (/^(?:sha\d*|md5|blake\w*)$/i.test(name)) return true;
  // the last word: back to a separator, or to a lower-case letter or digit before an upper-case one
  let w = name.length;
  while (w > 0 && has(name, w - 1, ALNUM) && !(w < name.length && isUpper(name, w) && !isUpper(name, w - 1))) w -= 1;
  const last = name.slice(w).toLowerCase();
  const separator = w === 0 ? '' : has(name, w - 1, ALNUM) ? '_' : name.charAt(w - 1);
  if ((w === 0 || '_.-'.includes(separator)) && (HARMLESS_LAST_WORDS.has(last) || /^sha\d*$/.test(last))) return true;
  return separator === '_' && HARMLESS_SUFFIXES.has(last);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A whole value that is one long random run: `{ RANDOM_SEED: 'q8Zr…' }` is `RANDOM_SEED=q8Zr…` as an object. */
export function isRandomRun(value: string): boolean {
  if (value.length < 32) return false;
  let end = runEnd(value, 0, B64);
  const run = end;
  while (end < value.length && end - run < 2 && value.charCodeAt(end) === 0x3d) end += 1;
  return run >= 32 && end === value.length && looksRandom(value);
}

/** Random-looking: not a path, not a UUID, and at least 3 bits of entropy per character. */
export function looksRandom(value: string): boolean {
  if (UUID.test(value)) return false;
  if (value.startsWith('/') || value.startsWith('./') || value.split('/').length > 3) return false;
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
