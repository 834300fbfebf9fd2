/**
 * The only file that talks to the Docker engine. One container per run: create →
 * attach → start → send input tar on stdin → wait (wall clock, output cap, cancel) →
 * inspect → remove (always, in finally). Stop/remove are idempotent: 304/404 are fine.
 */
import Docker from 'dockerode';
import type { Duplex, Readable } from 'node:stream';
import { AppError, type Logger } from '../shared/index.js';
import { LABEL_DEPLOYMENT, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER, type ContainerRuntime } from './container-runtime.js';
import { collectOutputs, collectionDeadlineMs } from './collect-outputs.js';
import { assertEngineLimits, type EngineFacts } from './engine-limits.js';
import { containerOptions, runExecOptions } from './hardening.js';
import { buildInputArchive } from './input-archive.js';
import { OutputCapture, streamEnded } from './output-capture.js';
import type { RunOptions, SandboxOutcome, SandboxResult, SandboxSpec } from './sandbox-spec.js';
import { TripwireMonitor, withTripwires } from './tripwire-monitor.js';

export interface DockerRuntimeOptions {
  socketPath: string;
  workerId: string;
  /** Names this deployment (the Redis prefix): the reaper only touches its own containers. */
  deployment: string;
  logger: Logger;
  /** Seccomp kill evidence (default: a TripwireMonitor of this runtime's own). */
  tripwires?: TripwireMonitor;
}

export class DockerRuntime implements ContainerRuntime {
  private readonly docker: Docker;
  private readonly tripwires: TripwireMonitor;

  constructor(private readonly opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.tripwires = opts.tripwires ?? new TripwireMonitor({ logger: opts.logger });
  }

  /** The engine and the tripwire channel: a worker that cannot see seccomp kills must not run jobs. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new AppError('SANDBOX_UNAVAILABLE', `Docker engine not reachable at ${this.opts.socketPath}`, { retryable: true, cause: err });
    }
    await this.tripwires.ready();
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

  /** Ends what this runtime started (its tripwire listener); containers are the reaper's. */
  close(): void {
    if (this.opts.tripwires === undefined) this.tripwires.close();
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
    // watching starts before anything of the job exists, and ends after all of it is gone
    const watch = await this.tripwires.watch(spec.gid);
    try {
      let container: Docker.Container;
      try {
        container = await this.docker.createContainer(options);
      } catch (err) {
        if (statusOf(err) === 404) throw new AppError('IMAGE_MISSING', `sandbox image ${spec.imageId} is not present (run: npm run setup)`, { retryable: true, cause: err });
        throw new AppError('SANDBOX_UNAVAILABLE', `container create failed: ${messageOf(err)}`, { retryable: true, cause: err });
      }
      let result: SandboxResult;
      let removed: boolean;
      try {
        await runOpts.onCreated?.(container.id);
        result = await this.runCreated(container, spec, input, runOpts.signal, log);
      } finally {
        removed = await this.remove(container.id, log);
      }
      // whatever the outcome (a child may trip the policy, then the job time out)
      const evidence = removed ? await watch.settle() : { complete: false as const, reason: 'the container could not be removed' };
      return withTripwires(result, evidence);
    } finally {
      watch.close();
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

      const outcome = await this.decideOutcome(container, killReason, exitCode, capture.launcherStatus, startedAtMs);
      if (outcome === 'input_failed') {
        if (!(await this.isRunning(container.id))) {
          throw new AppError('SANDBOX_UNAVAILABLE', 'the sandbox container stopped before the command started', { retryable: true });
        }
        throw new AppError('SANDBOX_INPUT_FAILED', `sandbox launcher could not unpack the input: ${capture.stdout.toBuffer().toString('utf8').slice(0, 500)}`);
      }
      const patchMessage = outcome === 'patch_failed' ? capture.stdout.toBuffer().toString('utf8') : undefined;
      const collected =
        outcome === 'exited' && (spec.outputs?.length ?? 0) > 0
          ? await collectOutputs(container, spec, collectionDeadlineMs(startedAtMs, spec.limits.timeoutMs, Date.now()), log)
          : { artifacts: [], rejected: [] };
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
  ): Promise<'exited' | SandboxOutcome | 'input_failed'> {
    // our own kill explains the exit first
    if (killReason !== undefined) return killReason;
    if (launcher === 'patch_failed') return 'patch_failed';
    // an OOM kill: exit code alone lies (sandbox-facts), so ask the engine
    if ((exitCode === 137 || exitCode === null) && (await this.oomSince(container.id, startedAtMs))) return 'oom';
    if (launcher !== 'ok') return 'input_failed';
    // a tripwire turns `exited` into policy_violation once its evidence is in (withTripwires)
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

  /** Force-remove with volumes (every process of the job is dead when it returns true); a container that is already gone is not an error. */
  private async remove(id: string, log: Logger): Promise<boolean> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
      return true;
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) return true;
      // 409 "removal already in progress" — the engine finishes it (wait: the caller counts on it)
      if (status === 409) return this.gone(id);
      log.error({ err, containerId: id }, 'container remove failed; the reaper will retry');
      return false;
    }
  }

  /** Waits (up to ~5 s) until the engine no longer knows the container. */
  private async gone(id: string): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
      try {
        await this.docker.getContainer(id).inspect();
      } catch (err) {
        if (statusOf(err) === 404) return true;
      }
      await delay(100);
    }
    return false;
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
