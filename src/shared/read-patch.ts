/**
 * What a patch changes, as git reads it: the one reader behind the API's check at submit,
 * the sandbox's cross-check of GNU patch, the monitor's findings and the review gate, so a
 * reviewer, the risk monitor and the git staging target see the same files.
 *
 * `git apply --numstat --summary -z` and `git apply -R --numstat -z` only parse (those
 * flags never read or write a file) the patch bytes given on stdin, in an empty scratch
 * folder, with a time and output bound. Names, renames, copies and modes are git's; this
 * file only lines up its two listings (the reverse one names each file's old path).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from './errors.js';
import { GitCommandError, gitRunner } from './git-runner.js';

const READ_TIMEOUT_MS = 20_000;
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** The only mode a promoted file may have (artifacts are always written with it). */
export const REGULAR_FILE_MODE = '100644';

export interface PatchFile {
  /** The path before the change: the same as `path` unless the file is renamed or copied. */
  readonly from: string;
  /** The path after the change (for a deletion, the deleted path). */
  readonly path: string;
  readonly change: 'rename' | 'copy' | null;
  /** `100644`, `100755` (executable), `120000` (symlink), `160000` (gitlink) when created / deleted. */
  readonly createMode: string | null;
  readonly deleteMode: string | null;
  readonly modeChange: { readonly from: string; readonly to: string } | null;
}

export interface PatchView {
  /** One entry per file section, in the patch's order. */
  readonly files: readonly PatchFile[];
  /** Every path the patch touches (both sides of renames and copies), sorted, once each. */
  readonly paths: readonly string[];
}

const invalid = (message: string, cause?: unknown) => new AppError('INVALID_PATCH', message, { details: { field: 'patch' }, ...(cause !== undefined ? { cause } : {}) });

/** git's reading of `patch`; INVALID_PATCH when git cannot read it or it names a path git's listings cannot carry. */
export async function readPatch(patch: string | Buffer, opts: { git?: string } = {}): Promise<PatchView> {
  const home = await mkdtemp(join(tmpdir(), 'airlock-read-patch-'));
  const git = gitRunner(opts.git ?? 'git', home);
  const run = async (args: string[]) => {
    try {
      return await git(['apply', ...args, '-'], { input: patch, timeoutMs: READ_TIMEOUT_MS, maxOutputBytes: MAX_OUTPUT_BYTES });
    } catch (err) {
      if (err instanceof GitCommandError && err.stderr.trim() !== '') throw invalid(`git cannot read the patch: ${err.stderr.trim().slice(0, 500)}`, err);
      throw new AppError('INTERNAL', `reading the patch with git failed: ${(err as Error).message.slice(0, 500)}`, { retryable: true, cause: err });
    }
  };
  try {
    const [forward, reverse] = await Promise.all([run(['--numstat', '--summary', '-z']), run(['-R', '--numstat', '-z'])]);
    return lineUp(forward, reverse);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

interface Numstat {
  readonly added: string;
  readonly deleted: string;
  readonly name: string;
}

/** `added\tdeleted\tname\0` records (names unquoted under -z); the forward run's summary follows the last NUL. */
function numstats(out: string): { records: Numstat[]; rest: string } {
  const parts = out.split('\0');
  const rest = parts.pop() ?? '';
  const records = parts.map((rec) => {
    const m = /^(\d+|-)\t(\d+|-)\t([^]*)$/.exec(rec);
    if (m === null) throw invalid(`git's listing of the patch has an unexpected record ${JSON.stringify(rec.slice(0, 100))}`);
    const name = m[3]!;
    // the summary names files unquoted, one per line; U+FFFD stands for bytes that are not UTF-8.
    // Every other rule for a path is the caller's (shared/safe-path)
    if (name === '' || /[\n\r\uFFFD]/.test(name)) throw invalid(`the patch names a path with a line break or bytes that are not UTF-8: ${JSON.stringify(name.slice(0, 200))}`);
    return { added: m[1]!, deleted: m[2]!, name };
  });
  return { records, rest };
}

function lineUp(forwardOut: string, reverseOut: string): PatchView {
  const fwd = numstats(forwardOut);
  // -R lists the files in reverse order, each under its old name, with the counts swapped
  const rev = numstats(reverseOut).records.reverse();
  if (fwd.records.length === 0) throw invalid('the patch changes no file');
  if (rev.length !== fwd.records.length || rev.some((r, i) => r.added !== fwd.records[i]!.deleted || r.deleted !== fwd.records[i]!.added)) {
    throw invalid("git's forward and reverse readings of the patch do not line up");
  }
  const files: Mutable<PatchFile>[] = fwd.records.map((f, i) => ({ from: rev[i]!.name, path: f.name, change: null, createMode: null, deleteMode: null, modeChange: null }));
  applySummary(files, fwd.rest.split('\n'));
  return { files, paths: [...new Set(files.flatMap((f) => [f.from, f.path]))].sort() };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Adds git's summary lines to the files they describe. The summary prints names unquoted,
 * which is unambiguous because names with line breaks were refused above.
 */
function applySummary(files: Mutable<PatchFile>[], lines: readonly string[]): void {
  let last: Mutable<PatchFile> | undefined;
  const byPath = (name: string, pick: (f: PatchFile) => boolean) => files.find((f) => f.path === name && pick(f));
  for (const line of lines) {
    let m: RegExpExecArray | null;
    if ((m = /^ (create|delete) (?:mode (\d{6}) )?(.+)$/.exec(line))) {
      const f = byPath(m[3]!, (x) => x.from === x.path && x.createMode === null && x.deleteMode === null);
      if (f === undefined) throw invalid(`git's summary names a file it did not list: ${JSON.stringify(m[3]!.slice(0, 200))}`);
      // a diff without modes (not git's) creates a regular file
      if (m[1] === 'create') f.createMode = m[2] ?? REGULAR_FILE_MODE;
      else f.deleteMode = m[2] ?? REGULAR_FILE_MODE;
      last = f;
    } else if ((m = /^ mode change (\d{6}) => (\d{6})(?: (.+))?$/.exec(line))) {
      // without a name it belongs to the rename, copy or rewrite line just before
      const f = m[3] === undefined ? last : byPath(m[3], (x) => x.modeChange === null);
      if (f === undefined) throw invalid(`git's summary has a mode change for no file: ${JSON.stringify(line.slice(0, 200))}`);
      f.modeChange = { from: m[1]!, to: m[2]! };
    } else if ((m = /^ (rename|copy) .* \(\d+%\)$/.exec(line))) {
      const kind = m[1] as 'rename' | 'copy';
      const f = files.find((x) => x.change === null && x.from !== x.path && line === renameLine(kind, x.from, x.path, line));
      if (f === undefined) throw invalid(`git's summary names a ${kind} it did not list: ${JSON.stringify(line.slice(0, 200))}`);
      f.change = kind;
      last = f;
    } else if ((m = /^ rewrite (.+) \(\d+%\)$/.exec(line))) {
      last = byPath(m[1]!, () => true);
    } else if (line !== '') {
      throw invalid(`git's summary has a line this reader does not know: ${JSON.stringify(line.slice(0, 200))}`);
    }
  }
  // a file whose two names differ is a rename or a copy, and git always says which
  const unnamed = files.find((f) => f.from !== f.path && f.change === null);
  if (unnamed !== undefined) throw invalid(`git lists ${JSON.stringify(unnamed.path.slice(0, 200))} under two names without a rename or copy line`);
}

/** git's own rendering of a rename/copy summary line (apply.c show_rename_copy): the common folder prefix outside braces. */
function renameLine(kind: 'rename' | 'copy', from: string, to: string, actual: string): string {
  let i = 0;
  for (;;) {
    const a = from.indexOf('/', i);
    const b = to.indexOf('/', i);
    if (a === -1 || b === -1 || a !== b || from.slice(i, a) !== to.slice(i, b)) break;
    i = a + 1;
  }
  const score = / \((\d+%)\)$/.exec(actual)?.[1] ?? '';
  return i > 0 ? ` ${kind} ${from.slice(0, i)}{${from.slice(i)} => ${to.slice(i)}} (${score})` : ` ${kind} ${from} => ${to} (${score})`;
}

/**
 * What a patch would put on staging that is not a regular file: a created symlink, gitlink or
 * executable, or a mode change to anything but 100644. Promotions carry regular files only.
 */
export function irregularChanges(view: PatchView): string[] {
  const out: string[] = [];
  for (const f of view.files) {
    if (f.createMode !== null && f.createMode !== REGULAR_FILE_MODE) out.push(`creates ${f.path} as ${modeName(f.createMode)}`);
    if (f.modeChange !== null && f.modeChange.to !== REGULAR_FILE_MODE) out.push(`changes ${f.path} to ${modeName(f.modeChange.to)}`);
  }
  return out;
}

function modeName(mode: string): string {
  switch (mode) {
    case '120000':
      return 'a symlink (mode 120000)';
    case '160000':
      return 'a gitlink (mode 160000)';
    case '100755':
      return 'an executable (mode 100755)';
    default:
      return `mode ${mode}`;
  }
}
