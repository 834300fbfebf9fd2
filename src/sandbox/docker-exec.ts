/**
 * One job's run in a started container: the launcher is exec'd as the job's uid with the input
 * tar on stdin, under the wall clock, the output caps and the cancel signal; the engine says how
 * it ended; declared outputs are collected. The container is the caller's to remove.
 */
import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { AppError, type Logger } from '../shared/index.js';
import { collectOutputs, collectionDeadlineMs } from './collect-outputs.js';
import { messageOf, statusOf } from './docker-errors.js';
import { commandExitCode, decideOutcome, execExitCode, isRunning, stoppedFromOutside } from './docker-outcome.js';
import { runExecOptions } from './hardening.js';
import { buildInputArchive } from './input-archive.js';
import { OutputCapture, streamEnded } from './output-capture.js';
import type { SandboxOutcome, SandboxResult, SandboxRun, SandboxSpec } from './sandbox-spec.js';

export interface ExecTarget {
  readonly docker: Docker;
  readonly container: Docker.Container;
  readonly spec: SandboxSpec;
  readonly log: Logger;
  /** The engine's wait on the container, asked before the run: true once it has stopped, false if the wait failed (gone). */
  readonly stopped: Promise<boolean>;
}

/** The first reason to kill wins; later ones (a timeout after a cancel) change nothing. */
class Killer {
  reason: SandboxOutcome | undefined;
  constructor(private readonly t: ExecTarget) {}

  kill(reason: SandboxOutcome): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    this.t.container.kill({ signal: 'SIGKILL' }).catch((err: unknown) => {
      // 404/409: already gone or not running — nothing to kill
      if (statusOf(err) !== 404 && statusOf(err) !== 409) this.t.log.warn({ err, containerId: this.t.container.id }, 'kill failed');
    });
  }
}

export async function execInContainer(t: ExecTarget, run: SandboxRun): Promise<SandboxResult> {
  const input = await buildInputArchive(run);
  const killer = new Killer(t);
  const onAbort = (): void => killer.kill('killed');
  run.signal?.addEventListener('abort', onAbort, { once: true });
  const startedAtMs = Date.now();
  if (run.signal?.aborted) onAbort();
  const timer = setTimeout(() => killer.kill('timeout'), run.limits.timeoutMs);
  try {
    const capture = new OutputCapture(run.limits, () => killer.kill('output_limit'), run.onOutput);
    let exec: Docker.Exec;
    let stream: Duplex;
    try {
      exec = await t.container.exec(runExecOptions(t.spec, run));
      stream = await exec.start({ hijack: true, stdin: true });
    } catch (err) {
      // killed (cancel, timeout) before the command could start: that is the outcome
      if (killer.reason !== undefined) return emptyResult(t.container.id, killer.reason, startedAtMs);
      throw new AppError('SANDBOX_UNAVAILABLE', `exec failed: ${messageOf(err)}`, { retryable: true, cause: err });
    }
    const ended = streamEnded(stream, (chunk) => capture.write(chunk));
    // input goes in on stdin; ending our side closes the exec's stdin
    stream.end(input);
    await endedOrStopped(t.stopped, stream, ended);
    const finishedAtMs = Date.now();
    clearTimeout(timer);
    const exitCode = await commandExitCode(t.stopped, t.spec.isolation ?? 'container', await execExitCode(exec));
    const outcome = await decideOutcome(t.docker, t.container.id, { killReason: killer.reason, exitCode, launcher: capture.launcherStatus, startedAtMs });
    return await resultOf(t, run, { outcome, exitCode, capture, startedAtMs, finishedAtMs });
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
  }
}

/** How long an exec's stream may still deliver output once its container has stopped. */
const STREAM_DRAIN_MS = 1000;

/**
 * The exec's stream end, or the container's stop: under runsc a sandbox that died (the host's
 * OOM killer takes gVisor's kernel with the job, measured) leaves the exec's stream open for
 * good, and a kill cannot end it (the container is no longer running). With runc the stream
 * ends by itself; the stop only ends a run whose stream did not.
 */
async function endedOrStopped(stopped: Promise<boolean>, stream: Duplex, ended: Promise<void>): Promise<void> {
  let drain: NodeJS.Timeout | undefined;
  // a wait that failed (the container is gone: removed at the end of every run) ends nothing
  const drained = stopped.then(
    (ok) =>
      new Promise<void>((resolve) => {
        if (ok) drain = setTimeout(resolve, STREAM_DRAIN_MS).unref();
      }),
  );
  try {
    await Promise.race([ended, drained]);
  } finally {
    clearTimeout(drain);
    stream.destroy();
  }
}

interface Ended {
  readonly outcome: 'exited' | SandboxOutcome | 'input_failed';
  readonly exitCode: number | null;
  readonly capture: OutputCapture;
  readonly startedAtMs: number;
  readonly finishedAtMs: number;
}

async function resultOf(t: ExecTarget, run: SandboxRun, e: Ended): Promise<SandboxResult> {
  const { outcome, capture } = e;
  if (outcome === 'input_failed') {
    if (!(await isRunning(t.docker, t.container.id))) {
      throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox container stopped before the command started', { retryable: true });
    }
    throw new AppError('SANDBOX_INPUT_FAILED', `sandbox launcher could not unpack the input: ${capture.stdout.toBuffer().toString('utf8').slice(0, 500)}`);
  }
  if (outcome === 'exited' && e.exitCode === null && !(await isRunning(t.docker, t.container.id))) {
    // the engine dropped the exec with its container: the sandbox died under the command (under
    // runsc its kernel, the Sentry, can die of the job's memory without an OOM kill); no result to report
    throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox stopped during the run without an exit status for the command', { retryable: true });
  }
  if (outcome === 'exited' && e.exitCode !== null && e.exitCode > 128 && (await stoppedFromOutside(t.docker, t.container.id, e.startedAtMs))) {
    // killed by a signal with its container (PID 1, which the job's uid cannot signal, is gone):
    // something outside killed the sandbox (the engine's shutdown, an operator); not the program's exit
    throw new AppError('SANDBOX_UNAVAILABLE', `the sandbox was stopped from outside during the run (the command died of signal ${e.exitCode - 128})`, { retryable: true });
  }
  const patchMessage = outcome === 'patch_failed' ? capture.stdout.toBuffer().toString('utf8') : undefined;
  const collected =
    outcome === 'exited' && (run.outputs?.length ?? 0) > 0
      ? await collectOutputs(t.container, t.spec, run, collectionDeadlineMs(e.startedAtMs, run.limits.timeoutMs, Date.now()), t.log)
      : { artifacts: [], rejected: [] };
  return {
    outcome,
    exitCode: outcome === 'patch_failed' ? null : e.exitCode,
    stdout: outcome === 'patch_failed' ? Buffer.alloc(0) : capture.stdout.toBuffer(),
    stderr: capture.stderr.toBuffer(),
    stdoutBytes: capture.stdout.seen,
    stderrBytes: capture.stderr.seen,
    stdoutTruncated: capture.stdout.truncated,
    stderrTruncated: capture.stderr.truncated,
    durationMs: e.finishedAtMs - e.startedAtMs,
    containerId: t.container.id,
    startedAt: new Date(e.startedAtMs).toISOString(),
    finishedAt: new Date(e.finishedAtMs).toISOString(),
    ...(patchMessage !== undefined ? { patchMessage } : {}),
    artifacts: collected.artifacts,
    ...(collected.tar !== undefined ? { artifactsTar: collected.tar } : {}),
    artifactsRejected: collected.rejected,
  };
}

/** A run killed before its command started: no output, no exit code. */
function emptyResult(containerId: string, outcome: SandboxOutcome, startedAtMs: number): SandboxResult {
  return {
    outcome,
    exitCode: null,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: Date.now() - startedAtMs,
    containerId,
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: new Date().toISOString(),
    artifacts: [],
    artifactsRejected: [],
  };
}
