/**
 * What a pooled container is made of, and whether a job may take one. Everything fixed at create
 * goes into the template's key: the image, the seccomp policy, the profile it came from, the
 * isolation tier, the container limits and whether it has a gateway folder. A container carries
 * its key as a label; one whose key is no longer its pool's is replaced, and a job takes one only
 * when its own template matches.
 *
 * Limits a job may lower on a pooled container (`docker update` changes the cgroup of a running
 * container exactly as a create would have set it): memory (and memory+swap with it), cpus, pids.
 * The rest cannot change once the container exists — tmpfs sizes (scratch, /tmp, /dev/shm: mount
 * options) and rlimits (openFiles, fileSizeBytes: the container's init has them) — so a job that
 * tightens one of those takes the cold path.
 */
import { canonicalJson, sha256Hex } from '../../shared/index.js';
import type { ContainerLimits, SandboxIsolation } from '../sandbox-spec.js';

export interface PoolTemplate {
  /** The pool's name (see POOL_NAME). */
  readonly name: string;
  /** Image ID (sha256:…). */
  readonly imageId: string;
  readonly seccompJson: string;
  /** Digest of the profile it comes from: a changed profile replaces the pool's containers. */
  readonly profileDigest: string;
  readonly limits: ContainerLimits;
  readonly isolation: SandboxIsolation;
  /** Whether the containers get a gateway folder at /run/airlock (only jobs granted tools take these). */
  readonly tools: boolean;
}

/** Limits a running container's cgroup can be lowered to. */
export const LOWERABLE_LIMITS = ['memoryBytes', 'cpus', 'pids'] as const satisfies readonly (keyof ContainerLimits)[];
const FIXED_LIMITS = ['scratchBytes', 'tmpBytes', 'shmBytes', 'fileSizeBytes', 'openFiles'] as const satisfies readonly (keyof ContainerLimits)[];

/** The container limits of `limits` (a job's or a profile's limits carry the per-run ones too). */
export function containerLimitsOf(limits: ContainerLimits): ContainerLimits {
  const out: Partial<Record<keyof ContainerLimits, number>> = {};
  for (const name of [...LOWERABLE_LIMITS, ...FIXED_LIMITS]) out[name] = limits[name];
  return out as ContainerLimits;
}

/** Digest of everything fixed at create (what a container's `airlock.pool.key` label carries). */
export function templateKey(t: PoolTemplate): string {
  const fixed = {
    imageId: t.imageId,
    seccomp: sha256Hex(t.seccompJson),
    profileDigest: t.profileDigest,
    limits: containerLimitsOf(t.limits),
    isolation: t.isolation,
    tools: t.tools,
  };
  return sha256Hex(canonicalJson(fixed)).slice(0, 32);
}

export type Fit = { readonly fits: true; readonly limits: ContainerLimits } | { readonly fits: false; readonly reason: string };

/**
 * Whether a job whose own template is `job` may run in a container made from `pooled`: the same
 * image, policy, profile, tier and gateway folder, the same fixed limits, and lowerable limits no
 * higher than the container's (on the gVisor tier, equal: runsc cannot update a running
 * container). The limits to apply at claim are the job's.
 */
export function fitsTemplate(pooled: PoolTemplate, job: PoolTemplate): Fit {
  if (pooled.imageId !== job.imageId) return { fits: false, reason: 'image' };
  if (pooled.seccompJson !== job.seccompJson) return { fits: false, reason: 'seccomp policy' };
  if (pooled.profileDigest !== job.profileDigest) return { fits: false, reason: 'profile' };
  if (pooled.isolation !== job.isolation) return { fits: false, reason: 'isolation' };
  if (pooled.tools !== job.tools) return { fits: false, reason: 'tools' };
  for (const name of FIXED_LIMITS) if (pooled.limits[name] !== job.limits[name]) return { fits: false, reason: `limit ${name} (fixed at create)` };
  for (const name of LOWERABLE_LIMITS) {
    if (job.limits[name] > pooled.limits[name]) return { fits: false, reason: `limit ${name} above the pool's` };
    // runsc has no `update` (measured: docker update of a gVisor container fails), so a gVisor job that lowers a limit runs cold
    if (pooled.isolation === 'gvisor' && job.limits[name] !== pooled.limits[name])
      return { fits: false, reason: `limit ${name} (a gVisor container's cannot change once it runs)` };
  }
  return { fits: true, limits: containerLimitsOf(job.limits) };
}
