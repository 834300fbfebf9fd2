/**
 * Folds the string expressions code uses to hide a word from a text search back into one
 * literal: `"so" + "ck" + "et"`, `'a' 'b'`, `['', 'var', 'run', 'docker.sock'].join('/')`,
 * `"/".join([...])`, `os.path.join("/", "run", "air" + "lock")`, `"nekot"[::-1]`,
 * `s.split('').reverse().join('')`, and escapes (`\x2f`, `\u002f`, octal) inside literals.
 * A hand-written scanner, linear in the text: no regular expression here can backtrack over
 * attacker-sized input.
 */

interface Literal {
  value: string;
  /** Template literals with `${}` and raw strings are kept as they are. */
  readonly foldable: boolean;
}

const MAX_LITERAL_CHARS = 64 * 1024;
const MAX_ROUNDS = 6;

/** The text with every foldable string expression replaced by the one literal it builds. */
export function foldStrings(text: string): string {
  const { gaps, lits } = scan(text);
  if (lits.length === 0) return text;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const before = lits.length;
    let changed = foldReverse(gaps, lits);
    changed = foldJoins(gaps, lits) || changed;
    changed = foldConcat(gaps, lits) || changed;
    if (!changed && lits.length === before) break;
  }
  let out = gaps[0]!;
  for (let i = 0; i < lits.length; i++) out += JSON.stringify(lits[i]!.value) + gaps[i + 1]!;
  return out;
}

/** Splits text into literals and the gaps around them (gaps.length === lits.length + 1). */
function scan(text: string): { gaps: string[]; lits: Literal[] } {
  const gaps: string[] = [];
  const lits: Literal[] = [];
  let gapStart = 0;
  let i = 0;
  while (i < text.length) {
    const q = text[i]!;
    if (q !== '"' && q !== "'" && q !== '`') {
      i++;
      continue;
    }
    const triple = q !== '`' && text.startsWith(q + q + q, i);
    const open = triple ? 3 : 1;
    const end = closing(text, i + open, q, triple);
    if (end < 0) {
      i++;
      continue;
    }
    const prefix = /[rRbBuUfF]{1,2}$/.exec(text.slice(Math.max(0, i - 2), i))?.[0] ?? '';
    const raw = text.slice(i + open, end);
    const isRaw = /r/i.test(prefix) || (q === '`' && raw.includes('${'));
    gaps.push(text.slice(gapStart, i));
    lits.push({ value: isRaw ? raw : unescape(raw), foldable: !isRaw });
    i = end + open;
    gapStart = i;
  }
  gaps.push(text.slice(gapStart));
  return { gaps, lits };
}

/** Index of the closing quote, or -1 (a single-quoted literal ends at its line). */
function closing(text: string, from: number, q: string, triple: boolean): number {
  const limit = Math.min(text.length, from + MAX_LITERAL_CHARS);
  for (let j = from; j < limit; j++) {
    const c = text[j]!;
    if (c === '\\') {
      j++;
      continue;
    }
    if (c === '\n' && !triple && q !== '`') return -1;
    if (c === q && (!triple || text.startsWith(q + q + q, j))) return j;
  }
  return -1;
}

const SIMPLE: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '\\': '\\', "'": "'", '"': '"', '`': '`' };

function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\' || i + 1 >= s.length) {
      out += c;
      continue;
    }
    const n = s[i + 1]!;
    const hex = n === 'x' ? /^[0-9a-fA-F]{2}/.exec(s.slice(i + 2, i + 4)) : n === 'u' ? /^[0-9a-fA-F]{4}/.exec(s.slice(i + 2, i + 6)) : null;
    const oct = /^[0-7]{3}/.exec(s.slice(i + 1, i + 4));
    if (hex !== null) {
      out += String.fromCharCode(parseInt(hex[0], 16));
      i += 1 + hex[0].length;
    } else if (oct !== null) {
      out += String.fromCharCode(parseInt(oct[0], 8));
      i += 3;
    } else {
      out += SIMPLE[n] ?? `\\${n}`;
      i += 1;
    }
  }
  return out;
}

/** `"a" + "b"`, and adjacent literals on one line (`'a' 'b'`, shell `"a""b"`). */
function foldConcat(gaps: string[], lits: Literal[]): boolean {
  let changed = false;
  for (let k = 0; k + 1 < lits.length;) {
    const gap = gaps[k + 1]!;
    if (lits[k]!.foldable && lits[k + 1]!.foldable && (/^\s{0,40}\+\s{0,40}$/.test(gap) || /^[ \t]{0,8}$/.test(gap))) {
      lits[k]!.value += lits[k + 1]!.value;
      lits.splice(k + 1, 1);
      gaps.splice(k + 1, 1);
      changed = true;
    } else k++;
  }
  return changed;
}

/** `"x"[::-1]` and `"x".split('').reverse().join('')`. */
function foldReverse(gaps: string[], lits: Literal[]): boolean {
  let changed = false;
  for (let k = 0; k < lits.length; k++) {
    const after = gaps[k + 1]!;
    if (!lits[k]!.foldable) continue;
    if (after.startsWith('[::-1]')) {
      lits[k]!.value = [...lits[k]!.value].reverse().join('');
      gaps[k + 1] = after.slice(6);
      changed = true;
    } else if (
      k + 2 < lits.length &&
      after === '.split(' &&
      lits[k + 1]!.value === '' &&
      gaps[k + 2] === ').reverse().join(' &&
      lits[k + 2]!.value === '' &&
      gaps[k + 3]!.startsWith(')')
    ) {
      lits[k]!.value = [...lits[k]!.value].reverse().join('');
      gaps[k + 3] = gaps[k + 3]!.slice(1);
      lits.splice(k + 1, 2);
      gaps.splice(k + 1, 2);
      changed = true;
    }
  }
  return changed;
}

/** `[…].join(sep)` (JavaScript), `sep.join([…])` (Python) and `path.join(…)`, over literals only. */
function foldJoins(gaps: string[], lits: Literal[]): boolean {
  let changed = false;
  for (let k = 0; k < lits.length; k++) {
    let m = k;
    while (m + 1 < lits.length && /^\s{0,20},\s{0,20}$/.test(gaps[m + 1]!) && lits[m + 1]!.foldable) m++;
    if (!lits.slice(k, m + 1).every((l) => l.foldable)) continue;
    const before = gaps[k]!;
    const parts = lits.slice(k, m + 1).map((l) => l.value);
    const after = gaps[m + 1]!;
    const pathJoin = /(?:^|[^\w.])(?:os\.path|posixpath|path)\.join\(\s{0,20}$/.exec(before);
    if (pathJoin !== null && /^\s{0,20}\)/.test(after)) {
      replace(gaps, lits, k, m, before.length - pathJoin[0].length + (pathJoin[0].match(/^[^\w.]/) ? 1 : 0), after.indexOf(')') + 1, parts.join('/').replace(/\/{2,}/g, '/'));
      changed = true;
      continue;
    }
    const pyJoin = /\.join\(\s{0,20}[[(]\s{0,20}$/.exec(before);
    if (k > 0 && pyJoin !== null && before.length === pyJoin[0].length && lits[k - 1]!.foldable && /^\s{0,20},?\s{0,20}[\])]\s{0,20}\)/.test(after)) {
      const sep = lits[k - 1]!.value;
      const close = after.indexOf(')', after.search(/[\])]/) + 1);
      replace(gaps, lits, k - 1, m, gaps[k - 1]!.length, close + 1, parts.join(sep));
      changed = true;
      continue;
    }
    const open = /\[\s{0,20}$/.exec(before);
    if (open === null) continue;
    const jsEmpty = /^\s{0,20},?\s{0,20}\]\s{0,20}\.join\(\s{0,20}\)/.exec(after);
    if (jsEmpty !== null) {
      replace(gaps, lits, k, m, before.length - open[0].length, jsEmpty[0].length, parts.join(','));
      changed = true;
    } else if (m + 1 < lits.length && /^\s{0,20},?\s{0,20}\]\s{0,20}\.join\(\s{0,20}$/.test(after) && /^\s{0,20}\)/.test(gaps[m + 2]!)) {
      const tail = gaps[m + 2]!;
      replace(gaps, lits, k, m + 1, before.length - open[0].length, tail.indexOf(')') + 1, parts.join(lits[m + 1]!.value));
      changed = true;
    }
  }
  return changed;
}

/**
 * Replaces literals k..m with one literal `value`: the gap before k keeps its first `keepBefore`
 * characters, the gap after m loses its first `dropAfter`.
 */
function replace(gaps: string[], lits: Literal[], k: number, m: number, keepBefore: number, dropAfter: number, value: string): void {
  gaps[k] = gaps[k]!.slice(0, keepBefore);
  gaps[m + 1] = gaps[m + 1]!.slice(dropAfter);
  lits.splice(k, m - k + 1, { value, foldable: true });
  gaps.splice(k + 1, m - k);
}
