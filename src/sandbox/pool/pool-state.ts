/** A pool's bookkeeping: its ready containers, those being made, who waits, and what it reports. */
import { z } from 'zod';
import type { WarmSandbox } from './pool-engine.js';
import { templateKey, type PoolTemplate } from './pool-template.js';

/** One pool as the worker reports it (heartbeat, /readyz). */
export const PoolStateSchema = z.object({
  target: z.number(),
  ready: z.number(),
  creating: z.number(),
  /** Claims served by a ready container, by one that was being made, and misses (cold path). */
  hits: z.number(),
  waited: z.number(),
  misses: z.number(),
  /** Containers that could not be made (the pool backs off and tries again). */
  failures: z.number(),
  lastError: z.string().optional(),
});
export type PoolState = z.infer<typeof PoolStateSchema>;

export interface Slot {
  readonly warm: WarmSandbox;
  readonly key: string;
  readonly createdAtMs: number;
  readonly runDir: string | undefined;
}

/** One pool's containers and counters (the SandboxPool decides; this only holds). */
export class Pool {
  key: string;
  target: number;
  readonly ready: Slot[] = [];
  creating = 0;
  readonly waiters: ((slot: Slot | undefined) => void)[] = [];
  /** Claims whose replacement waits for their job's container to be removed (counted against the target meanwhile). */
  readonly deferred = new Set<symbol>();
  hits = 0;
  waited = 0;
  misses = 0;
  failures = 0;
  lastError: string | undefined;
  failedInARow = 0;
  retryAtMs = 0;

  constructor(
    public template: PoolTemplate,
    target: number,
  ) {
    this.key = templateKey(template);
    this.target = target;
  }

  state(): PoolState {
    return {
      target: this.target,
      ready: this.ready.length,
      creating: this.creating,
      hits: this.hits,
      waited: this.waited,
      misses: this.misses,
      failures: this.failures,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }
}

/** Backoff after failed creations: 0.5 s doubling to 30 s (an image gone missing must not spin). */
export const backoffMs = (failedInARow: number) => Math.min(30_000, 500 * 2 ** Math.min(10, failedInARow - 1));
