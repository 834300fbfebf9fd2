import type { Limits } from '../profiles/index.js';
import type { JobStatus } from '../shared/job-statuses.js';
import type { JobResult } from './job-result.js';

/** The result's shape is JobResultSchema's (job-result.ts). */
export type { JobResult } from './job-result.js';

export { isTerminal, JOB_STATUSES, type JobStatus, type TerminalStatus } from '../shared/job-statuses.js';

export interface JobFileInput {
  readonly path: string;
  readonly content: string;
  readonly encoding: 'utf8' | 'base64';
  readonly executable?: boolean;
}

/** A validated submission, as the worker needs it. Holds code and inputs, never a secret. */
export interface JobInput {
  readonly profile: string;
  readonly argv: readonly string[];
  readonly files: readonly JobFileInput[];
  readonly stdin: string;
  readonly patch?: string;
  /** Globs under the work dir collected as artifacts after the command. */
  readonly outputs?: readonly string[];
  /** Tools granted to this job (profile ∩ key ∩ request): it gets a credential and a gateway socket. */
  readonly tools?: readonly string[];
  /** A line of work (PR, branch) for promotions: a newer request of one lineage and target supersedes older ones. */
  readonly lineage?: string;
  readonly env: Readonly<Record<string, string>>;
  readonly limits: Limits;
}

export interface JobError {
  readonly code: string;
  readonly message: string;
}

/** What GET /v1/jobs/:id shows (plus the owner, which the API never returns). */
export interface JobRecord {
  readonly id: string;
  readonly status: JobStatus;
  readonly ownerKeyId: string;
  readonly profile: string;
  readonly createdAt: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly attempts: number;
  readonly workerId?: string;
  readonly cancelRequested: boolean;
  readonly result?: JobResult;
  readonly error?: JobError;
}
