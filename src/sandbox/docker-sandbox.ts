/**
 * One container through its stages (created → started → one run → removed), handed out as the
 * port's stage types. The tripwire watch, open before the container starts, lives as long as
 * the container: a run's verdict is settled once the job's processes are gone, and the watch
 * ends with the removal at whatever stage that happens. A pooled container is started ahead
 * of any job and claimed by one (`claim`) before its one run.
 */
import type Docker from 'dockerode';
import { AppError, type Logger } from '../shared/index.js';
import type { PreparedSandbox, RunningSandbox } from './container-runtime.js';
import { delay, engineFailure, messageOf, statusOf } from './docker-errors.js';
import { execInContainer } from './docker-exec.js';
import type { ContainerCreateOptions } from './hardening.js';
import type { ContainerLimits, SandboxResult, SandboxRun, SandboxSpec } from './sandbox-spec.js';
import { withTripwires, type TripwireEvidence, type TripwireWatch } from './tripwire-monitor.js';

export class DockerSandbox {
  private readonly container: Docker.Container;
  private started = false;
  private claimed = false;
  private used = false;
  private removal: Promise<boolean> | undefined;

  constructor(
    private readonly docker: Docker,
    readonly containerId: string,
    private current: SandboxSpec,
    private readonly watch: TripwireWatch,
    private log: Logger,
    /** Where a removal that failed is noted, for the runtime's reaper to retry. */
    private readonly leftovers?: Set<string>,
  ) {
    this.container = docker.getContainer(containerId);
  }

  get spec(): SandboxSpec {
    return this.current;
  }

  prepared(): PreparedSandbox {
    return { containerId: this.containerId, spec: this.spec, start: () => this.start(), remove: () => this.remove() };
  }

  private running(): RunningSandbox {
    return { containerId: this.containerId, spec: this.spec, exec: (run) => this.exec(run), remove: () => this.remove() };
  }

  private async start(): Promise<RunningSandbox> {
    if (this.started || this.removal !== undefined) throw new AppError('INTERNAL', `sandbox ${this.containerId} was already started or removed`);
    this.started = true;
    try {
      await this.container.start();
    } catch (err) {
      await this.remove();
      throw new AppError('SANDBOX_UNAVAILABLE', `container start failed: ${messageOf(err)}`, { retryable: true, cause: err });
    }
    return this.running();
  }

  /**
   * A started pooled container becomes one job's, once: named after it, its cgroup lowered to
   * the job's limits, its seccomp evidence counted from now, and confirmed still running (all
   * in parallel: one engine round trip of latency). Any failure removes it.
   */
  async claim(jobSpec: SandboxSpec, name: string, update: ContainerUpdate | undefined, log: Logger): Promise<RunningSandbox> {
    if (!this.started || this.claimed || this.used || this.removal !== undefined)
      throw new AppError('INTERNAL', `sandbox ${this.containerId} is not a started, unclaimed container`);
    this.claimed = true;
    try {
      const [info] = await Promise.all([this.container.inspect(), this.container.rename({ name }), update === undefined ? undefined : this.container.update(update)]);
      if (info.State.Running !== true) throw new Error(`the container is ${info.State.Status}`);
      // losses before now cannot hide a record of the job's gid: no process had it yet
      if (!this.watch.rebase()) throw new Error('its tripwire channel died since it was made');
    } catch (err) {
      await this.remove();
      throw new AppError('SANDBOX_UNAVAILABLE', `pooled container claim failed: ${messageOf(err)}`, { retryable: true, cause: err });
    }
    this.current = jobSpec;
    this.log = log;
    return this.running();
  }

  private async exec(run: SandboxRun): Promise<SandboxResult> {
    // single use: a second job never sees what a first one left
    if (this.used || this.removal !== undefined) throw new AppError('INTERNAL', `sandbox ${this.containerId} already ran a job or was removed`);
    this.used = true;
    // asked before the run, so it cannot miss the stop: true once the engine saw the container stop
    const stopped = (this.container.wait() as Promise<unknown>).then(
      () => true,
      () => false,
    );
    try {
      const target = { docker: this.docker, container: this.container, spec: this.spec, log: this.log, stopped };
      const result = await execInContainer(target, run).catch((err: unknown) => {
        throw engineFailure(err, 'the run');
      });
      // whatever the outcome (a child may trip the policy, then the job time out)
      return withTripwires(result, await this.endAndSettle(stopped), this.spec.isolation);
    } finally {
      await this.remove();
    }
  }

  /**
   * Removes the container and settles the tripwire evidence. Every process of the job is dead
   * once the engine has seen the container stop (its PID 1 exits only after every other process
   * of its PID namespace is gone), before the removal ends (the engine's cleanup after the stop
   * takes ~10 ms here): the barrier goes then, alongside the rest of the removal. Complete only
   * when the removal succeeded too.
   */
  private async endAndSettle(stopped: Promise<boolean>): Promise<TripwireEvidence> {
    const removal = this.removeContainer();
    const allDead = Promise.race([stopped.then((ok) => ok || removal), removal]);
    const [removed, evidence] = await Promise.all([removal, allDead.then((dead) => (dead ? this.watch.settle() : undefined))]);
    return removed && evidence !== undefined ? evidence : { complete: false, reason: 'the container could not be removed' };
  }

  async remove(): Promise<void> {
    await this.removeContainer();
    this.watch.close();
  }

  /** Once per sandbox, whoever asks first; true when every process of the job is dead. */
  private removeContainer(): Promise<boolean> {
    this.removal ??= removeContainer(this.docker, this.containerId, this.log, this.leftovers);
    return this.removal;
  }
}

/** The cgroup fields `docker update` can lower on a running container (the engine's names). */
export interface ContainerUpdate {
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  PidsLimit?: number;
}

/** What to send so a container made with `made` runs with `wanted`; undefined when nothing changes. Values come from the job's checked create options. */
export function limitUpdate(made: ContainerLimits, wanted: ContainerLimits, options: ContainerCreateOptions): ContainerUpdate | undefined {
  const hc = options.HostConfig as { Memory: number; MemorySwap: number; NanoCpus: number; PidsLimit: number };
  const update: ContainerUpdate = {};
  if (wanted.memoryBytes !== made.memoryBytes) Object.assign(update, { Memory: hc.Memory, MemorySwap: hc.MemorySwap });
  if (wanted.cpus !== made.cpus) update.NanoCpus = hc.NanoCpus;
  if (wanted.pids !== made.pids) update.PidsLimit = hc.PidsLimit;
  return Object.keys(update).length === 0 ? undefined : update;
}

/**
 * Force-remove with volumes (every process of the job is dead when it returns true); a container
 * that is already gone is not an error. One that could not be removed is noted in `leftovers`
 * (removed from it once it is gone).
 */
export async function removeContainer(docker: Docker, id: string, log: Logger, leftovers?: Set<string>): Promise<boolean> {
  const removed = await tryRemove(docker, id, log);
  if (removed) leftovers?.delete(id);
  else leftovers?.add(id);
  return removed;
}

async function tryRemove(docker: Docker, id: string, log: Logger): Promise<boolean> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
    return true;
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) return true;
    // 409 "removal already in progress" — the engine finishes it (wait: the caller counts on it)
    if (status === 409) return gone(docker, id);
    log.error({ err, containerId: id }, 'container remove failed; the reaper will retry');
    return false;
  }
}

/** Waits (up to ~5 s) until the engine no longer knows the container. */
async function gone(docker: Docker, id: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      await docker.getContainer(id).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return true;
    }
    await delay(100);
  }
  return false;
}
