/**
 * The Docker adapter of the ContainerRuntime port, and with docker-sandbox.ts, docker-exec.ts
 * and docker-outcome.ts the only code that talks to the engine. A container per job: create
 * (hardened options, checked against the engine's ranges first; the tripwire watch opens
 * alongside, before anything of the job runs) → start (PID 1 idles) → one exec → remove,
 * always. Stop/remove are idempotent: 304/404 are fine. For the warm pool it also makes containers ahead of any job
 * (`warm`) that a job then claims (PoolEngine).
 */
import Docker from 'dockerode';
import { AppError, type Logger } from '../shared/index.js';
import { LABEL_DEPLOYMENT, LABEL_ISOLATION, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER, type ContainerRuntime, type PreparedSandbox } from './container-runtime.js';
import { engineFailure, messageOf, statusOf } from './docker-errors.js';
import { DockerSandbox, limitUpdate, removeContainer } from './docker-sandbox.js';
import { assertEngineLimits, type EngineFacts } from './engine-limits.js';
import { containerOptions } from './hardening.js';
import { assertIsolation, isolationsOf } from './isolation-runtime.js';
import type { SandboxIsolation, SandboxSpec } from './sandbox-spec.js';
import { claimName, jobOfContainer, LABEL_POOL, type PoolEngine, type WarmSandbox } from './pool/pool-engine.js';
import { TripwireMonitor } from './tripwire-monitor.js';

export interface DockerRuntimeOptions {
  socketPath: string;
  workerId: string;
  /** Names this deployment (the Redis prefix): the reaper only touches its own containers. */
  deployment: string;
  logger: Logger;
  /** Seccomp kill evidence (default: a TripwireMonitor of this runtime's own). */
  tripwires?: TripwireMonitor;
}

export class DockerRuntime implements ContainerRuntime, PoolEngine {
  private readonly docker: Docker;
  private readonly tripwires: TripwireMonitor;
  private engine: Promise<EngineInfo> | undefined;
  /** Containers whose removal failed (the engine away, say): retried by every reap. */
  private readonly leftovers = new Set<string>();

  constructor(private readonly opts: DockerRuntimeOptions) {
    this.docker = new Docker({ socketPath: opts.socketPath });
    this.tripwires = opts.tripwires ?? new TripwireMonitor({ logger: opts.logger });
  }

  /** The engine and the tripwire channel: a worker that cannot see seccomp kills must not run jobs. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw this.unreachable(err);
    }
    await this.tripwires.ready();
  }

  /** Ends what this runtime started (its tripwire listener); containers are the reaper's. */
  close(): void {
    if (this.opts.tripwires === undefined) this.tripwires.close();
  }

  /** The isolation tiers this engine runs, asked again each time (setup may register runsc while the worker runs). */
  async isolations(): Promise<SandboxIsolation[]> {
    this.engine = undefined;
    return isolationsOf((await this.engineFacts()).runtimes);
  }

  async assertImage(imageId: string): Promise<void> {
    try {
      await this.docker.getImage(imageId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) throw imageMissing(imageId, err);
      throw new AppError('SANDBOX_UNAVAILABLE', `cannot inspect image ${imageId}`, { retryable: true, cause: err });
    }
  }

  async create(spec: SandboxSpec): Promise<PreparedSandbox> {
    return (await this.make(spec, { [LABEL_JOB]: spec.jobId })).prepared();
  }

  /** A pooled container: created and started now, labelled with its pool (spec.labels), not with a job; `claim` gives it one. */
  async warm(spec: SandboxSpec): Promise<WarmSandbox> {
    const sandbox = await this.make(spec, {});
    await sandbox.prepared().start();
    return {
      containerId: sandbox.containerId,
      spec,
      claim: async (jobId, limits) => {
        const jobSpec: SandboxSpec = { ...spec, jobId, limits };
        // the job's limits pass the same check as a create's before the engine sees them
        const options = containerOptions(jobSpec, {});
        try {
          assertEngineLimits(options, await this.engineFacts());
        } catch (err) {
          await sandbox.remove();
          throw err;
        }
        return sandbox.claim(jobSpec, claimName(jobId, sandbox.containerId), limitUpdate(spec.limits, limits, options), this.opts.logger.child({ jobId }));
      },
      remove: () => sandbox.remove(),
    };
  }

  async runningPooled(): Promise<ReadonlySet<string>> {
    const label = [`${LABEL_MANAGED}=true`, `${LABEL_DEPLOYMENT}=${this.opts.deployment}`, `${LABEL_WORKER}=${this.opts.workerId}`, LABEL_POOL];
    const list = await this.docker
      .listContainers({ all: false, filters: { label, status: ['running'] } })
      .catch((err: unknown) => Promise.reject(engineFailure(err, 'listing the pool')));
    return new Set(list.map((c) => c.Id));
  }

  private async make(spec: SandboxSpec, jobLabel: Record<string, string>): Promise<DockerSandbox> {
    const labels = {
      ...spec.labels,
      [LABEL_MANAGED]: 'true',
      [LABEL_DEPLOYMENT]: this.opts.deployment,
      ...jobLabel,
      [LABEL_WORKER]: this.opts.workerId,
      [LABEL_ISOLATION]: spec.isolation ?? 'container',
    };
    const log = this.opts.logger.child({ jobId: spec.jobId });
    const options = containerOptions(spec, labels);
    const engine = await this.engineFacts();
    // never a weaker tier than the spec's: a gVisor sandbox on an engine without runsc is refused
    assertIsolation(spec.isolation ?? 'container', engine.runtimes);
    // no limit that the engine would read as "none" or refuse is ever sent
    assertEngineLimits(options, engine);
    // watching starts before any process of the job exists (none does before the start), and
    // ends after all of it is gone; the listener's acknowledgement and the create overlap
    const [watched, created] = await Promise.allSettled([this.tripwires.watch(spec.gid), this.docker.createContainer(options)]);
    if (created.status === 'rejected') {
      if (watched.status === 'fulfilled') watched.value.close();
      const err: unknown = created.reason;
      if (statusOf(err) === 404) throw imageMissing(spec.imageId, err);
      throw new AppError('SANDBOX_UNAVAILABLE', `container create failed: ${messageOf(err)}`, { retryable: true, cause: err });
    }
    if (watched.status === 'rejected') {
      await removeContainer(this.docker, created.value.id, log, this.leftovers);
      throw watched.reason;
    }
    return new DockerSandbox(this.docker, created.value.id, spec, watched.value, log, this.leftovers);
  }

  /** A claimed pooled container reports the job it serves under LABEL_JOB (from its name: see pool-engine.ts). */
  async listManaged(labelFilter: Readonly<Record<string, string>> = {}): Promise<{ id: string; labels: Record<string, string> }[]> {
    const label = [`${LABEL_MANAGED}=true`, `${LABEL_DEPLOYMENT}=${this.opts.deployment}`];
    // an engine that is away (restarting: ENOENT on its socket) is retryable, never INTERNAL
    const list = await this.docker.listContainers({ all: true, filters: { label } }).catch((err: unknown) => Promise.reject(engineFailure(err, 'listing its containers')));
    return list
      .map((c) => {
        const jobId = jobOfContainer(c.Labels, c.Names, LABEL_JOB);
        return { id: c.Id, labels: jobId === undefined ? c.Labels : { ...c.Labels, [LABEL_JOB]: jobId } };
      })
      .filter((c) => Object.entries(labelFilter).every(([k, v]) => c.labels[k] === v));
  }

  /** Retries the removals that failed first (whatever the predicate says), then removes what the predicate picks. */
  async reap(shouldRemove: (labels: Readonly<Record<string, string>>) => boolean | Promise<boolean>): Promise<number> {
    let removed = 0;
    for (const id of [...this.leftovers]) if (await removeContainer(this.docker, id, this.opts.logger, this.leftovers)) removed += 1;
    for (const c of await this.listManaged()) {
      if (await shouldRemove(c.labels)) {
        if (await removeContainer(this.docker, c.id, this.opts.logger, this.leftovers)) removed += 1;
      }
    }
    return removed;
  }

  /** The engine's CPU count and runtimes, asked once (a failed ask is asked again next time; isolations() asks anew). */
  private engineFacts(): Promise<EngineInfo> {
    this.engine ??= this.docker.info().then(
      (info: { NCPU: number; Runtimes?: Record<string, unknown> }) => ({ cpus: info.NCPU, runtimes: Object.keys(info.Runtimes ?? {}) }),
      (err: unknown) => {
        this.engine = undefined;
        throw this.unreachable(err);
      },
    );
    return this.engine;
  }

  private unreachable(err: unknown): AppError {
    return new AppError('SANDBOX_UNAVAILABLE', `Docker engine not reachable at ${this.opts.socketPath}`, { retryable: true, cause: err });
  }
}

/** What the runtime asks the engine once: its limits' facts, and its runtimes (which isolation tiers it can run). */
interface EngineInfo extends EngineFacts {
  readonly runtimes: readonly string[];
}

function imageMissing(imageId: string, cause: unknown): AppError {
  return new AppError('IMAGE_MISSING', `sandbox image ${imageId} is not present (run: npm run setup)`, { retryable: true, cause });
}
