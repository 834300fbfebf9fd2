/**
 * One safe-path table for the four callers of the shared rule: the API's input files, the
 * artifact collector (a real tar stream through collectFromTar), output globs, and the staging
 * targets (checkPromotedFiles, which every file-writing target runs before it writes). Each
 * keeps its own error code; where a caller's options differ (the API's caps, its allowance for
 * a repository's `.git` in the job's own input) the row says so.
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pack } from 'tar-stream';
import { checkPath } from '../src/api/check-path.js';
import { checkPromotedFiles } from '../src/review/targets/promoted-paths.js';
import { collectFromTar } from '../src/sandbox/index.js';
import { AppError, invalidGlobReason, isGitName, unsafePath } from '../src/shared/index.js';

type Outcome = 'ok' | 'refused' | 'too_deep' | 'n/a';
type Caller = 'api' | 'collector' | 'glob' | 'target';
interface Row {
  readonly name: string;
  readonly path: string;
  /** What every caller does unless `except` says otherwise. */
  readonly all: Outcome;
  readonly except?: Partial<Record<Caller, Outcome>>;
}

const deep = (n: number) => Array.from({ length: n - 1 }, () => 'd').join('/') + '/f';

const ROWS: readonly Row[] = [
  { name: 'a plain path', path: 'out/report.txt', all: 'ok' },
  { name: 'dotfiles that are not .git', path: 'out/.gitignore', all: 'ok' },
  { name: 'a CI folder (a finding, not a refusal)', path: '.github/workflows/ci.yml', all: 'ok' },
  { name: 'non-ASCII letters and NBSP (not controls)', path: 'out/café\u00a0menu.txt', all: 'ok' },
  { name: 'a nested .airlock folder', path: 'sub/.airlock/x', all: 'ok' },
  { name: 'DEL (0x7f)', path: 'out/a\u007f', all: 'refused' },
  { name: 'C1 NEL (0x85)', path: 'out/a\u0085b', all: 'refused' },
  { name: 'C1 CSI (0x9b)', path: 'out/\u009b31m', all: 'refused' },
  { name: 'C1 first (0x80)', path: '\u0080', all: 'refused' },
  { name: 'a newline', path: 'out/a\nb', all: 'refused' },
  { name: 'ESC (C0)', path: 'out/\u001b[2J', all: 'refused' },
  { name: 'a backslash', path: 'out\\..\\evil', all: 'refused' },
  { name: 'the replacement character (bytes that were not UTF-8)', path: 'out/\ufffd', all: 'refused' },
  { name: 'absolute', path: '/etc/passwd', all: 'refused' },
  { name: 'climbing', path: 'out/../../x', all: 'refused' },
  { name: 'an empty segment', path: 'out//x', all: 'refused' },
  { name: 'a "." segment', path: 'out/./x', all: 'refused' },
  { name: 'the launcher folder', path: '.airlock/patch', all: 'refused' },
  { name: 'the launcher folder, other case', path: '.AIRLOCK/stdin', all: 'refused' },
  { name: 'a .git segment', path: 'out/.git/hooks/post-checkout', all: 'refused', except: { api: 'ok' } },
  { name: '.git in capitals', path: '.GIT/config', all: 'refused', except: { api: 'ok' } },
  { name: '.git with NTFS trailing dots and spaces', path: 'a/.git. ./config', all: 'refused', except: { api: 'ok' } },
  { name: '.git as an NTFS 8.3 name', path: 'a/GIT~1/config', all: 'refused', except: { api: 'ok' } },
  { name: '.git with an HFS+ ignorable character', path: 'a/.g\u200cit/config', all: 'refused', except: { api: 'ok' } },
  { name: '16 levels', path: deep(16), all: 'ok' },
  { name: '17 levels (over the API cap)', path: deep(17), all: 'ok', except: { api: 'refused' } },
  { name: '32 levels', path: deep(32), all: 'ok', except: { api: 'refused' } },
  { name: '33 levels (over every cap)', path: deep(33), all: 'refused', except: { collector: 'too_deep' } },
  { name: '255 characters', path: 'x'.repeat(255), all: 'ok' },
  { name: '256 characters (over the API and glob caps)', path: 'x'.repeat(256), all: 'ok', except: { api: 'refused', glob: 'refused' } },
  { name: '1025 characters (over every cap)', path: `${'x'.repeat(200)}/`.repeat(5) + 'y'.repeat(20), all: 'refused' },
  { name: 'empty', path: '', all: 'refused', except: { collector: 'n/a' } },
];

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function api(path: string): Outcome {
  try {
    checkPath(path);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('INVALID_PATH');
    return 'refused';
  }
}

function glob(path: string): Outcome {
  return invalidGlobReason(path) === undefined ? 'ok' : 'refused';
}

function target(path: string): Outcome {
  const content = Buffer.from('x');
  try {
    checkPromotedFiles([{ path, bytes: 1, sha256: sha256(content), content }]);
    return 'ok';
  } catch (err) {
    expect((err as AppError).code).toBe('PROMOTION_APPLY_FAILED');
    return 'refused';
  }
}

/** One regular file named `path` in a real tar stream, collected with `outputs: ['**']`. */
async function collector(path: string): Promise<Outcome> {
  const p = pack();
  p.entry({ name: path, type: 'file', mode: 0o644 }, 'x');
  p.finalize();
  const got = await collectFromTar(p.pipe(new PassThrough()), ['**'], { artifactFiles: 10, artifactBytes: 1000 });
  if (got.artifacts.length === 1) {
    expect(got.artifacts[0]!.path).toBe(path);
    expect(got.rejected).toEqual([]);
    return 'ok';
  }
  expect(got.artifacts).toEqual([]);
  expect(got.rejected).toHaveLength(1);
  const reason = got.rejected[0]!.reason;
  expect(['unsafe_path', 'too_deep']).toContain(reason);
  return reason === 'too_deep' ? 'too_deep' : 'refused';
}

describe('safePath: one rule, four callers', () => {
  it.each(ROWS.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const want = (c: Caller) => row.except?.[c] ?? row.all;
    const got: Record<Caller, Outcome> = {
      api: api(row.path),
      glob: glob(row.path),
      target: target(row.path),
      collector: want('collector') === 'n/a' ? 'n/a' : await collector(row.path),
    };
    expect(got).toEqual({ api: want('api'), collector: want('collector'), glob: want('glob'), target: want('target') });
  });

  it('the shared rule names the problem, so each caller can word it', () => {
    expect(unsafePath('out/a\u007f')?.problem).toBe('bad_character');
    expect(unsafePath(deep(33))?.problem).toBe('too_deep');
    expect(unsafePath('a/.git/x')).toEqual({ problem: 'reserved', message: 'has a .git segment' });
    expect(unsafePath('a/.git/x', { allowGit: true })).toBeUndefined();
    expect(unsafePath('.airlock/x', { allowGit: true })?.message).toBe('uses the reserved .airlock directory');
    expect(unsafePath('abc', { maxChars: 2 })?.problem).toBe('too_long');
    expect(['.git', '.Git', '.git.', '.git ', 'git~1', '.g\u200dit', '\ufeff.git'].map(isGitName)).toEqual(Array(7).fill(true));
    expect(['.github', '.gitignore', 'git', '.gi', 'x.git'].map(isGitName)).toEqual(Array(5).fill(false));
  });

  it('an unsafe artifact is refused and reported whatever the output pattern; a too-deep one only where a pattern reaches it', async () => {
    const p = pack();
    p.entry({ name: 'out/ok.txt', type: 'file', mode: 0o644 }, 'ok');
    p.entry({ name: 'out/.git/config', type: 'file', mode: 0o644 }, '[core]');
    p.entry({ name: 'other/a\u007f', type: 'file', mode: 0o644 }, 'x');
    p.entry({ name: `out/${deep(40)}`, type: 'file', mode: 0o644 }, 'deep');
    p.entry({ name: `other/${deep(40)}`, type: 'file', mode: 0o644 }, 'deep');
    p.finalize();
    const got = await collectFromTar(p.pipe(new PassThrough()), ['out'], { artifactFiles: 10, artifactBytes: 1000 });
    expect(got.artifacts.map((a) => a.path)).toEqual(['out/ok.txt']);
    expect(got.rejected).toEqual([
      { path: 'out/.git/config', reason: 'unsafe_path' },
      { path: 'other/a\u007f', reason: 'unsafe_path' },
      { path: `out/${deep(40)}`, reason: 'too_deep' },
    ]);
  });
});
