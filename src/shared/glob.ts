/**
 * Path globs for declared outputs: `*` and `?` stay inside one segment, `**` spans
 * segments, and a pattern that names a directory also matches everything under it.
 * Matched segment by segment with a table (no backtracking regex): the cost is bounded by
 * pattern segments × path segments, whatever the pattern, so a hostile glob cannot stall
 * the worker: both are capped (MAX_PATTERN_SEGMENTS here; the collector refuses entries deeper
 * than safePath's depth), so a match costs at most 33 × 33 steps.
 */
import { unsafePath } from './safe-path.js';

export interface GlobMatcher {
  test(path: string): boolean;
}

const MAX_DOUBLE_STARS = 4;
const MAX_STARS = 16;
const MAX_PATTERN_CHARS = 255;
const MAX_PATTERN_SEGMENTS = 32;

export function compileGlob(pattern: string): GlobMatcher {
  const segs = pattern.replace(/\/+$/, '').split('/');
  return { test: (path) => matchSegments(segs, path.split('/')) };
}

export function matchesAny(path: string, matchers: readonly GlobMatcher[]): boolean {
  return matchers.some((m) => m.test(path));
}

function matchSegments(pat: readonly string[], path: readonly string[]): boolean {
  const P = pat.length;
  const S = path.length;
  // ok[p * (S + 1) + s]: pattern segments p.. match path segments s.. (or a prefix of them)
  const ok = new Uint8Array((P + 1) * (S + 1));
  for (let s = S; s >= 0; s--) {
    ok[P * (S + 1) + s] = 1; // pattern used up: the rest of the path lies under a matched directory
    for (let p = P - 1; p >= 0; p--) {
      const seg = pat[p]!;
      let v: boolean;
      if (seg === '**') v = ok[(p + 1) * (S + 1) + s] === 1 || (s < S && ok[p * (S + 1) + s + 1] === 1);
      else v = s < S && ok[(p + 1) * (S + 1) + s + 1] === 1 && matchSegment(seg, path[s]!);
      ok[p * (S + 1) + s] = v ? 1 : 0;
    }
  }
  return ok[0] === 1;
}

/** `*` / `?` wildcard match of one segment: greedy with one restart point, O(n·m) at worst. */
function matchSegment(pat: string, str: string): boolean {
  let p = 0;
  let s = 0;
  let star = -1;
  let mark = 0;
  while (s < str.length) {
    if (p < pat.length && (pat[p] === '?' || pat[p] === str[s])) {
      p++;
      s++;
    } else if (p < pat.length && pat[p] === '*') {
      star = p++;
      mark = s;
    } else if (star !== -1) {
      p = star + 1;
      s = ++mark;
    } else return false;
  }
  while (p < pat.length && pat[p] === '*') p++;
  return p === pat.length;
}

/** A declared output pattern: a safe path (shared rule: characters, `..`, segments, `.git`, depth) with bounded wildcards. */
export function invalidGlobReason(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_CHARS) return `must be 1-${MAX_PATTERN_CHARS} characters`;
  const unsafe = unsafePath(pattern.replace(/\/$/, ''), { maxChars: MAX_PATTERN_CHARS, maxDepth: MAX_PATTERN_SEGMENTS });
  if (unsafe !== undefined) return unsafe.problem === 'too_deep' ? `has more than ${MAX_PATTERN_SEGMENTS} segments` : unsafe.message;
  const parts = pattern.replace(/\/$/, '').split('/');
  if (parts.filter((p) => p === '**').length > MAX_DOUBLE_STARS) return `has more than ${MAX_DOUBLE_STARS} "**" segments`;
  if ((pattern.match(/\*/g) ?? []).length > MAX_STARS) return `has more than ${MAX_STARS} wildcards`;
  if (parts.some((p) => p.includes('**') && p !== '**')) return '"**" must be a whole segment';
  return undefined;
}
