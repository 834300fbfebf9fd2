/**
 * A warm pool of single-use sandboxes, per profile: containers created and started ahead of
 * time (PID 1 idles, as in any sandbox), each with ids, a gateway folder (tools pools) and a
 * seccomp watch of its own. A job whose template fits claims one (`claim`: taken from the ready
 * list synchronously, so two jobs never get the same container), the container is named after
 * the job and runs that job only, then it is removed like a cold one; the pool makes a
 * replacement in the background. A pooled container serves one job, ever: a claimed container
 * never returns to the pool, whatever happens to its job.
 *
 * The replacement is made once the claimed container is removed (its job is over), so making it
 * does not take the CPU from the job it replaces (on 2 cores a container's create and start
 * slowed a hello-world's program from ~150 to ~220 ms); at once when the claim leaves fewer
 * than half the target ready (a burst, steady load), and then every replacement still owed too.
 *
 * The pool never holds more than its target: ready + being made <= target, counted before a
 * creation starts. A claim that finds none ready waits for a container being made when there is
 * one nobody else waits for, else it misses and the job takes the cold path. Ready containers
 * older than maxIdleMs, dead ones, and ones whose template key is no longer their pool's are
 * removed and replaced (`check`, every checkMs). `close` removes every container the pool holds.
 */
import { chmod, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { newId, type Clock, type Logger } from '../../shared/index.js';
import type { PreparedSandbox, RunningSandbox } from '../container-runtime.js';
import { jobIds } from '../hardening.js';
import { LABEL_POOL, LABEL_POOL_KEY, type PoolEngine } from './pool-engine.js';
import { poolSize, type PoolOptions } from './pool-options.js';
import { backoffMs, Pool, type PoolState, type Slot } from './pool-state.js';
import { fitsTemplate, templateKey, type PoolTemplate } from './pool-template.js';

export interface SandboxPoolOptions {
  readonly engine: PoolEngine;
  readonly options: PoolOptions;
  /** The worker's concurrency: a pool's default size. */
  readonly concurrency: number;
  readonly templates: readonly PoolTemplate[];
  /** Parent of the tools pools' gateway folders (the worker's gateway dir); needed when a template has tools. */
  readonly runRoot?: string | undefined;
  /** Extra labels on every pooled container (tests find theirs by them). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly clock: Clock;
  readonly logger: Logger;
}

export interface PoolRequest {
  readonly jobId: string;
  /** The job's own template: its profile's, with the job's limits. Its name picks the pool. */
  readonly template: PoolTemplate;
}

export type PoolClaim =
  | { readonly sandbox: PreparedSandbox; readonly runDir: string | undefined; readonly waitMs: number }
  | { readonly sandbox: undefined; readonly runDir?: undefined; readonly waitMs: number; readonly reason: string };

export class SandboxPool {
  private readonly pools = new Map<string, Pool>();
  private readonly making = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private checking = false;
  private readonly log: Logger;

  constructor(private readonly opts: SandboxPoolOptions) {
    this.log = opts.logger.child({ component: 'sandbox-pool' });
    this.configure(opts.templates);
  }

  /** Fills every pool and starts the periodic check. */
  start(): void {
    for (const pool of this.pools.values()) this.fill(pool);
    this.timer = setInterval(() => void this.check(), this.opts.options.checkMs);
    this.timer.unref();
  }

  /**
   * The templates to keep ready (at start, and whenever the configuration a worker holds
   * changes): a ready container whose key is no longer its pool's is removed now and replaced.
   */
  configure(templates: readonly PoolTemplate[]): void {
    const names = new Set(templates.map((t) => t.name));
    for (const [name, pool] of this.pools) {
      if (names.has(name)) continue;
      this.pools.delete(name);
      this.drain(pool, pool.ready.splice(0));
    }
    for (const t of templates) {
      if (t.tools && this.opts.runRoot === undefined) throw new Error(`pool ${t.name}: a tools pool needs runRoot`);
      const target = poolSize(this.opts.options.size, t.name, this.opts.concurrency, t.isolation);
      const pool = this.pools.get(t.name);
      if (pool === undefined) {
        if (target > 0) this.pools.set(t.name, new Pool(t, target));
        continue;
      }
      pool.template = t;
      pool.key = templateKey(t);
      pool.target = target;
      this.drain(
        pool,
        pool.ready.filter((s) => s.key !== pool.key),
      );
      if (this.timer !== undefined) this.fill(pool);
    }
  }

  /** A container for this job, claimed for it alone; or a miss (the cold path) and why. */
  async claim(req: PoolRequest): Promise<PoolClaim> {
    const t0 = this.opts.clock.now();
    const pool = this.pools.get(req.template.name);
    if (pool === undefined || this.closed) return { sandbox: undefined, waitMs: 0, reason: 'no pool' };
    const fit = fitsTemplate(pool.template, req.template);
    if (!fit.fits) return this.miss(pool, `does not fit: ${fit.reason}`, 0);
    let waited = false;
    for (;;) {
      let slot = pool.ready.shift();
      const owed = this.refillAfterClaim(pool);
      if (slot === undefined && pool.waiters.length < pool.creating) {
        waited = true;
        slot = await new Promise<Slot | undefined>((resolve) => pool.waiters.push(resolve));
      }
      const waitMs = this.opts.clock.now() - t0;
      if (slot === undefined) return this.miss(pool, 'none ready', waitMs);
      let running: RunningSandbox;
      try {
        running = await slot.warm.claim(req.jobId, fit.limits);
      } catch (err) {
        // removed by the failed claim; the next ready one is tried (a dead container, a lost tripwire channel)
        this.log.warn({ err, pool: pool.template.name, containerId: slot.warm.containerId, jobId: req.jobId }, 'pooled container could not be claimed');
        await this.discard(slot);
        this.released(pool, owed);
        continue;
      }
      if (waited) pool.waited += 1;
      else pool.hits += 1;
      return { sandbox: claimedSandbox(running, slot, () => this.released(pool, owed)), runDir: slot.runDir, waitMs };
    }
  }

  /** Per pool: target, ready, being made, and what claims got. */
  state(): Record<string, PoolState> {
    return Object.fromEntries([...this.pools].map(([name, p]) => [name, p.state()]));
  }

  /** Removes every container the pool holds (ready, and those being made once they exist); claims from now on miss. */
  async close(): Promise<void> {
    this.stop();
    const removals = [...this.pools.values()].flatMap((p) => p.ready.splice(0).map((s) => this.discard(s)));
    await Promise.all([...removals, ...this.making]);
  }

  /** Stops making and checking without removing anything, as a crashed worker would (tests). */
  abandon(): void {
    this.stop();
  }

  private stop(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const p of this.pools.values()) for (const w of p.waiters.splice(0)) w(undefined);
  }

  private miss(pool: Pool, reason: string, waitMs: number): PoolClaim {
    pool.misses += 1;
    this.log.debug({ pool: pool.template.name, reason, waitMs }, 'pool miss: cold path');
    return { sandbox: undefined, waitMs, reason };
  }

  /**
   * After a claim took a container: its replacement is owed until the claimed container is
   * removed (the token `released` settles), or made now, with every one still owed, when fewer
   * than half the target are ready.
   */
  private refillAfterClaim(pool: Pool): symbol | undefined {
    if (pool.ready.length >= Math.ceil(pool.target / 2)) {
      const owed = Symbol('refill');
      pool.deferred.add(owed);
      return owed;
    }
    pool.deferred.clear();
    this.fill(pool);
    return undefined;
  }

  /** A claimed container is gone (or its claim failed): the replacement it owed is made now. */
  private released(pool: Pool, owed: symbol | undefined): void {
    if (owed !== undefined) pool.deferred.delete(owed);
    this.fill(pool);
  }

  /** Starts creations until ready + being made + owed reaches the target (never beyond it). */
  private fill(pool: Pool): void {
    if (this.closed || this.pools.get(pool.template.name) !== pool || this.opts.clock.now() < pool.retryAtMs) return;
    while (pool.ready.length + pool.creating + pool.deferred.size < pool.target) {
      pool.creating += 1;
      const made = this.make(pool).finally(() => this.making.delete(made));
      this.making.add(made);
    }
  }

  private async make(pool: Pool): Promise<void> {
    const slot = await this.create(pool).finally(() => (pool.creating -= 1));
    if (slot === undefined) {
      // a creation failed: waiters beyond what is still being made go cold now
      while (pool.waiters.length > pool.creating) pool.waiters.pop()?.(undefined);
      return;
    }
    if (this.closed || slot.key !== pool.key || this.pools.get(pool.template.name) !== pool) {
      await this.discard(slot);
      return;
    }
    const waiter = pool.waiters.shift();
    if (waiter !== undefined) waiter(slot);
    else pool.ready.push(slot);
    this.fill(pool);
  }

  private async create(pool: Pool): Promise<Slot | undefined> {
    const t = pool.template;
    const key = pool.key;
    const slotId = newId('slot', 6);
    const runDir = t.tools ? join(this.opts.runRoot ?? '', slotId) : undefined;
    try {
      // a tools pool's gateway folder: created empty with the container, filled at claim, removed with it
      if (runDir !== undefined) {
        await mkdir(this.opts.runRoot ?? '', { recursive: true, mode: 0o700 });
        await mkdir(runDir, { mode: 0o755 });
        await chmod(runDir, 0o755);
      }
      const warm = await this.opts.engine.warm({
        jobId: slotId,
        imageId: t.imageId,
        ...jobIds(),
        limits: t.limits,
        seccompJson: t.seccompJson,
        isolation: t.isolation,
        ...(runDir !== undefined ? { runDir } : {}),
        labels: { ...this.opts.labels, [LABEL_POOL]: t.name, [LABEL_POOL_KEY]: key },
      });
      pool.failedInARow = 0;
      return { warm, key, createdAtMs: this.opts.clock.now(), runDir };
    } catch (err) {
      pool.failures += 1;
      pool.failedInARow += 1;
      pool.lastError = err instanceof Error ? err.message : String(err);
      pool.retryAtMs = this.opts.clock.now() + backoffMs(pool.failedInARow);
      this.log.warn({ err, pool: t.name }, 'could not make a pooled container; retrying later');
      if (runDir !== undefined) await rm(runDir, { recursive: true, force: true });
      return undefined;
    }
  }

  /** Removes ready containers that died, waited longer than maxIdleMs, or no longer match; then refills. */
  async check(): Promise<void> {
    if (this.checking || this.closed) return;
    this.checking = true;
    try {
      const listedAtMs = this.opts.clock.now();
      let running: ReadonlySet<string> | undefined;
      try {
        running = await this.opts.engine.runningPooled();
      } catch (err) {
        this.log.warn({ err }, 'could not list pooled containers');
      }
      const now = this.opts.clock.now();
      for (const pool of this.pools.values()) {
        const gone = pool.ready.filter((s) => {
          if (now - s.createdAtMs >= this.opts.options.maxIdleMs) return true;
          // made after the list was taken: not in it yet
          return running !== undefined && s.createdAtMs < listedAtMs && !running.has(s.warm.containerId);
        });
        this.drain(pool, gone);
        this.fill(pool);
      }
    } finally {
      this.checking = false;
    }
  }

  /** Takes `slots` out of the pool's ready list and removes them. */
  private drain(pool: Pool, slots: readonly Slot[]): void {
    for (const s of slots) {
      const i = pool.ready.indexOf(s);
      if (i !== -1) pool.ready.splice(i, 1);
      this.log.info({ pool: pool.template.name, containerId: s.warm.containerId }, 'replacing a pooled container');
      const removal = this.discard(s).finally(() => this.making.delete(removal));
      this.making.add(removal);
    }
  }

  private async discard(slot: Slot): Promise<void> {
    await slot.warm.remove();
    if (slot.runDir !== undefined) await rm(slot.runDir, { recursive: true, force: true });
  }
}

/**
 * A claimed container as the port's first stage: start() hands back the running container;
 * remove() also removes its gateway folder, then lets the pool make its replacement (`released`).
 */
function claimedSandbox(running: RunningSandbox, slot: Slot, released: () => void): PreparedSandbox {
  let removal: Promise<void> | undefined;
  const remove = () =>
    (removal ??= (async () => {
      try {
        await running.remove();
        if (slot.runDir !== undefined) await rm(slot.runDir, { recursive: true, force: true });
      } finally {
        released();
      }
    })());
  return { containerId: running.containerId, spec: running.spec, start: () => Promise.resolve(running), remove };
}
