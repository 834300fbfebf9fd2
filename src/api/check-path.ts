import { posix } from 'node:path';
import { AppError } from '../shared/index.js';
import { INPUT_CAPS } from './input-caps.js';

/** A file name must be a plain relative path that stays inside the work dir. */
export function checkPath(path: string, maxDepth: number = INPUT_CAPS.pathDepth): string {
  const bad = (why: string) => new AppError('INVALID_PATH', `file path ${JSON.stringify(path.slice(0, 300))} ${why}`, { details: { path: path.slice(0, 300) } });
  if (path.length > INPUT_CAPS.pathChars) throw bad(`is longer than ${INPUT_CAPS.pathChars} characters (cap pathChars)`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(path)) throw bad('contains control characters or backslashes');
  if (path.startsWith('/')) throw bad('is absolute; paths are relative to the work dir');
  const parts = path.split('/');
  if (parts.some((p) => p === '..')) throw bad('climbs out of the work dir (..)');
  if (parts.some((p) => p === '' || p === '.')) throw bad('has empty or "." segments');
  if (parts.length > maxDepth) throw bad(`is deeper than ${maxDepth} levels (cap pathDepth)`);
  if (parts[0] === '.airlock') throw bad('uses the reserved .airlock directory');
  const rel = posix.relative('/work', posix.join('/work', path));
  if (rel.startsWith('..') || posix.isAbsolute(rel)) throw bad('escapes the work dir');
  return path;
}

/** A path cannot be both a file and a directory of the tree (`a` and `a/b`). */
export function checkTreeConflicts(paths: readonly string[]): void {
  const files = new Set(paths);
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (files.has(dir))
        throw new AppError('INVALID_PATH', `${JSON.stringify(dir)} is both a file and the directory of ${JSON.stringify(p.slice(0, 200))}`, { details: { path: dir } });
    }
  }
}
