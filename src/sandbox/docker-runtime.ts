/**
 * The only file that talks to the Docker engine. One container per run: create →
 * attach → start → send input tar on stdin → wait (wall clock, output cap, cancel) →
 * inspect → remove (always, in finally). Stop/remove are idempotent: 304/404 are fine.
 */
import Docker from 'dockerode';
import { PassThrough, type Duplex, type Readable } from 'node:stream';
import { AppError, type Logger } from '../shared/index.js';
import { LABEL_DEPLOYMENT, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER, type ContainerRuntime } from './container-runtime.js';
import { collectFromTar } from './artifact-collector.js';
import { tripwiresOfGid } from './tripwire-syscall.js';
import { assertEngineLimits, type EngineFacts } from './engine-limits.js';
import { collectExecOptions, containerOptions, runExecOptions } from './hardening.js';
import { buildInputArchive } from './input-archive.js';
import { FrameDemuxer, OutputCapture } from './output-capture.js';
import type { RunOptions, SandboxOutcome, SandboxResult, SandboxSpec } from './sandbox-spec.js';

/** 128 + SIGSYS: the seccomp policy's tripwires kill with SIGSYS. */
const SIGSYS_EXIT = 159;
const COLLECT_TIMEOUT_MS = 30_000;

export interface DockerRuntimeOptions {
  socketPath: string;
  workerId: string;
  /** Names this deployment (the Redis prefix): the reaper only touches its own containers. */
  deployment: string;
  logger: Logger;
}

export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;

  constructor(private readonly opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
  }

  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new AppError('SANDBOX_UNAVAILABLE', `Docker engine not reachable at ${this.opts.socketPath}`, { retryable: true, cause: err });
    }
  }

  private engine: Promise<EngineFacts> | undefined;

  /** The engine's CPU count, asked once (a failed ask is asked again next time). */
  private engineFacts(): Promise<EngineFacts> {
    this.engine ??= this.docker.info().then(
      (info: { NCPU: number }) => ({ cpus: info.NCPU }),
      (err: unknown) => {
        this.engine = undefined;
        throw new AppError('SANDBOX_UNAVAILABLE', `Docker engine not reachable at ${this.opts.socketPath}`, { retryable: true, cause: err });
      },
    );
    return this.engine;
  }

  async assertImage(imageId: string): Promise<void> {
    try {
      await this.docker.getImage(imageId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) throw new AppError('IMAGE_MISSING', `sandbox image ${imageId} is not present (run: npm run setup)`, { retryable: true, cause: err });
      throw new AppError('SANDBOX_UNAVAILABLE', `cannot inspect image ${imageId}`, { retryable: true, cause: err });
    }
  }

  async run(spec: SandboxSpec, runOpts: RunOptions = {}): Promise<SandboxResult> {
    const labels = { ...spec.labels, [LABEL_MANAGED]: 'true', [LABEL_DEPLOYMENT]: this.opts.deployment, [LABEL_JOB]: spec.jobId, [LABEL_WORKER]: this.opts.workerId };
    const log = this.opts.logger.child({ jobId: spec.jobId });
    const options = containerOptions(spec, labels);
    // no limit that the engine would read as "none" or refuse is ever sent
    assertEngineLimits(options, await this.engineFacts());
    const input = await buildInputArchive(spec);
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(options);
    } catch (err) {
      if (statusOf(err) === 404) throw new AppError('IMAGE_MISSING', `sandbox image ${spec.imageId} is not present (run: npm run setup)`, { retryable: true, cause: err });
      throw new AppError('SANDBOX_UNAVAILABLE', `container create failed: ${messageOf(err)}`, { retryable: true, cause: err });
    }
    try {
      await runOpts.onCreated?.(container.id);
      return await this.runCreated(container, spec, input, runOpts.signal, log);
    } finally {
      await this.remove(container.id, log);
    }
  }

  private async runCreated(container: Docker.Container, spec: SandboxSpec, input: Buffer, signal: AbortSignal | undefined, log: Logger): Promise<SandboxResult> {
    let killReason: SandboxOutcome | undefined;
    const kill = (reason: SandboxOutcome): void => {
      if (killReason !== undefined) return;
      killReason = reason;
      container.kill({ signal: 'SIGKILL' }).catch((err: unknown) => {
        // 404/409: already gone or not running — nothing to kill
        if (statusOf(err) !== 404 && statusOf(err) !== 409) log.warn({ err, containerId: container.id }, 'kill failed');
      });
    };
    const onAbort = (): void => kill('killed');
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      try {
        await container.start();
      } catch (err) {
        throw new AppError('SANDBOX_UNAVAILABLE', `container start failed: ${messageOf(err)}`, { retryable: true, cause: err });
      }
      const startedAtMs = Date.now();
      if (signal?.aborted) onAbort();
      timer = setTimeout(() => kill('timeout'), spec.limits.timeoutMs);

      const capture = new OutputCapture(spec.limits, () => kill('output_limit'));
      let exec: Docker.Exec;
      let stream: Duplex;
      try {
        exec = await container.exec(runExecOptions(spec));
        stream = await exec.start({ hijack: true, stdin: true });
      } catch (err) {
        // killed (cancel, timeout) before the command could start: that is the outcome
        if (killReason !== undefined) return this.killedBeforeStart(container.id, killReason, startedAtMs);
        throw new AppError('SANDBOX_UNAVAILABLE', `exec failed: ${messageOf(err)}`, { retryable: true, cause: err });
      }
      const ended = streamEnded(stream, (chunk) => capture.write(chunk));
      // input goes in on stdin; ending our side closes the exec's stdin
      stream.end(input);
      await ended;
      const finishedAtMs = Date.now();
      clearTimeout(timer);
      const exitCode = await this.execExitCode(exec);

      const tripwires = killReason === undefined ? await this.tripwires(spec.gid, exitCode) : { readable: false, syscalls: [] };
      const violation = policyViolation(exitCode, tripwires);
      const outcome = await this.decideOutcome(container, killReason, exitCode, capture.launcherStatus, startedAtMs, violation !== undefined);
      if (outcome === 'input_failed') {
        if (!(await this.isRunning(container.id))) {
          throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox container stopped before the command started', { retryable: true });
        }
        throw new AppError('SANDBOX_INPUT_FAILED', `sandbox launcher could not unpack the input: ${capture.stdout.toBuffer().toString('utf8').slice(0, 500)}`);
      }
      const patchMessage = outcome === 'patch_failed' ? capture.stdout.toBuffer().toString('utf8') : undefined;
      const ranToEnd = outcome === 'exited' || outcome === 'policy_violation';
      const collected = ranToEnd && (spec.outputs?.length ?? 0) > 0 ? await this.collect(container, spec, log) : { artifacts: [], rejected: [] };
      return {
        outcome,
        exitCode: outcome === 'patch_failed' ? null : exitCode,
        stdout: outcome === 'patch_failed' ? Buffer.alloc(0) : capture.stdout.toBuffer(),
        stderr: capture.stderr.toBuffer(),
        stdoutBytes: capture.stdout.seen,
        stderrBytes: capture.stderr.seen,
        stdoutTruncated: capture.stdout.truncated,
        stderrTruncated: capture.stderr.truncated,
        durationMs: finishedAtMs - startedAtMs,
        containerId: container.id,
        startedAt: new Date(startedAtMs).toISOString(),
        finishedAt: new Date(finishedAtMs).toISOString(),
        ...(patchMessage !== undefined ? { patchMessage } : {}),
        ...(outcome === 'policy_violation' && violation !== undefined ? { violation } : {}),
        artifacts: collected.artifacts,
        artifactsRejected: collected.rejected,
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async isRunning(containerId: string): Promise<boolean> {
    try {
      return ((await this.docker.getContainer(containerId).inspect()) as { State: { Running: boolean } }).State.Running;
    } catch {
      return false;
    }
  }

  private killedBeforeStart(containerId: string, outcome: SandboxOutcome, startedAtMs: number): SandboxResult {
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

  /** The kernel logs a seccomp kill asynchronously: after an exit of 159, give its record a moment to land. */
  private async tripwires(gid: number, exitCode: number | null): Promise<{ readable: boolean; syscalls: string[] }> {
    let t = tripwiresOfGid(gid);
    for (let i = 0; i < 5 && t.readable && t.syscalls.length === 0 && exitCode === SIGSYS_EXIT; i++) {
      await delay(50 * (i + 1));
      t = tripwiresOfGid(gid);
    }
    return t;
  }

  /** The engine's record of the exec's exit; it may lag the stream's end by a few ms. */
  private async execExitCode(exec: Docker.Exec): Promise<number | null> {
    for (let i = 0; i < 50; i++) {
      const info = (await exec.inspect()) as { Running: boolean; ExitCode: number | null };
      if (!info.Running) return info.ExitCode;
      await delay(20);
    }
    return null;
  }

  private async decideOutcome(
    container: Docker.Container,
    killReason: SandboxOutcome | undefined,
    exitCode: number | null,
    launcher: OutputCapture['launcherStatus'],
    startedAtMs: number,
    violated: boolean,
  ): Promise<SandboxOutcome | 'input_failed'> {
    // our own kill explains the exit first
    if (killReason !== undefined) return killReason;
    if (launcher === 'patch_failed') return 'patch_failed';
    // an OOM kill: exit code alone lies (sandbox-facts), so ask the engine
    if ((exitCode === 137 || exitCode === null) && (await this.oomSince(container.id, startedAtMs))) return 'oom';
    if (launcher !== 'ok') return 'input_failed';
    if (violated) return 'policy_violation';
    return 'exited';
  }

  /** Whether the engine saw an OOM kill in this container since the run started. */
  private async oomSince(containerId: string, sinceMs: number): Promise<boolean> {
    const events = (await this.docker.getEvents({
      since: Math.floor(sinceMs / 1000) - 1,
      until: Date.now() / 1000,
      filters: { container: [containerId], event: ['oom'] },
    })) as unknown as Readable;
    let text = '';
    for await (const chunk of events) text += String(chunk);
    if (text.includes('"oom"')) return true;
    const state = ((await this.docker.getContainer(containerId).inspect()) as { State: { OOMKilled: boolean } }).State;
    return state.OOMKilled;
  }

  /** Streams /work out through the collector exec and parses it strictly. */
  private async collect(container: Docker.Container, spec: SandboxSpec, log: Logger) {
    const exec = await container.exec(collectExecOptions(spec));
    const stream = await exec.start({ hijack: true, stdin: false });
    const tar = new PassThrough();
    // bounded: /work is a tmpfs of scratchBytes; anything beyond that plus tar overhead is refused
    const maxBytes = spec.limits.scratchBytes + 1024 * 1024;
    let seen = 0;
    const demux = new FrameDemuxer((id, payload) => {
      if (id !== 1) return;
      seen += payload.length;
      if (seen > maxBytes) {
        stream.destroy();
        tar.destroy(new AppError('INTERNAL', 'artifact stream exceeded the scratch size'));
        return;
      }
      tar.write(payload);
    });
    const ended = streamEnded(stream, (chunk) => demux.write(chunk)).then(() => tar.end());
    const timer = setTimeout(() => stream.destroy(), COLLECT_TIMEOUT_MS);
    try {
      const [collected] = await Promise.all([
        collectFromTar(tar, spec.outputs ?? [], { artifactFiles: spec.limits.artifactFiles, artifactBytes: spec.limits.artifactBytes }),
        ended,
      ]);
      return collected;
    } catch (err) {
      log.warn({ err, containerId: container.id }, 'artifact collection failed');
      return { artifacts: [], rejected: [{ path: '*', reason: 'not_collected' as const }] };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Force-remove with volumes; a container that is already gone is not an error. */
  private async remove(id: string, log: Logger): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return;
      // 409 "removal already in progress" — the engine finishes it
      if (status === 409) return;
      log.error({ err, containerId: id }, 'container remove failed; the reaper will retry');
    }
  }

  async listManaged(labelFilter: Readonly<Record<string, string>> = {}): Promise<{ id: string; labels: Record<string, string> }[]> {
    const label = [`${LABEL_MANAGED}=true`, `${LABEL_DEPLOYMENT}=${this.opts.deployment}`, ...Object.entries(labelFilter).map(([k, v]) => `${k}=${v}`)];
    const list = await this.docker.listContainers({ all: true, filters: { label } });
    return list.map((c) => ({ id: c.Id, labels: c.Labels }));
  }

  async reap(shouldRemove: (labels: Readonly<Record<string, string>>) => boolean | Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const c of await this.listManaged()) {
      if (await shouldRemove(c.labels)) {
        await this.remove(c.id, this.opts.logger);
        removed += 1;
      }
    }
    return removed;
  }
}

function statusOf(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A tripwire counts when the kernel recorded a seccomp kill for the job's gid (any of its
 * processes, whatever the exit code: a child's violation is not hidden by its parent), or when
 * the command died of SIGSYS (exit 159). The kernel rate-limits those records, so a missing one
 * proves nothing: exit 159 alone still counts, marked unverified. Faking it only makes a job
 * look worse; missing a real one could let it pass as clean.
 */
function policyViolation(exitCode: number | null, t: { readable: boolean; syscalls: string[] }): { syscall: string | null; verified: boolean } | undefined {
  if (t.syscalls.length > 0) return { syscall: t.syscalls[0] ?? null, verified: true };
  return exitCode === SIGSYS_EXIT ? { syscall: null, verified: false } : undefined;
}

/** Resolves when the hijacked stream ends, feeding each chunk to `onData`. */
function streamEnded(stream: Duplex, onData: (chunk: Buffer) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    stream.on('data', onData);
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
