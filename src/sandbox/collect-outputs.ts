/**
 * Brings a finished job's declared outputs back: the launcher's `collect` mode (in the sandbox,
 * after it killed every process the job left) streams /work as a tar, at most
 * SAFE_PATH_MAX_DEPTH + 1 levels deep; the host parses it strictly (artifact-collector.ts).
 * Collection runs on the job's clock: it may use what remains of `timeoutMs`, and never less
 * than a small floor, so a job that ends just before its limit can still hand back its files
 * while a hostile tree (deep, wide, sparse) can hold a worker slot at most timeoutMs + floor.
 */
import type Docker from 'dockerode';
import { PassThrough, type Duplex } from 'node:stream';
import { AppError, withTimeout, type Logger } from '../shared/index.js';
import { collectFromTar, type Collected } from './artifact-collector.js';
import { execExitCode } from './docker-outcome.js';
import { collectExecOptions } from './hardening.js';
import { FrameDemuxer, streamEnded } from './output-capture.js';
import type { SandboxRun, SandboxSpec } from './sandbox-spec.js';

/** The least a collection gets, even when the job used all of its time (exec start + tar of a small tree take ~0.2 s here, loaded). */
export const COLLECT_FLOOR_MS = 2_000;

/** How long collection may take: what remains of the job's timeoutMs, at least COLLECT_FLOOR_MS. */
export function collectionDeadlineMs(startedAtMs: number, timeoutMs: number, nowMs: number): number {
  return Math.max(startedAtMs + timeoutMs - nowMs, COLLECT_FLOOR_MS);
}

const NOT_COLLECTED: Collected = { artifacts: [], rejected: [{ path: '*', reason: 'not_collected' }] };

/** Streams /work out through the collector exec and parses it, within `budgetMs`; on overrun nothing is collected (and it says so). */
export async function collectOutputs(container: Docker.Container, spec: SandboxSpec, run: SandboxRun, budgetMs: number, log: Logger): Promise<Collected> {
  let stream: Duplex | undefined;
  const work = (async () => {
    const exec = await container.exec(collectExecOptions(spec));
    stream = await exec.start({ hijack: true, stdin: false });
    const collected = await parseStream(stream, spec, run);
    // all or nothing: a collector that failed (no process slot left, a file it could not read)
    // may have streamed part of /work, which is never reported as the job's outputs
    const exitCode = await execExitCode(exec);
    if (exitCode === 0) return collected;
    log.warn({ containerId: container.id, exitCode }, 'the artifact collector failed');
    return NOT_COLLECTED;
  })();
  try {
    const first = await withTimeout(work, budgetMs);
    if (first !== undefined) return first;
    log.warn({ containerId: container.id, budgetMs }, 'artifact collection ran out of the job budget');
    work.catch(() => undefined);
    return NOT_COLLECTED;
  } catch (err) {
    log.warn({ err, containerId: container.id }, 'artifact collection failed');
    return NOT_COLLECTED;
  } finally {
    // the collector may still be streaming: the container's removal ends it
    stream?.destroy();
  }
}

async function parseStream(stream: Duplex, spec: SandboxSpec, run: SandboxRun): Promise<Collected> {
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
  const [collected] = await Promise.all([collectFromTar(tar, run.outputs ?? [], { artifactFiles: run.limits.artifactFiles, artifactBytes: run.limits.artifactBytes }), ended]);
  return collected;
}
