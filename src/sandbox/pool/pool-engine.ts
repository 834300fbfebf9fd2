/**
 * What the warm pool needs of an engine beyond the ContainerRuntime port: a container created and
 * started ahead of any job (a `WarmSandbox`), handed to exactly one job by `claim`, and the list
 * of its containers that still run. DockerRuntime implements it.
 *
 * A pooled container is labelled with its pool and key, not with a job (none exists yet), and
 * Docker 20.10 cannot change labels after create. So the claim names the container after the
 * job (`claimName`), and the port reports that job under LABEL_JOB (`jobOfContainer`): the
 * reaper of a later attempt, and anything else that looks a job's container up, finds it like a
 * cold one. Renaming costs one engine call (~5 ms) and no Redis round trip.
 */
import type { RunningSandbox } from '../container-runtime.js';
import type { ContainerLimits, SandboxSpec } from '../sandbox-spec.js';

/** The pool a container belongs to (its name); set on pooled containers only. */
export const LABEL_POOL = 'airlock.pool';
/** The template key the container was made from (see templateKey). */
export const LABEL_POOL_KEY = 'airlock.pool.key';

/** Started and idling, not yet anybody's. */
export interface WarmSandbox {
  readonly containerId: string;
  readonly spec: SandboxSpec;
  /**
   * Hands the container to one job, for good: names it after the job, lowers memory/cpus/pids to
   * the job's `limits` when they are lower, and starts the seccomp evidence from now. Throws
   * SANDBOX_UNAVAILABLE when any of that fails (the container is then removed).
   */
  claim(jobId: string, limits: ContainerLimits): Promise<RunningSandbox>;
  /** Force-removes the container; idempotent, never throws. */
  remove(): Promise<void>;
}

export interface PoolEngine {
  /** Creates and starts a container for the pool (`spec.jobId` names the slot in logs; no job label). */
  warm(spec: SandboxSpec): Promise<WarmSandbox>;
  /** Ids of this worker's pooled containers that are running (one that died or was killed is missing). */
  runningPooled(): Promise<ReadonlySet<string>>;
}

const CLAIM_PREFIX = 'airlock-claim.';

/** The name a claimed container gets: the job's id, and the container's own (names are unique per engine). */
export function claimName(jobId: string, containerId: string): string {
  return `${CLAIM_PREFIX}${jobId}.${containerId.slice(0, 12)}`;
}

/** The job a container serves: its label (cold), or the name its claim gave it (pooled). */
export function jobOfContainer(labels: Readonly<Record<string, string>>, names: readonly string[], jobLabel: string): string | undefined {
  const labelled = labels[jobLabel];
  if (labelled !== undefined) return labelled;
  for (const n of names) {
    const name = n.replace(/^\//, '');
    if (!name.startsWith(CLAIM_PREFIX)) continue;
    const rest = name.slice(CLAIM_PREFIX.length);
    const dot = rest.lastIndexOf('.');
    if (dot > 0) return rest.slice(0, dot);
  }
  return undefined;
}
