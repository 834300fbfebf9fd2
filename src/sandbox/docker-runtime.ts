/**
 * The only file that talks to the Docker engine. One container per run: create →
 * attach → start → send input tar on stdin → wait (wall clock, output cap, cancel) →
 * inspect → remove (always, in finally). Stop/remove are idempotent: 304/404 are fine.
 */
import Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import { AppError, type Logger } from '../shared/index.js';
import { LABEL_DEPLOYMENT, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER, type ContainerRuntime } from './container-runtime.js';
import { containerOptions } from './hardening.js';
import { buildInputArchive } from './input-archive.js';
import { OutputCapture } from './output-capture.js';
import type { RunOptions, SandboxOutcome, SandboxResult, SandboxSpec } from './sandbox-spec.js';

/** After the container exits, how long to wait for the attach stream to drain. */
const DRAIN_MS = 2000;

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
    const input = await buildInputArchive(spec);
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(containerOptions(spec, labels));
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
    const capture = new OutputCapture(spec.limits, () => kill('output_limit'));

    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as Duplex;
    const drained = new Promise<void>((resolve) => {
      stream.on('data', (chunk: Buffer) => capture.write(chunk));
      stream.on('end', resolve);
      stream.on('close', resolve);
      stream.on('error', () => resolve());
    });

    const onAbort = (): void => kill('killed');
    signal?.addEventListener('abort', onAbort, { once: true });

    const startedAtMs = Date.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      try {
        await container.start();
      } catch (err) {
        throw new AppError('SANDBOX_UNAVAILABLE', `container start failed: ${messageOf(err)}`, { retryable: true, cause: err });
      }
      if (signal?.aborted) onAbort();
      timer = setTimeout(() => kill('timeout'), spec.limits.timeoutMs);
      // input goes in on stdin; ending our side closes the container's stdin (StdinOnce)
      stream.end(input);
      const waited = (await container.wait()) as { StatusCode: number };
      const finishedAtMs = Date.now();
      clearTimeout(timer);
      await Promise.race([drained, delay(DRAIN_MS)]);
      stream.destroy();
      const state = ((await container.inspect()) as { State: { OOMKilled: boolean } }).State;

      const outcome = decideOutcome(killReason, state.OOMKilled, capture.launcherStatus);
      if (outcome === 'input_failed') {
        throw new AppError('SANDBOX_INPUT_FAILED', `sandbox launcher could not unpack the input: ${capture.stdout.toBuffer().toString('utf8').slice(0, 500)}`);
      }
      const patchMessage = outcome === 'patch_failed' ? capture.stdout.toBuffer().toString('utf8') : undefined;
      return {
        outcome,
        exitCode: outcome === 'exited' ? waited.StatusCode : outcome === 'patch_failed' ? null : waited.StatusCode,
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
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      stream.destroy();
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

function decideOutcome(
  killReason: SandboxOutcome | undefined,
  oomKilled: boolean,
  launcher: OutputCapture['launcherStatus'],
): SandboxOutcome | 'input_failed' {
  // our own kill explains the exit first; then the kernel's OOM verdict (exit code alone lies: sandbox-facts)
  if (killReason !== undefined) return killReason;
  if (oomKilled) return 'oom';
  if (launcher === 'patch_failed') return 'patch_failed';
  if (launcher !== 'ok') return 'input_failed';
  return 'exited';
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
