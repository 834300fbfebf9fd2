/**
 * One job, start to finish, over its collaborators (no BullMQ here: job-worker.ts is the
 * adapter). start (compare-and-set, counts the attempt) → claim a pooled sandbox → grants (into
 * the pooled sandbox's gateway folder) → or create a cold sandbox → the last look at the key and
 * job.start (fail-closed: a job that cannot be audited never starts) → start → exec → the
 * credential revoked → store artifacts → findings → job.finish (fail-closed: no record, no
 * result) → finish.
 * A user program that fails is a result; an infrastructure failure is thrown as an AppError
 * for the adapter to retry or end (job-endings.ts). The sandbox is removed whatever happens.
 */
import type { ArtifactStore } from '../artifacts/index.js';
import type { AuditStore } from '../audit/index.js';
import { CREDENTIAL_START_SLACK_MS, type ApiKeyStore } from '../credentials/index.js';
import { assessRun } from '../monitor/index.js';
import { credentialDeadlineMs, type LoadedProfile } from '../profiles/index.js';
import { LABEL_JOB, type ContainerRuntime, type PoolClaim, type SandboxPool, type SandboxResult } from '../sandbox/index.js';
import { AppError, isAppError, type Clock, type Logger } from '../shared/index.js';
import { sandboxRunOf, sandboxSpecOf, sandboxTemplateOf, statusOf } from './build-spec.js';
import { codeDigestOf } from './code-digest.js';
import { appendFinish, auditKeyRefusal, cancelForKey, holdWhileFailing, type EndingDeps } from './job-endings.js';
import type { JobGrants, OpenGrant } from './job-grants.js';
import { jobFinishAudit, toJobResult, type JobResult } from './job-result.js';
import { JobOutputPublisher } from './job-output-publisher.js';
import type { RedisJobStore } from './job-store.js';
import type { JobInput, JobRecord } from './job-types.js';
import { storeArtifacts } from './store-artifacts.js';
import { workerEvent } from './worker-event.js';

export interface RunJobDeps extends EndingDeps {
  readonly store: RedisJobStore;
  readonly runtime: ContainerRuntime;
  /** Sandboxes started ahead of time (absent: every job takes the cold path). */
  readonly pool?: SandboxPool | undefined;
  readonly audit: AuditStore;
  readonly artifacts: ArtifactStore;
  /** Credentials and gateways for jobs granted tools (absent: this worker serves no tools). */
  readonly grants: JobGrants | undefined;
  /** Read only: a job's key is looked at once more just before its container starts. */
  readonly keys: Pick<ApiKeyStore, 'state'>;
  readonly profiles: ReadonlyMap<string, LoadedProfile>;
  /** Image name → image ID (sha256:…). */
  readonly images: ReadonlyMap<string, string>;
  readonly clock: Clock;
  readonly workerId: string;
  readonly logger: Logger;
  /** Extra labels on every container (tests find theirs by them). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

export interface JobRun {
  readonly jobId: string;
  /** Aborted when a cancel for this job arrives (the container is killed: outcome `killed`). */
  readonly signal: AbortSignal;
}

/** A started job with everything its run needs. */
interface Started {
  readonly jobId: string;
  readonly attempt: number;
  readonly record: JobRecord;
  readonly input: JobInput;
  readonly profile: LoadedProfile;
  readonly imageId: string;
  readonly codeDigest: string;
  readonly signal: AbortSignal;
  readonly log: Logger;
}

export async function runJob(deps: RunJobDeps, run: JobRun): Promise<void> {
  const started = await begin(deps, run);
  if (started === undefined) return;
  try {
    // a cancel that landed before the start: nothing is created
    if (run.signal.aborted || started.record.cancelRequested) return await endCancelledBeforeStart(deps, started);
    const claim = await claimSandbox(deps, started);
    try {
      const grant = await openGrant(deps, started, claim.runDir);
      try {
        await runInSandbox(deps, started, grant, claim);
      } finally {
        await grant?.close();
      }
    } finally {
      await claim.sandbox?.remove();
    }
  } catch (err) {
    // the key was revoked after the start: the credential mint or the last look refused it, nothing ran
    if (isAppError(err) && err.code === 'KEY_REVOKED') return await cancelForKey(deps, started.jobId);
    throw err;
  }
}

/** The compare-and-set start and what the run needs; undefined when this job is not (any more) ours to run. */
async function begin(deps: RunJobDeps, run: JobRun): Promise<Started | undefined> {
  const { jobId } = run;
  // refuses a record that was cancelled, finished or expired meanwhile, and cancels one whose
  // API key is revoked or missing (read in the same script)
  const started = await deps.store.start(jobId, deps.workerId, new Date(deps.clock.now()).toISOString());
  if (started.refused !== undefined) {
    await auditKeyRefusal(deps, jobId, started.refused, 'start');
    return undefined;
  }
  // the record as the start left it (a cancel that landed before set cancelRequested) and the input, in the same round trip
  const { record, input } = started;
  if (!started.applied || record === undefined) return undefined;
  // a previous attempt's container (worker crashed mid-job) must not outlive it; containers
  // are created only after start() counted the run, so a first run has none to look for
  if (started.attempts > 1) await deps.runtime.reap((labels) => labels[LABEL_JOB] === jobId);
  if (input === undefined) throw new AppError('INTERNAL', `job ${jobId} has no stored input`);
  const profile = deps.profiles.get(input.profile);
  if (profile === undefined) throw new AppError('PROFILE_NOT_FOUND', `profile ${input.profile} is not configured on this worker`);
  const imageId = deps.images.get(profile.profile.image);
  if (imageId === undefined) throw new AppError('IMAGE_MISSING', `no built image for ${profile.profile.image} (run: npm run setup)`, { retryable: true });
  const log = deps.logger.child({ jobId, attempt: started.attempts });
  return { jobId, attempt: started.attempts, record, input, profile, imageId, codeDigest: codeDigestOf(input), signal: run.signal, log };
}

/** running → killed before anything was created; recorded like any other end. */
async function endCancelledBeforeStart(deps: RunJobDeps, s: Started): Promise<void> {
  const r = await deps.store.finish(s.jobId, 'killed', { finishedAt: new Date(deps.clock.now()).toISOString() });
  s.log.info({ applied: r.applied }, 'cancelled before its sandbox was created');
  if (!r.applied) return;
  await deps.audit
    .append(workerEvent(deps.workerId, 'job.finish', s.jobId, { outcome: { result: 'killed' }, details: { reason: 'cancelled before its sandbox was created' } }))
    .catch((err: unknown) => s.log.error({ err }, 'could not audit the end of a job cancelled before it ran'));
}

/** A sandbox from the pool when one fits the job (a miss, or no pool: the cold path, created after the grant). */
async function claimSandbox(deps: RunJobDeps, s: Started): Promise<PoolClaim> {
  if (deps.pool === undefined) return { sandbox: undefined, waitMs: 0, reason: 'no pool' };
  const tools = (s.input.tools ?? []).length > 0;
  return deps.pool.claim({ jobId: s.jobId, template: sandboxTemplateOf(s.profile, s.imageId, s.input.limits, tools) });
}

/** A job granted tools gets its credential and gateway here (in a pooled sandbox's folder, `into`); any earlier attempt's credential dies first. */
async function openGrant(deps: RunJobDeps, s: Started, into: string | undefined): Promise<OpenGrant | undefined> {
  const tools = s.input.tools ?? [];
  // a job's tools never change between attempts: only a job with tools ever had a credential
  if (tools.length === 0) return undefined;
  if (deps.grants === undefined) throw new AppError('CONFIG_INVALID', 'this worker has no tools configured (AIRLOCK_TOOLS_FILE)');
  // like containers, credentials are minted only after start() counted the run
  if (s.attempt > 1) await deps.grants.revokeJob(s.jobId);
  // the credential dies at the job's deadline (+ grace) even if nobody revokes it: the lifetime the capability matrix states
  const deadlineMs = credentialDeadlineMs(deps.clock.now(), s.input.limits.timeoutMs, { startSlackMs: CREDENTIAL_START_SLACK_MS });
  return deps.grants.open({ jobId: s.jobId, keyId: s.record.ownerKeyId, profile: s.input.profile, tools, deadlineMs, attempt: s.attempt }, into);
}

async function runInSandbox(deps: RunJobDeps, s: Started, grant: OpenGrant | undefined, claim: Pick<PoolClaim, 'sandbox' | 'waitMs'>): Promise<void> {
  const prepared =
    claim.sandbox ??
    (await deps.runtime.create(sandboxSpecOf({ jobId: s.jobId, input: s.input, profile: s.profile, imageId: s.imageId, labels: deps.labels, runDir: grant?.dir })));
  try {
    // recorded before the container starts: a job that cannot be audited never runs
    await recordStart(deps, s, prepared.containerId, grant);
    const running = await prepared.start();
    // live events (GET /v1/jobs/:id/events): the start, then the output as it comes; all of it is logged before the final status
    const live = new JobOutputPublisher(deps.store.eventLog, s.jobId, s.attempt, s.log);
    live.running(prepared.containerId, new Date(deps.clock.now()).toISOString());
    const result = await running.exec(sandboxRunOf(s.input, s.signal, live.onOutput)).finally(() => live.close());
    // the container is gone: its credential dies before its result becomes visible
    await grant?.close();
    await finishWithResult(deps, s, result, { pooled: claim.sandbox !== undefined, waitMs: claim.waitMs });
  } finally {
    await prepared.remove();
  }
}

/** The last look at the key (a revocation since the start wins), then job.start. */
async function recordStart(deps: RunJobDeps, s: Started, containerId: string, grant: OpenGrant | undefined): Promise<void> {
  const keyState = await deps.keys.state(s.record.ownerKeyId);
  if (keyState !== 'active') throw new AppError('KEY_REVOKED', `job ${s.jobId}: its API key ${s.record.ownerKeyId} is ${keyState}`);
  await deps.audit.append(
    workerEvent(deps.workerId, 'job.start', s.jobId, {
      request: { method: 'RUN', route: s.profile.profile.name, codeDigest: s.codeDigest },
      details: {
        attempt: s.attempt,
        // from submission to this start (the operations view and airlock_job_queue_wait_seconds read it)
        queueWaitMs: Math.max(0, deps.clock.now() - Date.parse(s.record.createdAt)),
        containerId,
        ...(grant ? { credentialJti: grant.jti, tools: s.input.tools } : {}),
        imageDigest: s.imageId,
        profileDigest: s.profile.digest,
        seccompDigest: s.profile.seccompDigest,
      },
    }),
  );
}

async function finishWithResult(deps: RunJobDeps, s: Started, result: SandboxResult, sandbox: JobResult['sandbox']): Promise<void> {
  const status = statusOf(result);
  const stored = await storeArtifacts(deps.artifacts, result);
  const findings = await assessRun({
    outcome: result.outcome,
    ...(result.violation !== undefined ? { violation: result.violation } : {}),
    stdoutTruncated: result.stdoutTruncated,
    stderrTruncated: result.stderrTruncated,
    artifactPaths: stored.entries.map((e) => e.path),
    artifactsRejected: result.artifactsRejected.length,
    ...(s.input.patch !== undefined ? { patch: s.input.patch } : {}),
    ...(result.patchMessage !== undefined ? { patchMessage: result.patchMessage } : {}),
    // what the detectors read: what ran, what it left, what the kernel recorded
    input: { argv: s.input.argv, files: s.input.files.map((f) => ({ path: f.path, content: Buffer.from(f.content, f.encoding) })), env: s.input.env },
    stdout: result.stdout,
    stderr: result.stderr,
    artifacts: result.artifacts,
    ...(result.behaviour !== undefined ? { behaviour: result.behaviour } : {}),
  });
  const jobResult: JobResult = { ...toJobResult(result, s.profile, s.imageId, stored, s.codeDigest, findings), sandbox };
  // the record of what ran is written before the result becomes visible
  await appendFinish(deps, workerEvent(deps.workerId, 'job.finish', s.jobId, jobFinishAudit(status, jobResult, result)));
  // held like the append: the run must not be repeated because Redis was away when it ended
  const finished = await holdWhileFailing(deps, () => deps.store.finish(s.jobId, status, { result: jobResult, finishedAt: result.finishedAt }), isRetryable);
  if (!finished.applied) s.log.warn({ status }, 'the finish did not apply (the record had already ended)');
  s.log.info({ status, exitCode: result.exitCode, durationMs: result.durationMs, containerId: result.containerId }, 'job finished');
}

const isRetryable = (err: unknown): boolean => isAppError(err) && err.retryable;
