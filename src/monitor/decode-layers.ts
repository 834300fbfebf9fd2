/**
 * The layers of a text that static detectors read: the text, its folded string expressions
 * (fold-strings.ts), and what the obvious encodings in it decode to (base64, base64url, hex,
 * zlib/gzip inside those, char-code lists, rot13), recursively a few levels deep. A layer
 * remembers how it was reached and whether the text above it runs what it decodes (exec, eval,
 * new Function, a pipe into a shell), which makes what is found in it worse.
 * Bounded: the text is cut, the layers are counted, inflation is capped, and every pattern is
 * linear (no nested quantifiers).
 */
import { gunzipSync, inflateSync } from 'node:zlib';
import { foldStrings } from './fold-strings.js';

export interface Layer {
  readonly text: string;
  /** How it was reached from the original text, outermost first; empty for the text itself. */
  readonly decoded: readonly string[];
  /** The text it was decoded from runs code it builds (exec/eval/new Function/`| sh`). */
  readonly executed: boolean;
}

const MAX_TEXT_CHARS = 512 * 1024;
const MAX_LAYERS = 24;
const MAX_DEPTH = 3;
const MAX_BLOBS = 32;
const MAX_INFLATED_BYTES = 1024 * 1024;

const EXEC_SINK =
  /\b(?:exec|eval|compile|execfile|runpy\.run_\w+)\s*\(|\bnew\s+Function\b|\bFunction\s*\(|\bvm\.run\w*|\|\s{0,4}(?:ba|z|da|k)?sh\b|\b(?:ba)?sh\s+-c\b|\beval\s+["'$`]|\bsource\s+<\(|\bnode\s+-e\b|\bpython3?\s+-c\b|\bperl\s+-e\b/;

/** Whether `text` runs code it builds or decodes. */
export function runsDecoded(text: string): boolean {
  return EXEC_SINK.test(text);
}

export function decodeLayers(text: string): Layer[] {
  const out: Layer[] = [];
  const seen = new Set<string>();
  const add = (t: string, decoded: readonly string[], executed: boolean): boolean => {
    if (out.length >= MAX_LAYERS || seen.has(t)) return false;
    seen.add(t);
    out.push({ text: t, decoded, executed });
    return true;
  };
  const visit = (t: string, decoded: readonly string[], executed: boolean, depth: number) => {
    if (!add(t, decoded, executed)) return;
    const folded = foldStrings(t);
    if (folded !== t) add(folded, [...decoded, 'folded'], executed);
    if (depth >= MAX_DEPTH) return;
    const runs = runsDecoded(folded);
    // folded literals join split blobs; the text as written keeps rot13 and escapes intact
    for (const blob of [...decodedBlobs(folded), ...(folded !== t ? decodedBlobs(t) : [])]) visit(blob.text, [...decoded, ...blob.how], runs, depth + 1);
  };
  visit(text.length > MAX_TEXT_CHARS ? text.slice(0, MAX_TEXT_CHARS) : text, [], false, 0);
  return out;
}

interface Blob {
  readonly text: string;
  readonly how: readonly string[];
}

const BASE64 = /[A-Za-z0-9+/]{20,}={0,2}|[A-Za-z0-9_-]{20,}={0,2}/g;
const HEX = /(?:[0-9a-fA-F]{2}){12,}/g;
const CHAR_CODES = /\b\d{1,3}(?:\s{0,4},\s{0,4}\d{1,3}){7,}/g;
const ROT13 = /\brot[-_ ]?13\b/i;

/** What the encoded runs in `text` decode to, when that is text (or compressed text). */
export function decodedBlobs(text: string): Blob[] {
  const blobs: Blob[] = [];
  const push = (bytes: Buffer, how: string) => {
    if (blobs.length >= MAX_BLOBS) return;
    const inflated = inflate(bytes);
    if (inflated !== null && printable(inflated)) blobs.push({ text: inflated.toString('utf8'), how: [how, 'zlib'] });
    else if (printable(bytes)) blobs.push({ text: bytes.toString('utf8'), how: [how] });
  };
  for (const m of text.matchAll(BASE64)) {
    const s = m[0];
    // a hex run is base64's alphabet too: leave it to the hex pass
    if (/^[0-9a-fA-F]+$/.test(s)) continue;
    push(Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64'), 'base64');
  }
  for (const m of text.matchAll(HEX)) push(Buffer.from(m[0], 'hex'), 'hex');
  for (const m of text.matchAll(CHAR_CODES)) {
    const codes = m[0].split(',').map((n) => Number(n.trim()));
    if (codes.every((c) => c === 9 || c === 10 || c === 13 || (c >= 32 && c < 127))) blobs.push({ text: String.fromCharCode(...codes), how: ['charcodes'] });
  }
  if (ROT13.test(text))
    blobs.push({ text: text.replace(/[a-zA-Z]/g, (c) => String.fromCharCode((((c.charCodeAt(0) & 31) + 12) % 26) + (c.charCodeAt(0) & 96) + 1)), how: ['rot13'] });
  return blobs;
}

function inflate(bytes: Buffer): Buffer | null {
  const zlib = bytes.length > 2 && bytes[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(bytes[1]!);
  const gzip = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (!zlib && !gzip) return null;
  try {
    return (zlib ? inflateSync : gunzipSync)(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
  } catch {
    return null;
  }
}

/** Mostly printable text (what code and commands look like), at least 8 bytes. */
function printable(bytes: Buffer): boolean {
  if (bytes.length < 8) return false;
  let ok = 0;
  for (const b of bytes) if (b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0xc2) ok++;
  return ok / bytes.length >= 0.95;
}
