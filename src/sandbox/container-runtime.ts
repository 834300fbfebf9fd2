import type { SandboxIsolation, SandboxResult, SandboxRun, SandboxSpec } from './sandbox-spec.js';

/**
 * The port the worker talks to, in stages: create → start → exec. Each stage is its own type,
 * so a call that may not be made yet does not exist on what the caller holds. A sandbox serves
 * one run, ever. `remove()` exists on every stage and is idempotent; a stage that fails removes
 * what it made before it rejects, and `exec` always ends with the container removed (the
 * tripwire verdict needs every process of the job gone). Adapters: DockerRuntime; a warm pool
 * (issue 12) hands out sandboxes it created and started ahead of time.
 */
export interface ContainerRuntime {
  /** Creates the container (not started). Throws IMAGE_MISSING / SANDBOX_UNAVAILABLE (retryable), INTERNAL for a spec the engine must not see. */
  create(spec: SandboxSpec): Promise<PreparedSandbox>;
  /** Throws SANDBOX_UNAVAILABLE when the engine (or the tripwire channel) does not answer. */
  ping(): Promise<void>;
  /** The isolation tiers this engine can run (a spec of another tier is refused at create: ISOLATION_UNAVAILABLE). */
  isolations(): Promise<readonly SandboxIsolation[]>;
  /** Throws IMAGE_MISSING when the image ID is not present. */
  assertImage(imageId: string): Promise<void>;
  /** Removes this deployment's managed containers matching the predicate over their labels; returns how many. */
  reap(shouldRemove: (labels: Readonly<Record<string, string>>) => boolean | Promise<boolean>): Promise<number>;
  /** Managed containers currently present (for tests and the leak check). */
  listManaged(labelFilter?: Readonly<Record<string, string>>): Promise<{ id: string; labels: Record<string, string> }[]>;
}

interface SandboxStage {
  readonly containerId: string;
  readonly spec: SandboxSpec;
  /** Force-removes the container; safe to call at any stage, any number of times. Never throws (a failure is logged; the reaper retries). */
  remove(): Promise<void>;
}

/** Created, not started: nothing of the job runs yet. */
export interface PreparedSandbox extends SandboxStage {
  /** Starts the container (PID 1 idles until a run arrives). */
  start(): Promise<RunningSandbox>;
}

/** Started and idling. */
export interface RunningSandbox extends SandboxStage {
  /** Runs one job, collects its outputs, removes the container and returns what happened. A second call throws. */
  exec(run: SandboxRun): Promise<SandboxResult>;
}

export const LABEL_MANAGED = 'airlock.managed';
export const LABEL_JOB = 'airlock.job';
export const LABEL_WORKER = 'airlock.worker';
/** Deployments sharing one engine (different Redis prefixes) never reap each other's containers. */
export const LABEL_DEPLOYMENT = 'airlock.deployment';
export const LABEL_ISOLATION = 'airlock.isolation';
