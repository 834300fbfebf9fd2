/**
 * The REST API's bodies as this client sees them on the wire. The server's schemas live in modules
 * the client may not import (it carries only shared's vocabulary), so test/client-types.test.ts
 * assigns the server's own views to these types: a field renamed or retyped there fails to compile.
 */

import { isTerminal, JOB_STATUSES, type JobStatus, type TerminalStatus } from '../shared/job-statuses.js';

// the client's names for the shared list
export const JOB_STATES = JOB_STATUSES;
export type JobState = JobStatus;
export type FinalJobState = TerminalStatus;
export const isFinalJobState: (s: JobState) => s is FinalJobState = isTerminal;

export interface FileInput {
  readonly path: string;
  readonly content: string;
  readonly encoding?: 'utf8' | 'base64';
}

/** POST /v1/jobs */
export interface JobRequest {
  readonly runtime?: 'python' | 'node' | 'shell';
  readonly profile?: string;
  readonly files?: readonly FileInput[];
  /** A string runs under /bin/sh -c; an array is argv. */
  readonly command?: string | readonly string[];
  readonly stdin?: string;
  /** A unified diff applied with `patch -p1` before the command. */
  readonly patch?: string;
  /** base64 tar.gz of a tree, expanded before `files`. */
  readonly archive?: string;
  /** Globs under the work dir collected as artifacts. */
  readonly outputs?: readonly string[];
  readonly tools?: readonly string[];
  readonly lineage?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly limits?: Readonly<Record<string, number>>;
}

export interface ArtifactRef {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

export interface FindingView {
  readonly kind: string;
  readonly severity: string;
  readonly message: string;
  readonly detector?: string | undefined;
  readonly class?: string | undefined;
}

/** GET /v1/jobs/:id (the result's fields are present once the job ran). */
export interface JobView {
  readonly id: string;
  readonly status: JobState;
  readonly statusUrl: string;
  readonly profile: string;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly attempts: number;
  readonly cancelRequested: boolean;
  readonly exitCode?: number | null;
  readonly stdout?: string;
  readonly stdoutEncoding?: 'utf8' | 'base64';
  readonly stderr?: string;
  readonly stderrEncoding?: 'utf8' | 'base64';
  readonly stdoutBytes?: number;
  readonly stderrBytes?: number;
  readonly stdoutTruncated?: boolean;
  readonly stderrTruncated?: boolean;
  readonly durationMs?: number;
  readonly imageDigest?: string;
  readonly profileDigest?: string;
  readonly seccompDigest?: string;
  readonly isolation?: string;
  readonly codeDigest?: string;
  readonly patchMessage?: string | undefined;
  readonly artifacts?: readonly ArtifactRef[];
  readonly artifactDigest?: string | null;
  readonly artifactsRejected?: readonly { readonly path: string; readonly reason: string }[];
  readonly findings?: readonly FindingView[];
  readonly error?: { readonly code: string; readonly message: string };
}

/** GET /v1/jobs/:id/artifacts */
export interface ArtifactList {
  readonly artifacts: readonly ArtifactRef[];
  readonly artifactDigest: string | null;
  readonly artifactsRejected: readonly { readonly path: string; readonly reason: string }[];
}

/**
 * GET /v1/jobs/:id/events (Server-Sent Events), each as the client yields it:
 * - `state`: queued (at the job's creation), running (its container's start; `attempt` counts retries);
 * - `output`: bytes of stdout or stderr in order, `offset` = bytes of that stream before them (per attempt),
 *   within the same caps as the stored result;
 * - `finished`: the job's final view (GET /v1/jobs/:id), the last event.
 * `id` is what Last-Event-ID resumes after (absent on events that are not resumable points).
 */
export type JobEvent =
  | { readonly type: 'state'; readonly id?: string; readonly status: 'queued' | 'running'; readonly at: string; readonly attempt?: number; readonly containerId?: string }
  | { readonly type: 'output'; readonly id: string; readonly stream: 'stdout' | 'stderr'; readonly offset: number; readonly data: Uint8Array; readonly attempt: number }
  | { readonly type: 'finished'; readonly job: JobView };

export interface PrincipalRef {
  readonly keyId: string;
  readonly principal: string;
}

export type PromotionState = 'pending_review' | 'approved' | 'promoted' | 'rejected' | 'expired' | 'failed' | 'superseded';

/** GET /v1/promotions/:id (and what requests and decisions answer with). */
export interface PromotionView {
  readonly id: string;
  readonly state: PromotionState;
  readonly jobId: string;
  readonly target: string;
  readonly targetType: string;
  readonly artifactDigest: string;
  readonly artifactKind: 'artifacts' | 'patch';
  readonly codeDigest: string;
  readonly profileDigest: string;
  readonly requester: PrincipalRef;
  readonly submitter: PrincipalRef;
  readonly lineage: string;
  readonly note: string;
  readonly risk: 'none' | 'low' | 'medium' | 'high';
  readonly findings: readonly FindingView[];
  readonly requirement: { readonly approvals: number; readonly requireGroup: string | null };
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly escalatedAt: string | null;
  readonly updatedAt: string;
  /** What the reviewer saw of the job: command, patch digest, output excerpts, artifacts. */
  readonly snapshot: object;
  readonly decisions: readonly { readonly decision: 'approve' | 'reject'; readonly reason: string; readonly at: string }[];
  readonly history: readonly { readonly n: number; readonly at: string; readonly from: PromotionState | null; readonly to: PromotionState; readonly reason: string }[];
  readonly outcome: { readonly location: string; readonly details?: Readonly<Record<string, unknown>> | undefined } | null;
  readonly failure: string | null;
  readonly url: string;
}

/** GET /v1/promotions (each summary). */
export interface PromotionSummary {
  readonly id: string;
  readonly state: PromotionState;
  readonly jobId: string;
  readonly target: string;
  readonly artifactDigest: string;
  readonly risk: string;
  readonly requester: PrincipalRef;
  readonly approvals: number;
  readonly approvalsNeeded: number;
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly escalatedAt: string | null;
  readonly updatedAt: string;
  readonly url: string;
}

export interface PromotionQuery {
  readonly state?: PromotionState;
  readonly target?: string;
  readonly jobId?: string;
  readonly limit?: number;
}

export interface DecisionRequest {
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
  /** The digest the reviewer saw: a mismatch is refused (DIGEST_MISMATCH). */
  readonly artifactDigest: string;
}

export interface DecisionAnswer {
  readonly decision: { readonly outcome: string; readonly approvals: number } & Readonly<Record<string, unknown>>;
  readonly promotion: PromotionView;
}

/** GET /v1/profiles (each profile). */
export interface ProfileView {
  readonly name: string;
  readonly description: string;
  readonly image: string;
  readonly command: readonly string[];
  readonly network: string;
  readonly isolation: string;
  readonly available: boolean;
  readonly limits: Readonly<Record<string, number>>;
  readonly allow: Readonly<Record<string, boolean>>;
  readonly digest: string;
  readonly seccompDigest: string;
}

/** One audit record as the audit routes return it. */
export interface AuditRecordView {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly actor: Readonly<Record<string, unknown>>;
  readonly target?: string | null | undefined;
  readonly outcome?: Readonly<Record<string, unknown>> | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly [field: string]: unknown;
}

export interface AuditPage {
  readonly records: readonly AuditRecordView[];
  readonly nextCursor?: string | null | undefined;
  readonly [field: string]: unknown;
}

export interface ApiKeyView {
  readonly id: string;
  readonly role: 'agent' | 'reviewer' | 'admin' | 'service';
  readonly name: string;
  readonly owner: string;
  readonly groups: readonly string[];
  readonly createdAt: string;
  readonly revokedAt?: string | null | undefined;
  readonly [field: string]: unknown;
}

export interface NewKeyRequest {
  readonly role: ApiKeyView['role'];
  readonly name?: string;
  readonly owner?: string;
  readonly profiles?: readonly string[];
  readonly tools?: readonly string[];
  readonly groups?: readonly string[];
}
