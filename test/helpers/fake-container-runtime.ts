/**
 * The ContainerRuntime port in memory, scriptable per stage, so the worker's decision logic runs
 * in milliseconds with the real Redis and BullMQ (beside, never instead of, the real-engine
 * suites). It keeps the port's contract: a failed stage removes what it made, `exec` ends with
 * the sandbox removed, `remove()` is idempotent, a sandbox runs one job. Files a script says the
 * program left are collected by the real collector (collectFromTar) against the run's outputs.
 */
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import {
  LABEL_JOB,
  LABEL_WORKER,
  collectFromTar,
  type ContainerRuntime,
  type PreparedSandbox,
  type RunningSandbox,
  type SandboxIsolation,
  type SandboxResult,
  type SandboxRun,
  type SandboxSpec,
} from '../../src/sandbox/index.js';

type Hook = (spec: SandboxSpec) => void | Promise<void>;

/** What exec does: a result (fields over an `exited 0` default), `hang` until the run is aborted (outcome killed), `freeze` until release(), or a function. */
export type ExecScript = Partial<SandboxResult> | 'hang' | 'freeze' | ((spec: SandboxSpec, run: SandboxRun) => Partial<SandboxResult> | Promise<Partial<SandboxResult>>);

export interface FakeScript {
  /** Runs at create before the sandbox exists; a throw is a failed create (nothing is made). */
  readonly create?: Hook;
  /** Runs at start; a throw is a failed start (the sandbox is removed, as the Docker adapter does). */
  readonly start?: Hook;
  readonly exec?: ExecScript;
  /** Files the program left in /work (path → content), collected against the run's outputs. */
  readonly files?: Readonly<Record<string, string>>;
}

export type Stage = 'create' | 'start' | 'exec' | 'remove';

interface Live {
  readonly id: string;
  readonly labels: Record<string, string>;
}

export class FakeContainerRuntime implements ContainerRuntime {
  /** Every stage reached, in order. */
  readonly calls: { readonly stage: Stage; readonly jobId: string; readonly containerId: string }[] = [];
  /** The script for a job's nth sandbox (n counts from 0 per job id). */
  plan: (spec: SandboxSpec, n: number) => FakeScript = () => ({});
  private readonly live = new Map<string, Live>();
  private readonly createdPerJob = new Map<string, number>();
  private readonly frozen = new Set<() => void>();
  private nextId = 0;

  constructor(private readonly workerId = 'w-fake') {}

  /** Job ids that reached a stage. */
  jobsAt(stage: Stage): string[] {
    return this.calls.filter((c) => c.stage === stage).map((c) => c.jobId);
  }

  /** Sandboxes created and not removed (a leak, after a job ended). */
  leftovers(): string[] {
    return [...this.live.keys()];
  }

  /** Lets every frozen exec go (it then fails, as a worker that died would never report). */
  release(): void {
    for (const r of this.frozen) r();
    this.frozen.clear();
  }

  async create(spec: SandboxSpec): Promise<PreparedSandbox> {
    const n = this.createdPerJob.get(spec.jobId) ?? 0;
    this.createdPerJob.set(spec.jobId, n + 1);
    const script = this.plan(spec, n);
    await script.create?.(spec);
    const id = `fake-${spec.jobId}-${this.nextId++}`;
    this.live.set(id, { id, labels: { ...spec.labels, [LABEL_JOB]: spec.jobId, [LABEL_WORKER]: this.workerId } });
    this.calls.push({ stage: 'create', jobId: spec.jobId, containerId: id });
    return new FakeSandbox(this, id, spec, script).prepared();
  }

  async ping(): Promise<void> {}
  /** A fake runs any tier: what a tier does is the real engine's to show (test/*.docker.test.ts). */
  isolations(): Promise<readonly SandboxIsolation[]> {
    return Promise.resolve(['container', 'gvisor']);
  }
  async assertImage(): Promise<void> {}

  async reap(shouldRemove: (labels: Readonly<Record<string, string>>) => boolean | Promise<boolean>): Promise<number> {
    let n = 0;
    for (const c of [...this.live.values()]) {
      if (await shouldRemove(c.labels)) {
        this.live.delete(c.id);
        n += 1;
      }
    }
    return n;
  }

  listManaged(): Promise<{ id: string; labels: Record<string, string> }[]> {
    return Promise.resolve([...this.live.values()].map((c) => ({ id: c.id, labels: { ...c.labels } })));
  }

  /** @internal */
  record(stage: Stage, jobId: string, containerId: string): void {
    this.calls.push({ stage, jobId, containerId });
  }

  /** @internal */
  drop(containerId: string): void {
    this.live.delete(containerId);
  }

  /** @internal */
  freeze(): Promise<never> {
    return new Promise((_, reject) => this.frozen.add(() => reject(new Error('released: the frozen run never reports'))));
  }
}

class FakeSandbox {
  private state: 'created' | 'started' | 'used' = 'created';
  private removed = false;

  constructor(
    private readonly rt: FakeContainerRuntime,
    private readonly id: string,
    private readonly spec: SandboxSpec,
    private readonly script: FakeScript,
  ) {}

  prepared(): PreparedSandbox {
    return { containerId: this.id, spec: this.spec, start: () => this.start(), remove: () => this.remove() };
  }

  private async start(): Promise<RunningSandbox> {
    if (this.state !== 'created' || this.removed) throw new Error('fake: start on a sandbox that is not freshly created');
    this.state = 'started';
    try {
      await this.script.start?.(this.spec);
    } catch (err) {
      await this.remove();
      throw err;
    }
    this.rt.record('start', this.spec.jobId, this.id);
    return { containerId: this.id, spec: this.spec, exec: (run) => this.exec(run), remove: () => this.remove() };
  }

  private async exec(run: SandboxRun): Promise<SandboxResult> {
    if (this.state !== 'started' || this.removed) throw new Error('fake: exec on a sandbox that is not started, or a second exec');
    this.state = 'used';
    this.rt.record('exec', this.spec.jobId, this.id);
    try {
      return await this.outcome(run);
    } finally {
      await this.remove();
    }
  }

  private async outcome(run: SandboxRun): Promise<SandboxResult> {
    const exec = this.script.exec ?? {};
    if (exec === 'freeze') return this.rt.freeze();
    if (exec === 'hang') {
      await untilAborted(run.signal);
      return this.result({ outcome: 'killed', exitCode: null, stdout: Buffer.alloc(0) });
    }
    const over = typeof exec === 'function' ? await exec(this.spec, run) : exec;
    const collected = await collect(this.script.files, run);
    return this.result({ ...collected, ...over });
  }

  private result(over: Partial<SandboxResult>): SandboxResult {
    const now = new Date().toISOString();
    const stdout = over.stdout ?? Buffer.from('ok\n');
    const stderr = over.stderr ?? Buffer.alloc(0);
    return {
      outcome: 'exited',
      exitCode: 0,
      stdoutBytes: stdout.length,
      stderrBytes: stderr.length,
      stdoutTruncated: false,
      stderrTruncated: false,
      durationMs: 1,
      containerId: this.id,
      startedAt: now,
      finishedAt: now,
      artifacts: [],
      artifactsRejected: [],
      ...over,
      stdout,
      stderr,
    };
  }

  remove(): Promise<void> {
    if (!this.removed) {
      this.removed = true;
      this.rt.drop(this.id);
      this.rt.record('remove', this.spec.jobId, this.id);
    }
    return Promise.resolve();
  }
}

function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return new Promise(() => undefined);
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

/** The files as the in-sandbox collector would stream them (a tar), through the real parser. */
async function collect(files: Readonly<Record<string, string>> | undefined, run: SandboxRun): Promise<Partial<SandboxResult>> {
  if (files === undefined || (run.outputs?.length ?? 0) === 0) return {};
  const tar = pack();
  for (const [path, content] of Object.entries(files)) tar.entry({ name: `./${path}`, mode: 0o644, type: 'file' }, Buffer.from(content));
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const c of tar as unknown as AsyncIterable<Buffer>) chunks.push(c);
  const got = await collectFromTar(Readable.from([Buffer.concat(chunks)]), run.outputs ?? [], run.limits);
  return { artifacts: got.artifacts, artifactsRejected: got.rejected, ...(got.tar !== undefined ? { artifactsTar: got.tar } : {}) };
}
