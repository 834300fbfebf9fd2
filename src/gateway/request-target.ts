/**
 * Parsing a job's request target `/tools/<name>/<path...>?<query>` and deciding whether the
 * path stays inside a tool's prefixes. Anything ambiguous is refused rather than normalized:
 * `.`/`..` segments (also percent-encoded or with `;params`), empty segments (`//`),
 * backslashes, encoded slashes or backslashes, double encoding, control characters and `#`.
 * Prefixes are compared on decoded segments, never with a raw startsWith.
 */

export interface ToolTarget {
  /** The raw first segment after /tools/ (compared as-is against grants and tool names). */
  readonly toolName: string;
  /** The path forwarded upstream, as the job encoded it; starts with `/`. */
  readonly path: string;
  /** `?…` as the job sent it, or ''. */
  readonly query: string;
}

/** undefined when the target is not of the form `/tools/<name>[/<path>][?query]`. */
export function splitTarget(rawUrl: string): ToolTarget | undefined {
  const q = rawUrl.indexOf('?');
  const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
  const query = q < 0 ? '' : rawUrl.slice(q);
  const m = /^\/tools\/([^/]+)(\/.*)?$/.exec(rawPath);
  if (m === null || m[1] === undefined) return undefined;
  return { toolName: m[1], path: m[2] ?? '/', query };
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Decoded segments of a forwarded path, or the reason it is refused. */
export function pathSegments(path: string): { segments: string[] } | { refused: string } {
  if (!path.startsWith('/')) return { refused: 'path must start with /' };
  if (/[\\#]/.test(path) || CONTROL.test(path)) return { refused: 'backslash, # or control character in path' };
  if (path.includes('//')) return { refused: 'empty path segment (//)' };
  const raw = path.slice(1).split('/');
  const segments: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const seg = raw[i]!;
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return { refused: 'malformed percent-encoding' };
    }
    if (/[/\\]/.test(decoded) || CONTROL.test(decoded)) return { refused: 'encoded slash, backslash or control character' };
    if (/%[0-9a-f]{2}/i.test(decoded)) return { refused: 'double percent-encoding' };
    const bare = decoded.split(';')[0]!;
    if (bare === '.' || bare === '..') return { refused: 'dot segment' };
    if (decoded === '' && i !== raw.length - 1) return { refused: 'empty path segment' };
    segments.push(decoded);
  }
  return { segments };
}

/** Segments of a configured prefix (trailing slash ignored); undefined when the prefix itself is unsafe. */
export function prefixSegments(prefix: string): string[] | undefined {
  if (!prefix.startsWith('/') || /[%\\?#]/.test(prefix) || CONTROL.test(prefix)) return undefined;
  const trimmed = prefix.slice(1).replace(/\/$/, '');
  if (trimmed === '') return [];
  const segments = trimmed.split('/');
  return segments.every((s) => s !== '' && s !== '.' && s !== '..') ? segments : undefined;
}

/** True when the decoded path segments begin with every segment of one of the prefixes. */
export function withinPrefixes(segments: readonly string[], prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => {
    const want = prefixSegments(prefix);
    return want !== undefined && want.length <= segments.length && want.every((s, i) => segments[i] === s);
  });
}
