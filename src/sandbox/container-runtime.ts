import type { RunOptions, SandboxResult, SandboxSpec } from './sandbox-spec.js';

/** The port the worker talks to. One adapter today: DockerRuntime. */
export interface ContainerRuntime {
  /** Runs one single-use container; it is removed before this resolves or rejects. */
  run(spec: SandboxSpec, opts?: RunOptions): Promise<SandboxResult>;
  /** Throws SANDBOX_UNAVAILABLE when the engine does not answer. */
  ping(): Promise<void>;
  /** Throws IMAGE_MISSING when the image ID is not present. */
  assertImage(imageId: string): Promise<void>;
  /** Removes this deployment's managed containers matching the predicate over their labels; returns how many. */
  reap(shouldRemove: (labels: Readonly<Record<string, string>>) => boolean | Promise<boolean>): Promise<number>;
  /** Managed containers currently present (for tests and the leak check). */
  listManaged(labelFilter?: Readonly<Record<string, string>>): Promise<{ id: string; labels: Record<string, string> }[]>;
}

export const LABEL_MANAGED = 'airlock.managed';
export const LABEL_JOB = 'airlock.job';
export const LABEL_WORKER = 'airlock.worker';
/** Deployments sharing one engine (different Redis prefixes) never reap each other's containers. */
export const LABEL_DEPLOYMENT = 'airlock.deployment';
