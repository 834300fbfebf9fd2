/**
 * The worker: takes jobs from BullMQ and runs each in a fresh sandbox. The one place that
 * translates our errors for BullMQ: a retryable AppError is rethrown (BullMQ backs off and
 * retries), anything else — or the last attempt — ends the job as `error` and becomes an
 * UnrecoverableError. A user program that fails is a result, never an exception.
 */
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { hostname } from 'node:os';
import { artifactDigest, type FileArtifactStore } from '../artifacts/index.js';
import type { AuditEvent, AuditStore } from '../audit/index.js';
import { ApiKeyStore, CREDENTIAL_START_SLACK_MS } from '../credentials/index.js';
import { assessRun } from '../monitor/index.js';
import type { LoadedProfile } from '../profiles/index.js';
import { LABEL_JOB, LABEL_WORKER, packFiles, type ContainerRuntime, type SandboxResult } from '../sandbox/index.js';
import { AppError, isAppError, keyRoot, newId, type Clock, type Logger } from '../shared/index.js';
import { codeDigestOf } from './code-digest.js';
import { buildSpec, statusOf } from './build-spec.js';
import { jobFinishAudit, toJobResult, type StoredArtifacts } from './job-result.js';
import type { JobGrants, OpenGrant } from './job-grants.js';
import { KEY_REVOKED_ERROR, RedisJobStore } from './job-store.js';
import type { JobError, JobInput } from './job-types.js';
import { JOBS_QUEUE, type QueuedJobData } from './queue-names.js';
import type { WorkerRegistry } from './worker-registry.js';
import { workerEvent } from './worker-event.js';

export interface JobWorkerOptions {
  /** Blocking connection for BullMQ (maxRetriesPerRequest: null). */
  redis: Redis;
  /** Connection used only for SUBSCRIBE (cancel requests). */
  subscriber: Redis;
  prefix: string;
  /** Must equal the runtime's worker id: containers are labelled with it. */
  workerId: string;
  /** Heartbeats: one registry (and TTL) for this worker's beats, the reaper and the API's /readyz. */
  registry: WorkerRegistry;
  concurrency: number;
  attempts: number;
  lockDurationMs: number;
  stalledIntervalMs: number;
  finishedTtlS: number;
  runtime: ContainerRuntime;
  profiles: ReadonlyMap<string, LoadedProfile>;
  /** Image name → image ID (sha256:…), from <dataDir>/images.json. */
  images: ReadonlyMap<string, string>;
  clock: Clock;
  logger: Logger;
  /** Every job's lifecycle is written here (job.start before the container starts, job.finish after). */
  audit: AuditStore;
  /** Where collected artifacts go (content-addressed; the API serves them from here). */
  artifacts: FileArtifactStore;
  /** Credentials and gateways for jobs granted tools (absent: this worker serves no tools). */
  grants?: JobGrants;
  /** Extra labels on every container (tests use this to find theirs). */
  labels?: Record<string, string>;
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${newId('w', 4).slice(2)}`;
}

export class JobWorker {
  readonly workerId: string;
  private readonly store: RedisJobStore;
  /** Read-only use: a job's key is looked at once more just before its container starts. */
  private readonly keys: ApiKeyStore;
  private readonly registry: WorkerRegistry;
  private readonly running = new Map<string, AbortController>();
  private worker: Worker<QueuedJobData> | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private readonly startedAt: string;
  private readonly log: Logger;

  constructor(private readonly opts: JobWorkerOptions) {
    this.workerId = opts.workerId;
    this.store = new RedisJobStore(opts.redis, opts.prefix, opts.finishedTtlS);
    this.keys = new ApiKeyStore(opts.redis, opts.prefix, opts.clock);
    this.registry = opts.registry;
    this.startedAt = new Date(opts.clock.now()).toISOString();
    this.log = opts.logger.child({ workerId: this.workerId });
  }

  async start(): Promise<void> {
    await this.heartbeat();
    await this.registry.publishImages(this.opts.images);
    // containers left by a dead worker (or by this worker id's previous life) are orphans
    const reaped = await this.reapOrphans(true);
    if (reaped > 0) this.log.warn({ reaped }, 'removed orphaned sandbox containers');

    await this.opts.subscriber.subscribe(this.store.cancelChannel);
    this.opts.subscriber.on('message', (channel: string, jobId: string) => {
      if (channel === this.store.cancelChannel) this.running.get(jobId)?.abort();
    });

    this.worker = new Worker<QueuedJobData>(JOBS_QUEUE, (job) => this.process(job), {
      connection: this.opts.redis,
      prefix: keyRoot(this.opts.prefix),
      concurrency: this.opts.concurrency,
      lockDuration: this.opts.lockDurationMs,
      stalledInterval: this.opts.stalledIntervalMs,
      maxStalledCount: 1,
      autorun: true,
    });
    // a job BullMQ gives up on (stalled too often) must still end as `error` in our record
    this.worker.on('failed', (job, err) => {
      if (job === undefined) return;
      // BullMQ emits `failed` on every attempt; only a job it has given up on ends here
      if (job.attemptsMade < (job.opts.attempts ?? 1) && !/stall/i.test(err.message)) return;
      this.endAsError(job.data.jobId, {
        code: 'INTERNAL',
        message: err.message,
      }).catch((e: unknown) => this.log.error({ err: e }, 'could not record failure'));
    });
    this.worker.on('error', (err) => this.log.error({ err }, 'worker error'));
    this.beatTimer = setInterval(
      () => {
        this.heartbeat()
          .then(() => this.reapOrphans(false))
          .catch((err: unknown) => this.log.warn({ err }, 'heartbeat failed'));
      },
      Math.max(500, Math.floor(this.opts.lockDurationMs / 3)),
    );
    this.beatTimer.unref();
  }

  private async heartbeat(): Promise<void> {
    let engineOk = true;
    try {
      await this.opts.runtime.ping();
    } catch {
      engineOk = false;
    }
    await this.registry.beat({
      workerId: this.workerId,
      startedAt: this.startedAt,
      at: new Date(this.opts.clock.now()).toISOString(),
      engineOk,
    });
  }

  /** Removes managed containers whose worker is gone (and, at start-up, this worker id's own leftovers). */
  private reapOrphans(includeOwn: boolean): Promise<number> {
    return this.opts.runtime.reap(async (labels) => {
      const owner = labels[LABEL_WORKER];
      if (owner === undefined) return true;
      if (owner === this.workerId) return includeOwn;
      return !(await this.registry.isAlive(owner));
    });
  }

  private async process(job: Job<QueuedJobData>): Promise<void> {
    const jobId = job.data.jobId;
    const log = this.log.child({ jobId, attempt: job.attemptsMade + 1 });
    const abort = new AbortController();
    this.running.set(jobId, abort);
    let ownerKeyId: string | undefined;
    try {
      // the compare-and-set refuses a record that was cancelled, finished or expired meanwhile,
      // and cancels one whose API key is revoked or missing (read in the same script)
      const started = await this.store.start(jobId, this.workerId, new Date(this.opts.clock.now()).toISOString());
      if (started.refused !== undefined) {
        await this.auditKeyRefusal(jobId, started.refused, 'start');
        return;
      }
      if (!started.applied) return;
      // the record as the start left it (a cancel that landed before set cancelRequested), and the input: one round trip
      const rec = started.record;
      if (rec === undefined) return;
      ownerKeyId = rec.ownerKeyId;
      if (rec.cancelRequested) abort.abort();
      // a previous attempt's container (worker crashed mid-job) must not outlive it; containers
      // are created only after start() counted the run, so a first run has none to look for
      if (started.attempts > 1) await this.opts.runtime.reap((labels) => labels[LABEL_JOB] === jobId);

      const input = started.input;
      if (input === undefined) throw new AppError('INTERNAL', `job ${jobId} has no stored input`);
      const profile = this.opts.profiles.get(input.profile);
      if (profile === undefined) throw new AppError('PROFILE_NOT_FOUND', `profile ${input.profile} is not configured on this worker`);
      const imageId = this.opts.images.get(profile.profile.image);
      if (imageId === undefined) throw new AppError('IMAGE_MISSING', `no built image for ${profile.profile.image} (run: npm run setup)`, { retryable: true });
      if (abort.signal.aborted) {
        await this.store.finish(jobId, 'killed', {
          finishedAt: new Date(this.opts.clock.now()).toISOString(),
        });
        return;
      }
      const codeDigest = codeDigestOf(input);
      const grant = await this.openGrant(jobId, rec.ownerKeyId, input, started.attempts);
      try {
        await this.runAndFinish(jobId, rec.ownerKeyId, input, profile, imageId, codeDigest, started.attempts, abort, log, grant);
      } finally {
        await grant?.close();
      }
    } catch (err) {
      // the key was revoked after the start: the credential mint or the last look refused it, nothing ran
      if (isAppError(err) && err.code === 'KEY_REVOKED' && ownerKeyId !== undefined) await this.cancelForKey(jobId, log);
      else await this.onError(job, err, log);
    } finally {
      this.running.delete(jobId);
    }
  }

  /** A job granted tools gets its credential and gateway here; any earlier attempt's credential dies first. */
  private async openGrant(jobId: string, keyId: string, input: JobInput, attempt: number): Promise<OpenGrant | undefined> {
    const tools = input.tools ?? [];
    // a job's tools never change between attempts: only a job with tools ever had a credential
    if (tools.length === 0) return undefined;
    if (this.opts.grants === undefined) throw new AppError('CONFIG_INVALID', 'this worker has no tools configured (AIRLOCK_TOOLS_FILE)');
    // like containers, credentials are minted only after start() counted the run
    if (attempt > 1) await this.opts.grants.revokeJob(jobId);
    // the credential dies at the job's deadline (+ grace) even if nobody revokes it
    const deadlineMs = this.opts.clock.now() + input.limits.timeoutMs + CREDENTIAL_START_SLACK_MS;
    return this.opts.grants.open({
      jobId,
      keyId,
      profile: input.profile,
      tools,
      deadlineMs,
      attempt,
    });
  }

  private async runAndFinish(
    jobId: string,
    ownerKeyId: string,
    input: JobInput,
    profile: LoadedProfile,
    imageId: string,
    codeDigest: string,
    attempt: number,
    abort: AbortController,
    log: Logger,
    grant: OpenGrant | undefined,
  ): Promise<void> {
    const result = await this.opts.runtime.run(buildSpec(jobId, input, profile, imageId, this.opts.labels, grant?.dir), {
      signal: abort.signal,
      // recorded before the container starts: a job that cannot be audited never runs
      onCreated: async (containerId) => {
        // the last look at the key before the program runs: a revocation since the start wins
        const keyState = await this.keys.state(ownerKeyId);
        if (keyState !== 'active') throw new AppError('KEY_REVOKED', `job ${jobId}: its API key ${ownerKeyId} is ${keyState}`);
        await this.opts.audit.append(
          workerEvent(this.workerId, 'job.start', jobId, {
            request: {
              method: 'RUN',
              route: profile.profile.name,
              codeDigest,
            },
            details: {
              attempt,
              containerId,
              ...(grant ? { credentialJti: grant.jti, tools: input.tools } : {}),
              imageDigest: imageId,
              profileDigest: profile.digest,
              seccompDigest: profile.seccompDigest,
            },
          }),
        );
      },
    });
    const status = statusOf(result);
    const stored = await this.storeArtifacts(result);
    const findings = await assessRun({
      outcome: result.outcome,
      ...(result.violation !== undefined ? { violation: result.violation } : {}),
      stdoutTruncated: result.stdoutTruncated,
      stderrTruncated: result.stderrTruncated,
      artifactPaths: stored.entries.map((e) => e.path),
      artifactsRejected: result.artifactsRejected.length,
      ...(input.patch !== undefined ? { patch: input.patch } : {}),
      ...(result.patchMessage !== undefined ? { patchMessage: result.patchMessage } : {}),
    });
    const jobResult = toJobResult(result, profile, imageId, stored, codeDigest, findings);
    // the record of what ran is written before the result becomes visible
    await this.appendFinish(workerEvent(this.workerId, 'job.finish', jobId, jobFinishAudit(status, jobResult, result)));
    await this.store.finish(jobId, status, {
      result: jobResult,
      finishedAt: result.finishedAt,
    });
    log.info(
      {
        status,
        exitCode: result.exitCode,
        durationMs: result.durationMs,
        containerId: result.containerId,
      },
      'job finished',
    );
  }

  /** A started job whose key was revoked before its program ran: running → cancelled (KEY_REVOKED), audited. */
  private async cancelForKey(jobId: string, log: Logger): Promise<void> {
    const r = await this.store.transition(jobId, ['running'], 'cancelled', { finishedAt: new Date(this.opts.clock.now()).toISOString(), error: JSON.stringify(KEY_REVOKED_ERROR) });
    log.warn({ applied: r.applied }, 'API key revoked before the job ran; cancelled');
    if (r.applied) await this.auditKeyRefusal(jobId, 'revoked', 'before the container started');
  }

  /** One job.cancel record by this worker for a job it refused to run because of its key. */
  private async auditKeyRefusal(jobId: string, state: 'revoked' | 'missing', when: string): Promise<void> {
    await this.opts.audit
      .append(
        workerEvent(this.workerId, 'job.cancel', jobId, {
          outcome: { result: 'cancelled', error: KEY_REVOKED_ERROR.code },
          details: { reason: state === 'missing' ? 'key missing' : 'key revoked', at: when },
        }),
      )
      .catch((err: unknown) => this.log.error({ err, jobId }, 'could not audit a job refused for its key'));
  }

  private async onError(job: Job<QueuedJobData>, err: unknown, log: Logger): Promise<never> {
    const jobId = job.data.jobId;
    const appErr = isAppError(err)
      ? err
      : new AppError('INTERNAL', (err as Error)?.message ?? String(err), {
          cause: err,
        });
    const error: JobError = { code: appErr.code, message: appErr.message };
    const lastAttempt = job.attemptsMade + 1 >= this.opts.attempts;
    if (appErr.retryable && !lastAttempt) {
      log.warn({ err: appErr }, 'infrastructure failure; will retry');
      await this.store.requeue(jobId, error).catch(() => undefined);
      throw appErr;
    }
    log.error({ err: appErr }, 'job ended in error');
    await this.endAsError(jobId, error);
    throw new UnrecoverableError(appErr.message);
  }

  private async endAsError(jobId: string, error: JobError): Promise<void> {
    const r = await this.store.finish(jobId, 'error', {
      error,
      finishedAt: new Date(this.opts.clock.now()).toISOString(),
    });
    if (r.applied) {
      await this.appendFinish(
        workerEvent(this.workerId, 'job.finish', jobId, {
          outcome: {
            result: 'error',
            error: `${error.code}: ${error.message}`,
          },
        }),
      ).catch((err: unknown) => this.log.error({ err, jobId }, 'could not audit the end of a failed job'));
    }
  }

  /** Content-addressed copies of each artifact and of a tar of all of them. */
  private async storeArtifacts(result: SandboxResult): Promise<StoredArtifacts> {
    if (result.artifacts.length === 0) return { entries: [], digest: null, tarSha256: null };
    try {
      for (const a of result.artifacts) await this.opts.artifacts.put(a.content);
      const tarSha256 = await this.opts.artifacts.put(await packFiles(result.artifacts));
      const entries = result.artifacts.map((a) => ({
        path: a.path,
        bytes: a.bytes,
        sha256: a.sha256,
      }));
      return { entries, digest: artifactDigest(entries), tarSha256 };
    } catch (err) {
      // not retryable: a retry would run the program again
      throw new AppError('INTERNAL', `could not store artifacts: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * job.finish is retried a few times: failing it as retryable would run the program again.
   * If it still fails, the job ends as `error` (unrecoverable) and its result is withheld.
   */
  private async appendFinish(event: AuditEvent): Promise<void> {
    let last: unknown;
    for (let i = 0; i < 3; i++) {
      try {
        await this.opts.audit.append(event);
        return;
      } catch (err) {
        last = err;
        await new Promise((r) => setTimeout(r, 200 * (i + 1)));
      }
    }
    throw new AppError('AUDIT_UNAVAILABLE', 'the job ran but its end could not be audited; the result is withheld', { retryable: false, cause: last });
  }

  /** Graceful drain: stop taking jobs, let running ones finish, then leave. */
  async close(): Promise<void> {
    clearInterval(this.beatTimer);
    await this.worker?.close();
    await this.opts.subscriber.unsubscribe(this.store.cancelChannel).catch(() => undefined);
    await this.registry.remove(this.workerId).catch(() => undefined);
  }

  /** Hard stop (tests): abandon jobs as a crash would, without draining. */
  async closeNow(): Promise<void> {
    clearInterval(this.beatTimer);
    for (const a of this.running.values()) a.abort();
    await this.worker?.close(true);
  }
}
