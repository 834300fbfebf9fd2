/**
 * The error catalogue: every ErrorCode has a sane HTTP status and is documented in the
 * API reference (docs/api.md, linked from the README). (Pure: no Redis, no Docker.)
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../src/api/index.js';
import { ERROR_CODES, type ErrorCode } from '../src/shared/index.js';

/** Failures of our infrastructure, not of the caller's request: the only 5xx codes. */
const SERVER_SIDE: ReadonlySet<ErrorCode> = new Set([
  'REDIS_UNAVAILABLE',
  'QUEUE_FULL',
  'SANDBOX_UNAVAILABLE',
  'IMAGE_MISSING',
  'ISOLATION_UNAVAILABLE',
  'SANDBOX_INPUT_FAILED',
  'AUDIT_UNAVAILABLE',
  'ARTIFACT_CORRUPT',
  'ARTIFACT_STORE_UNAVAILABLE',
  'CONFIG_INVALID',
  'INTERNAL',
  'PROMOTION_APPLY_FAILED',
]);

const API_DOC = fileURLToPath(new URL('../docs/api.md', import.meta.url));

/**
 * The text from the first heading that mentions "API" to the next heading of the same or a
 * higher level. `#` lines inside fenced code blocks (shell comments) are not headings.
 */
function apiSection(markdown: string): string | undefined {
  let fenced = false;
  const headings = markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    const m = fenced ? null : /^(#{1,6})\s+(.*)$/.exec(line);
    return { line, level: m?.[1]?.length, title: m?.[2] ?? '' };
  });
  const start = headings.findIndex((h) => h.level !== undefined && /\bAPI\b/.test(h.title));
  if (start === -1) return undefined;
  const level = headings[start]!.level!;
  const end = headings.findIndex((h, i) => i > start && h.level !== undefined && h.level <= level);
  return headings
    .slice(start, end === -1 ? undefined : end)
    .map((h) => h.line)
    .join('\n');
}

describe('error catalogue', () => {
  it('has no duplicate codes and HTTP_STATUS covers exactly the catalogue', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(Object.keys(HTTP_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it.each(ERROR_CODES.map((c) => [c]))('%s has an HTTP error status', (code) => {
    const status = HTTP_STATUS[code];
    expect(Number.isInteger(status)).toBe(true);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(600);
  });

  it('infrastructure failures are 5xx and everything the caller caused is 4xx', () => {
    const wrong = ERROR_CODES.filter((c) => HTTP_STATUS[c] >= 500 !== SERVER_SIDE.has(c)).map((c) => `${c}=${HTTP_STATUS[c]}`);
    expect(wrong).toEqual([]);
  });

  it('uses the conventional status for each family of codes', () => {
    for (const code of ERROR_CODES) {
      if (code.endsWith('_NOT_FOUND')) expect(HTTP_STATUS[code], code).toBe(404);
      if (code.endsWith('_UNAVAILABLE')) expect(HTTP_STATUS[code], code).toBe(503);
    }
    expect(HTTP_STATUS.UNAUTHORIZED).toBe(401);
    expect(HTTP_STATUS.FORBIDDEN).toBe(403);
    expect(HTTP_STATUS.RATE_LIMITED).toBe(429);
    expect(HTTP_STATUS.UNSUPPORTED_MEDIA_TYPE).toBe(415);
    expect(HTTP_STATUS.JOB_ALREADY_FINISHED).toBe(409);
    for (const code of ['BODY_TOO_LARGE', 'FILE_TOO_LARGE', 'INPUT_TOO_LARGE'] as const) expect(HTTP_STATUS[code], code).toBe(413);
  });

  it('apiSection finds the section and ignores # lines in code blocks', () => {
    const md = ['# Airlock', '## HTTP API', '```sh', '# make a key', '```', '### Errors', '`JOB_NOT_FOUND`', '## Configuration', 'INTERNAL'].join('\n');
    const section = apiSection(md) ?? '';
    expect(section).toContain('JOB_NOT_FOUND');
    expect(section).not.toContain('INTERNAL');
    expect(apiSection('# Airlock\nno api here')).toBeUndefined();
  });

  it('every code is documented in the API reference (docs/api.md)', () => {
    let markdown: string;
    try {
      markdown = readFileSync(API_DOC, 'utf8');
    } catch {
      expect.fail(`the API reference is missing (${API_DOC}); it must document: ${ERROR_CODES.join(', ')}`);
    }
    const section = apiSection(markdown);
    expect(section, 'docs/api.md has no heading mentioning "API"').toBeDefined();
    // \b keeps FORBIDDEN from matching inside FORBIDDEN_KEY
    const missing = ERROR_CODES.filter((code) => !new RegExp(`\\b${code}\\b`).test(section ?? ''));
    expect(missing, 'codes missing from docs/api.md').toEqual([]);
  });
});
