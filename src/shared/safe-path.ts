/**
 * The one rule for a relative path Airlock accepts, stores or writes: a job's input files (API),
 * the artifacts a collector brings back, output globs, and every staging target call it, each
 * with its own error code and wording. Options exist only where callers truly differ (caps on
 * length and depth; a job's own input may carry a repository's `.git`).
 */
export const SAFE_PATH_MAX_CHARS = 1024;
export const SAFE_PATH_MAX_DEPTH = 32;

export type UnsafePathProblem = 'empty' | 'too_long' | 'bad_character' | 'absolute' | 'climbs' | 'empty_segment' | 'too_deep' | 'reserved';

export interface SafePathOptions {
  /** Longest path, in characters (default SAFE_PATH_MAX_CHARS). */
  readonly maxChars?: number;
  /** Most segments (default SAFE_PATH_MAX_DEPTH). */
  readonly maxDepth?: number;
  /**
   * Only for a job's own input, which lives and dies in its sandbox (a repository snapshot may
   * carry its `.git`). Nothing that leaves a sandbox may: git honours a nested `.git` (hooks, config).
   */
  readonly allowGit?: boolean;
}

export interface UnsafePath {
  readonly problem: UnsafePathProblem;
  /** Completes "path X …", e.g. `has a .git segment`. */
  readonly message: string;
}

// C0 controls, DEL, C1 controls (U+0080–U+009F: terminals act on some of them), backslash (a
// separator elsewhere), and U+FFFD: a name that was not valid UTF-8 decodes to it, so two
// different names could collide
// eslint-disable-next-line no-control-regex
const BAD_CHARACTER = /[\u0000-\u001f\u007f-\u009f\\\uFFFD]/;

// characters HFS+ ignores in names, so `.g\u200cit` is `.git` on a Mac checkout (git's own list)
const HFS_IGNORABLE = /[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]/g;

/** `.git` as git itself protects it on every filesystem: any case, NTFS trailing dots/spaces and 8.3 name, HFS+ ignorables. */
export function isGitName(segment: string): boolean {
  const s = segment
    .replace(HFS_IGNORABLE, '')
    .replace(/[. ]+$/, '')
    .toLowerCase();
  return s === '.git' || s === 'git~1';
}

/** Why `path` is not a plain relative path that stays where it is put, or undefined when it is safe. */
export function unsafePath(path: string, opts: SafePathOptions = {}): UnsafePath | undefined {
  const maxChars = opts.maxChars ?? SAFE_PATH_MAX_CHARS;
  const maxDepth = opts.maxDepth ?? SAFE_PATH_MAX_DEPTH;
  if (path.length === 0) return { problem: 'empty', message: 'is empty' };
  if (path.length > maxChars) return { problem: 'too_long', message: `is longer than ${maxChars} characters` };
  if (BAD_CHARACTER.test(path)) return { problem: 'bad_character', message: 'contains control characters (C0, DEL, C1), backslashes or bytes that are not UTF-8' };
  if (path.startsWith('/')) return { problem: 'absolute', message: 'is absolute; paths are relative' };
  const parts = path.split('/');
  if (parts.includes('..')) return { problem: 'climbs', message: 'climbs out (..)' };
  if (parts.some((p) => p === '' || p === '.')) return { problem: 'empty_segment', message: 'has empty or "." segments' };
  if (parts.length > maxDepth) return { problem: 'too_deep', message: `is deeper than ${maxDepth} levels` };
  // the launcher's input folder (/work/.airlock) is never a job's file
  if (parts[0]!.toLowerCase() === '.airlock') return { problem: 'reserved', message: 'uses the reserved .airlock directory' };
  if (opts.allowGit !== true && parts.some(isGitName)) return { problem: 'reserved', message: 'has a .git segment' };
  return undefined;
}
