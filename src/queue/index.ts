export { JobProducer, type JobProducerOptions } from './job-producer.js';
export { defaultWorkerId, JobWorker, type JobWorkerOptions } from './job-worker.js';
export { KEY_REVOKED_ERROR, RedisJobStore, type CancelOutcome, type KeyRefusal, type StartOutcome } from './job-store.js';
export { KeyRevocation, type KeyRevocationDeps, type KeyRevocationResult, type RevokeKeyOptions } from './key-revocation.js';
export { JobService, type CancelledJob, type JobServiceDeps } from './job-service.js';
export { KeyService, rotateJobTokenKey, type KeyLimitsView, type KeyServiceDeps, type NewApiKey } from './key-service.js';
export { WorkerRegistry, type WorkerBeat } from './worker-registry.js';
export { JOB_STATUSES, isTerminal, type JobError, type JobFileInput, type JobInput, type JobRecord, type JobStatus, type TerminalStatus } from './job-types.js';
export { JobGrants, type JobGrantsOptions, type OpenGrant } from './job-grants.js';
export { codeDigestOf } from './code-digest.js';
export { poolTemplatesOf } from './build-spec.js';
export { JobEventLog, STREAM_ID as JOB_EVENT_ID, type LoggedJobEvent, type StoredJobEvent } from './job-event-log.js';
export {
  JobResultSchema,
  JobResultViewSchema,
  jobFinishAudit,
  promotableJobOf,
  resultView,
  toJobResult,
  type JobResult,
  type JobResultView,
  type RunTrace,
  type StoredArtifacts,
} from './job-result.js';
