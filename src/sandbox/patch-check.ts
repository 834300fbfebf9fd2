/**
 * The host half of the launcher's patch cross-check. GNU patch applies a job's patch in the
 * sandbox; git reads it everywhere else (API, monitor, review gate, git target). The launcher
 * compares the files GNU patch reports patching with the lines written here from git's
 * reading, before any user code runs, and ends the job `patch_failed` on any difference
 * (GNU patch picks among `---`/`+++`/`Index:` names by which files exist, reads context,
 * normal and ed diffs git ignores, …). The lines mimic GNU patch's output under
 * `QUOTING_STYLE=escape LC_ALL=C`; a mistake here can only refuse a patch, never pass one
 * that is read two ways.
 */
import { AppError, isAppError, readPatch, unsafePath, type PatchFile } from '../shared/index.js';

/** How the launcher's message starts when it refused the patch (the monitor makes that a high finding). */
export const PATCH_REFUSED_PREFIX = 'airlock: patch refused: ';

/** `<controlDir>/patch-expect` (GNU patch's expected lines) or `<controlDir>/patch-refused` (why it is refused). */
export async function patchCheckEntry(patch: string, controlDir: string): Promise<{ path: string; content: Buffer }> {
  const refused = (why: string) => ({ path: `${controlDir}/patch-refused`, content: Buffer.from(why.replace(/\s+/g, ' ').slice(0, 2000)) });
  let files: readonly PatchFile[];
  try {
    files = (await readPatch(patch)).files;
  } catch (err) {
    if (isAppError(err) && err.code === 'INVALID_PATCH') return refused(err.message);
    throw new AppError('SANDBOX_UNAVAILABLE', `could not read the job's patch with git: ${(err as Error).message}`, { retryable: true, cause: err });
  }
  // the rule for a job's own input paths (its .airlock/ control folder included)
  for (const p of new Set(files.flatMap((f) => [f.from, f.path]))) {
    const unsafe = unsafePath(p, { allowGit: true });
    if (unsafe !== undefined) return refused(`the patch names ${JSON.stringify(p.slice(0, 200))}, which ${unsafe.message}`);
  }
  return { path: `${controlDir}/patch-expect`, content: Buffer.from(files.map(gnuPatchLine).join('\n') + '\n') };
}

/** The line GNU patch 2.7 prints for one file it patches. */
export function gnuPatchLine(f: PatchFile): string {
  if (f.change !== null) return `patching file ${escapeName(f.path)} (${f.change === 'rename' ? 'renamed' : 'copied'} from ${escapeName(f.from)})`;
  const symlink = f.createMode === '120000' || f.deleteMode === '120000';
  return `patching ${symlink ? 'symbolic link' : 'file'} ${escapeName(f.path)}`;
}

const C_ESCAPES: Readonly<Record<number, string>> = { 7: 'a', 8: 'b', 9: 't', 10: 'n', 11: 'v', 12: 'f', 13: 'r', 92: '\\' };

/** gnulib quotearg's `escape` style in the C locale: printable ASCII as is, backslash and the rest escaped. */
function escapeName(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    if (C_ESCAPES[b] !== undefined) out += `\\${C_ESCAPES[b]}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}
