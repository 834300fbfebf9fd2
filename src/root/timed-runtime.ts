/**
 * The worker's engine as the worker sees it, with each cold sandbox's start timed for the
 * metrics (create → running). Pooled sandboxes are started ahead by the pool, which keeps the
 * undecorated engine; everything else is passed through unchanged.
 */
import type { ContainerRuntime, PreparedSandbox, SandboxSpec } from '../sandbox/index.js';
import type { Metrics } from '../shared/index.js';

export class TimedRuntime implements ContainerRuntime {
  constructor(
    private readonly engine: ContainerRuntime,
    private readonly metrics: Metrics,
  ) {}

  async create(spec: SandboxSpec): Promise<PreparedSandbox> {
    const from = performance.now();
    const prepared = await this.engine.create(spec);
    const metrics = this.metrics;
    return {
      containerId: prepared.containerId,
      spec: prepared.spec,
      remove: () => prepared.remove(),
      async start() {
        const running = await prepared.start();
        metrics.sandboxStarted(performance.now() - from);
        return running;
      },
    };
  }

  ping(): Promise<void> {
    return this.engine.ping();
  }
  isolations(): ReturnType<ContainerRuntime['isolations']> {
    return this.engine.isolations();
  }
  assertImage(imageId: string): Promise<void> {
    return this.engine.assertImage(imageId);
  }
  reap(shouldRemove: Parameters<ContainerRuntime['reap']>[0]): Promise<number> {
    return this.engine.reap(shouldRemove);
  }
  listManaged(labelFilter?: Readonly<Record<string, string>>): ReturnType<ContainerRuntime['listManaged']> {
    return this.engine.listManaged(labelFilter);
  }
}
