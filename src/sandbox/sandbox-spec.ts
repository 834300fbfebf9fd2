/**
 * What a sandbox is made of, split by when it is fixed:
 * - SandboxSpec: fixed when the container is created (image, container limits, seccomp, ids,
 *   the /run/airlock folder, labels, isolation tier). A warm pool can create these ahead of time.
 * - SandboxRun: what one job hands a running sandbox (input, argv, env, patch, outputs, the
 *   limits the host enforces around the run, the cancel signal).
 * - SandboxResult: what happened. The stages in between are in container-runtime.ts.
 */

/** Limits the engine enforces on the container: fixed at create. */
export interface ContainerLimits {
  readonly memoryBytes: number;
  readonly cpus: number;
  readonly pids: number;
  readonly scratchBytes: number;
  readonly tmpBytes: number;
  readonly shmBytes: number;
  readonly fileSizeBytes: number;
  readonly openFiles: number;
}

/** Limits the host enforces around one run: per job. */
export interface RunLimits {
  readonly timeoutMs: number;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  /** Caps on what the collector brings back (only files matching `outputs` count). */
  readonly artifactFiles: number;
  readonly artifactBytes: number;
}

/** A profile's limits: both kinds (a job's `limits` is passed as either). */
export interface SandboxLimits extends ContainerLimits, RunLimits {}

export interface SandboxFile {
  /** Relative POSIX path under the work dir, already validated (no `..`, not absolute). */
  readonly path: string;
  readonly content: Uint8Array;
  readonly mode?: number;
}

/** `container`: runc, the host's kernel behind seccomp; `gvisor`: runsc, a user-space kernel (issue 17). */
export type SandboxIsolation = 'container' | 'gvisor';

/** Fixed at create. */
export interface SandboxSpec {
  readonly jobId: string;
  /** Image ID (sha256:…) — never a mutable tag. */
  readonly imageId: string;
  /** The job's own uid and primary gid (see hardening.jobIds): per-user kernel limits are per job, and seccomp kills are attributed to it. */
  readonly uid: number;
  readonly gid: number;
  readonly limits: ContainerLimits;
  /** Seccomp policy as JSON text; sent on every create. */
  readonly seccompJson: string;
  /**
   * Host folder Airlock made for this job (token + gateway socket), mounted read-only at
   * /run/airlock. The only host path a job ever sees; absent when the job has no tools.
   */
  readonly runDir?: string;
  /** Extra labels (the adapter always adds airlock.managed/job/worker/deployment). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Default `container`. */
  readonly isolation?: SandboxIsolation;
}

/** One job's run in a started sandbox. */
export interface SandboxRun {
  /** argv handed to the image's launcher after the input is unpacked. */
  readonly argv: readonly string[];
  readonly files: readonly SandboxFile[];
  readonly stdin: Uint8Array;
  /** Unified diff applied with `patch -p1` in the sandbox before the command. */
  readonly patch?: string;
  /** Globs under the work dir collected after the command ends (none: nothing is collected). */
  readonly outputs?: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly limits: RunLimits;
  /** Abort = cancel: the container is killed and the outcome is `killed`. */
  readonly signal?: AbortSignal;
  /**
   * Receives the program's output as it arrives, exactly the bytes the result keeps (within the
   * caps; never the launcher's header or a patch tool's message): each stream in order, `offsetBytes`
   * = that stream's bytes before these. Called synchronously; it must not throw.
   */
  readonly onOutput?: OutputListener;
}

export type OutputListener = (stream: 'stdout' | 'stderr', offsetBytes: number, data: Buffer) => void;

/**
 * How the run ended, as observed by the host (the sandbox cannot forge it):
 * - exited: the program ended by itself (exitCode says how)
 * - timeout / output_limit / killed: the host killed it (wall clock, output cap, cancel)
 * - oom: the kernel killed it for memory (State.OOMKilled)
 * - policy_violation: the kernel killed it for a forbidden syscall (seccomp tripwire, SIGSYS)
 * - patch_failed: the launcher could not apply the patch; the command never ran
 */
export type SandboxOutcome = 'exited' | 'timeout' | 'oom' | 'output_limit' | 'killed' | 'policy_violation' | 'patch_failed';

export interface CollectedArtifact {
  /** Relative to the work dir. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly content: Buffer;
}

export interface RejectedArtifact {
  readonly path: string;
  readonly reason: 'symlink' | 'hardlink' | 'device' | 'fifo' | 'setuid' | 'unsupported_type' | 'unsafe_path' | 'too_deep' | 'too_many_files' | 'too_large' | 'not_collected';
}

/**
 * The collected files as one tar, built while the sandbox's stream was parsed: regular files
 * only, in the order they were read, mode 0644, mtime 0. Kept as its chunks (the files'
 * contents are shared with `artifacts`, not copied).
 */
export interface ArtifactsTar {
  readonly chunks: readonly Uint8Array[];
  readonly bytes: number;
}

export interface SandboxResult {
  readonly outcome: SandboxOutcome;
  readonly exitCode: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
  readonly stdoutBytes: number;
  readonly stderrBytes: number;
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  /** From the run's start to its exit, host clock. */
  readonly durationMs: number;
  readonly containerId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** Launcher message when the patch did not apply. */
  readonly patchMessage?: string;
  /**
   * A seccomp tripwire in any of the job's processes: set for policy_violation, and also for a
   * run that then ended by a host kill (timeout, output_limit, oom, killed). `syscall` names
   * the call the kernel recorded (`verified`); exit 159 with no kernel record is unverified.
   */
  readonly violation?: { readonly syscall: string | null; readonly verified: boolean };
  /** Files matching the run's outputs, sorted by path (empty when none were declared). */
  readonly artifacts: readonly CollectedArtifact[];
  /** All of `artifacts` as one tar; absent when there are none. */
  readonly artifactsTar?: ArtifactsTar;
  readonly artifactsRejected: readonly RejectedArtifact[];
  /** What the kernel recorded of the job's processes besides tripwire kills (absent on results from before the watch). */
  readonly behaviour?: SandboxBehaviour;
}

/**
 * The behaviour watch (images/airlock-watch): kernel records, counted by the tripwire channel,
 * of inet socket attempts and block/character device nodes (both refused, as the policy and the
 * kernel refuse them anyway) and of named pipes made. `observed: false`, with the reason, when
 * the run had no such records: gVisor's kernel records nothing on the host, and a host kernel
 * may be set not to log these actions.
 */
export type SandboxBehaviour =
  | { readonly observed: true; readonly socketAttempts: number; readonly deviceNodeAttempts: number; readonly fifosMade: number }
  | { readonly observed: false; readonly reason: string };
