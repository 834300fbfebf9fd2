/**
 * The warm pool's settings, with their ranges and defaults in this one place. config.ts maps
 * AIRLOCK_POOL_SIZE and AIRLOCK_POOL_MAX_IDLE_MS onto `PoolOptionsSchema`; a pool built without
 * config (tests) takes the same defaults.
 */
import { z } from 'zod';
import type { SandboxIsolation } from '../sandbox-spec.js';

/** A pool's name: its profile's, with `+tools` for the containers that get a gateway folder. */
export const POOL_NAME = /^[a-z][a-z0-9-]{0,31}(\+tools)?$/;
/** Containers one pool may hold ready (our choice: each idles with its limits reserved). */
export const MAX_POOL_SIZE = 64;

const PoolSizeSchema = z.number().int().min(0).max(MAX_POOL_SIZE);

/** Sizes: one for every pool (`default`), and per pool by name; a pool named nowhere holds the worker's concurrency. */
export const PoolSizesSchema = z.strictObject({
  default: PoolSizeSchema.optional(),
  byPool: z.record(z.string().regex(POOL_NAME, 'a pool is named after its profile (optionally +tools)'), PoolSizeSchema),
});
export type PoolSizes = Readonly<z.infer<typeof PoolSizesSchema>>;

/**
 * AIRLOCK_POOL_SIZE: comma-separated entries, `N` for every pool and `<pool>=N` for one
 * (`2,python=4,node=0`); empty: the worker's concurrency for every plain-tier pool and none for a
 * gVisor one (see poolSize). 0 disables a pool.
 */
const PoolSizesTextSchema = z
  .string()
  .transform((text, ctx) => {
    const out: { default?: number; byPool: Record<string, number> } = { byPool: {} };
    for (const entry of text.split(',').map((e) => e.trim())) {
      if (entry === '') continue;
      const m = /^(?:([^=]+)=)?([0-9]+)$/.exec(entry);
      if (m === null) {
        ctx.addIssue({ code: 'custom', message: `"${entry}" is neither N nor <pool>=N` });
        return z.NEVER;
      }
      if (m[1] === undefined) out.default = Number(m[2]);
      else out.byPool[m[1].trim()] = Number(m[2]);
    }
    return out;
  })
  .pipe(PoolSizesSchema);

export const PoolOptionsSchema = z.strictObject({
  size: PoolSizesTextSchema.prefault(''),
  /** A ready container older than this is replaced (it has seen nothing, but a long-lived idle container is a standing target). */
  maxIdleMs: z
    .number()
    .int()
    .min(1000)
    .max(24 * 3_600_000)
    .default(600_000),
  /** How often the pool looks for ready containers that died, expired or no longer match the configuration. */
  checkMs: z.number().int().min(100).max(60_000).default(2000),
});
export type PoolOptions = Readonly<z.infer<typeof PoolOptionsSchema>>;
export type PoolOptionsInput = z.input<typeof PoolOptionsSchema>;

/**
 * How many containers the pool `name` keeps ready: its own entry, else the default, else the
 * worker's concurrency (enough for every slot to start a job at once) — for the plain tier only:
 * a gVisor pool holds containers only when sized (N or `<pool>=N`), since each idle gVisor sandbox
 * keeps a kernel of its own running (measured: 13 MB of the container's memory against 0.5 MB
 * with runc, and about a second of CPU to start).
 */
export function poolSize(sizes: PoolSizes, name: string, concurrency: number, isolation: SandboxIsolation = 'container'): number {
  return sizes.byPool[name] ?? sizes.default ?? (isolation === 'gvisor' ? 0 : Math.min(concurrency, MAX_POOL_SIZE));
}
