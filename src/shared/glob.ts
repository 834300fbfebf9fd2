/**
 * Minimal path globs for declared outputs: `*` and `?` stay inside one segment, `**` spans
 * segments. A pattern that names a directory also matches everything under it.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(?:/.*)?$`);
}

export function matchesAny(path: string, patterns: readonly RegExp[]): boolean {
  return patterns.some((p) => p.test(path));
}

/** A declared output pattern: relative, no `..`, no empty segments. Returns a reason when invalid. */
export function invalidGlobReason(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > 255) return 'must be 1-255 characters';
  if (pattern.startsWith('/')) return 'must be relative to the work dir';
  const parts = pattern.replace(/\/$/, '').split('/');
  if (parts.some((p) => p === '..')) return 'must not climb out of the work dir (..)';
  if (parts.some((p) => p === '' || p === '.')) return 'has empty or "." segments';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\\]/.test(pattern)) return 'contains control characters or backslashes';
  return undefined;
}
