import { AppError, unsafePath } from '../shared/index.js';
import { INPUT_CAPS } from './input-caps.js';

/**
 * A file name must be a plain relative path that stays inside the work dir (the shared safePath
 * rule). A job's own input may carry a repository's `.git`: it never leaves the sandbox.
 */
export function checkPath(path: string, maxDepth: number = INPUT_CAPS.pathDepth): string {
  const unsafe = unsafePath(path, { maxChars: INPUT_CAPS.pathChars, maxDepth, allowGit: true });
  if (unsafe === undefined) return path;
  const cap = unsafe.problem === 'too_long' ? ' (cap pathChars)' : unsafe.problem === 'too_deep' ? ' (cap pathDepth)' : '';
  throw new AppError('INVALID_PATH', `file path ${JSON.stringify(path.slice(0, 300))} ${unsafe.message}${cap}`, { details: { path: path.slice(0, 300) } });
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
