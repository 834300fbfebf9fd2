/**
 * A job's own input must fit the limits it runs under: the launcher unpacks files, stdin and
 * the patch into /work (a tmpfs of scratchBytes whose pages count against memoryBytes), and tar
 * writes each file under RLIMIT_FSIZE. A limit too small for that used to end as the launcher's
 * failure, an infrastructure `error` after retries; it is the caller's mistake, refused at submit.
 *
 * Measured (Docker 20.10, kernel 6.18, the shell image): after unpacking files of 1, 4096, 4097
 * and 10000 bytes plus 5000 bytes of stdin, `df -B1 /work` showed exactly 9 pages used: each file
 * takes whole 4 KiB pages and directories take none (300 nested directories: 0 bytes). The stdin
 * file stays allocated while the program runs (it is its open fd 0). Memory: 8 MiB and 16 MiB of
 * input unpacked with 9.5 and 17.5 MiB of memory but not with 9 and 17 MiB (tar or the launcher
 * was OOM-killed): the launcher's processes need about 1.5 MiB beside the tmpfs pages.
 */
import { AppError, PAGE_BYTES } from '../shared/index.js';
import type { Limits } from './profile-schema.js';

/** The launcher's own processes (tini, the idle launcher, sh, tar) beside the input's pages: twice the 1.5 MiB measured. */
export const LAUNCHER_MEMORY_BYTES = 3 * 1024 * 1024;

export interface InputSizes {
  /** Unpacked size of each file (from `files` and the archive). */
  readonly fileBytes: readonly number[];
  readonly stdinBytes: number;
  /** Absent: no patch. */
  readonly patchBytes?: number;
}

/** What unpacking this input takes, in the units of the limits it needs. */
export function inputNeeds(sizes: InputSizes): Pick<Limits, 'scratchBytes' | 'memoryBytes' | 'fileSizeBytes'> {
  const pages = (bytes: number) => Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;
  // the patch travels with the host's reading of it (one line per path it touches, escaped names:
  // at most twice the patch's bytes)
  const control = [sizes.stdinBytes, ...(sizes.patchBytes === undefined ? [] : [sizes.patchBytes, 2 * sizes.patchBytes])];
  const all = [...sizes.fileBytes, ...control];
  const scratchBytes = all.reduce((sum, b) => sum + pages(b), 0);
  return { scratchBytes, memoryBytes: scratchBytes + LAUNCHER_MEMORY_BYTES, fileSizeBytes: all.reduce((m, b) => Math.max(m, b), 0) };
}

/**
 * Throws when `limits` (the profile's, tightened by the request) cannot hold the input:
 * LIMIT_OUT_OF_RANGE when the request lowered the limit below what the input needs (details
 * name the field and the range that would work), INPUT_TOO_LARGE when even the profile's own
 * limit is too small for it.
 */
export function checkInputFits(profileName: string, profileLimits: Limits, limits: Limits, sizes: InputSizes): void {
  const needs = inputNeeds(sizes);
  const why: Record<keyof typeof needs, string> = {
    scratchBytes: 'unpacking it into /work takes whole 4 KiB pages per file, stdin and patch',
    memoryBytes: `its pages in /work count against memory, and the launcher needs ${LAUNCHER_MEMORY_BYTES} bytes beside them`,
    fileSizeBytes: 'its largest file (or stdin, or the patch) is written under this limit',
  };
  for (const field of ['scratchBytes', 'memoryBytes', 'fileSizeBytes'] as const) {
    const needed = needs[field];
    if (limits[field] >= needed) continue;
    const max = profileLimits[field];
    if (needed <= max) {
      throw new AppError('LIMIT_OUT_OF_RANGE', `${field} ${limits[field]} is too small for this job's input, which needs ${needed}: ${why[field]}; allowed: ${needed} to ${max}`, {
        details: { field, min: needed, max },
      });
    }
    throw new AppError('INPUT_TOO_LARGE', `the input needs ${field} of ${needed}, more than the ${profileName} profile's ${max}: ${why[field]}`, {
      details: { cap: field, field, min: needed, max },
    });
  }
}
