/**
 * The one table of what each job limit may be: a floor and a ceiling the engine honours, and
 * whether the value must be an integer. The profile schema and the API build their checks from
 * it, and the sandbox asserts the engine fields it derives from a limit against the same range
 * before a container is created: no limit may round to, or be read by the engine as, "none".
 *
 * Measured on Docker 20.10.24 (runc 1.1.5, cgroup v1, kernel 6.18, 2 CPUs) by running a real job
 * (the shell image, a file, a patch and outputs) through DockerRuntime with one limit changed and
 * reading the result inside the container (cgroup files, `ulimit`, `df -B1`):
 * - NanoCpus 0 (cpus 1e-10) and anything whose CFS quota (NanoCpus / 10^4 µs) truncates to 0
 *   (cpus < 1e-5) leave cpu.cfs_quota_us at -1: NO limit, the job gets every core. cpus 0.001 and
 *   0.009999 (quota 100, 999 µs): start fails, "failed to write ... cpu.cfs_quota_us: invalid
 *   argument". cpus 0.01 (quota 1000 µs, the kernel's floor) runs and is limited. Above the
 *   engine's CPU count, create is refused ("Range of CPUs is from 0.01 to 2.00"); that ceiling
 *   depends on the host, so the sandbox checks it against the engine's NCPU before create.
 * - Memory: 6291455 is refused at create ("Minimum memory limit allowed is 6MB"); 6291456 runs
 *   (memory.limit_in_bytes 6291456). Memory 0 is no limit. 1 TiB is set as asked.
 * - PidsLimit 0 or -1: no limit (pids.max "max"). 1: the idle launcher cannot start; 2-3: the
 *   launcher cannot fork tar (SANDBOX_INPUT_FAILED); 4 runs a job with a patch and outputs on
 *   an idle machine. But each `docker exec` starts `runc init` inside the container's cgroup, and
 *   its Go threads count as pids: under load (load average ~9 on 2 cores) with cpus 0.01, pids 8
 *   failed 2 runs in 6 ("fork rejected by pids controller": the container stopped, or tar could
 *   not start); 16 passed 8 of 8 under the same load. The floor is 16.
 * - nofile: 1-10 fail inside runc (it needs descriptors to load the seccomp filter), 11 fails in
 *   the launcher's tar, 12 runs. Above the hard limit dockerd itself runs with (20000 here,
 *   inherited by containerd and runc, which cannot raise it) start fails with "error setting
 *   rlimit type 7: operation not permitted": 20000 runs, 20001 and the old ceiling 65536 fail.
 * - fsize (bytes): 1 lets a file grow to 1 byte, then SIGXFSZ. 0 is not "unlimited" but -1 is.
 *   The floor is a page: our own init writes ~1.4 KiB under the same limit (see fileSizeBytes).
 * - tmpfs size and ShmSize: the kernel rounds up to whole 4 KiB pages (size=1 gives 4096 bytes,
 *   and stops writes there). tmpfs size=0 is NO limit; ShmSize 0 is the engine default (64 MiB).
 * Ceilings that are our choice (no engine bound below them) are noted as such.
 */

export interface LimitRange {
  readonly min: number;
  readonly max: number;
  /** Integers only: a fraction is refused, never rounded (bytes, counts, ms). */
  readonly integer: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;
/** One tmpfs page: a smaller size still holds a page (the kernel rounds up). */
export const PAGE_BYTES = 4 * KiB;

const int = (min: number, max: number): LimitRange => ({ min, max, integer: true });

export const LIMIT_RANGES = {
  /** Our own wall-clock timer. Ceiling: our choice (one hour). */
  timeoutMs: int(1, 3_600_000),
  /** Engine floor 6 MiB. Ceiling: our choice, exact in JSON and in the engine's int64. */
  memoryBytes: int(6 * MiB, TiB),
  /** NanoCpus = round(cpus * 1e9) >= 1e7: the CFS quota's 1 ms floor. Ceiling also bounded by the engine's NCPU. */
  cpus: { min: 0.01, max: 64, integer: false },
  /** See the measurements above (runc init threads count); ceiling: our choice. */
  pids: int(16, 4096),
  /** Counted and capped by us; the result is kept in memory and in Redis. Ceiling: our choice. */
  stdoutBytes: int(1, 16 * MiB),
  stderrBytes: int(1, 16 * MiB),
  /** tmpfs sizes: one page at least (size=0 would be no limit). */
  scratchBytes: int(PAGE_BYTES, TiB),
  tmpBytes: int(PAGE_BYTES, TiB),
  shmBytes: int(PAGE_BYTES, TiB),
  /**
   * RLIMIT_FSIZE in bytes. It binds every process of the container, the init user too: the
   * idle launcher writes the container's user database (~1 KiB) under it, so the floor is one
   * page (measured: at 1 byte the init shell died of SIGXFSZ and the container stopped).
   */
  fileSizeBytes: int(PAGE_BYTES, TiB),
  /** runc and the launcher need 12; the engine's ceiling is dockerd's own hard limit (20000 here). */
  openFiles: int(16, 20_000),
  /** Caps on collected artifacts; ceilings: our choice. */
  artifactFiles: int(1, 10_000),
  artifactBytes: int(1, GiB),
} as const satisfies Record<string, LimitRange>;

export type LimitName = keyof typeof LIMIT_RANGES;

/** Why `value` is not a valid `name` limit, or undefined when it is. */
export function limitRangeProblem(name: LimitName, value: number): string | undefined {
  const r = LIMIT_RANGES[name];
  if (!Number.isFinite(value)) return `${name} must be a finite number`;
  if (r.integer && !Number.isSafeInteger(value)) return `${name} must be an integer (got ${value})`;
  if (value < r.min || value > r.max) return `${name} must be between ${r.min} and ${r.max} (got ${value})`;
  return undefined;
}
