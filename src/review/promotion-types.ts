/**
 * A promotion's life: requested → pending_review → approved → promoted, or rejected, expired,
 * failed (apply failed; an admin may retry), superseded (a newer request of the same lineage
 * and target). Each stage change is one compare-and-set in Redis and one audit record.
 */
import type { Finding } from '../monitor/index.js';
import type { JobSnapshot } from './promotable-job.js';

export const PROMOTION_STATES = ['pending_review', 'approved', 'promoted', 'rejected', 'expired', 'failed', 'superseded'] as const;
export type PromotionState = (typeof PROMOTION_STATES)[number];
/** States a promotion never leaves (failed is left only by an admin's retry). */
export const FINAL_STATES: ReadonlySet<PromotionState> = new Set(['promoted', 'rejected', 'expired', 'superseded']);

export const GROUP_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Who acted: the key, and the principal (owner) behind it. Two keys of one owner are one principal. */
export interface PrincipalRef {
  readonly keyId: string;
  readonly principal: string;
}

/** A key as review sees it (from the API's authentication). */
export interface ReviewerKey extends PrincipalRef {
  readonly role: 'agent' | 'reviewer' | 'admin' | 'service';
  readonly groups: readonly string[];
}

/** What a promotion needs before it is applied. */
export interface Requirement {
  /** Distinct approving principals needed (0: automatic). */
  readonly approvals: number;
  /** Reviewers of these groups may decide. */
  readonly groups: readonly string[];
  /** When set, at least one approval must come from this group (high-risk results: the security group). */
  readonly requireGroup: string | null;
  /** Why: `automatic`, `policy`, or `high_risk` (automatic target refused for a risky result). */
  readonly basis: 'automatic' | 'policy' | 'high_risk';
}

/** What the reviewer is shown about the job: derived from the job result's schema in promotable-job.ts. */
export type { JobSnapshot } from './promotable-job.js';

export interface Decision extends PrincipalRef {
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
  readonly artifactDigest: string;
  readonly groups: readonly string[];
  readonly at: string;
}

export interface HistoryEntry {
  /** 1, 2, …: the promotion's own sequence. */
  readonly n: number;
  readonly at: string;
  readonly from: PromotionState | null;
  readonly to: PromotionState;
  readonly actor: PrincipalRef | { readonly system: string };
  readonly reason: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface Promotion {
  readonly id: string;
  readonly state: PromotionState;
  readonly jobId: string;
  readonly target: string;
  readonly targetType: string;
  /** The digest reviewers approve: the job's artifactDigest, or sha256 of its patch when it had no artifacts. */
  readonly artifactDigest: string;
  readonly artifactKind: 'artifacts' | 'patch';
  readonly codeDigest: string;
  readonly profileDigest: string;
  readonly policy: { readonly version: string; readonly digest: string };
  readonly requester: PrincipalRef;
  /** Who submitted the job: never allowed to approve it. */
  readonly submitter: PrincipalRef;
  readonly lineage: string;
  readonly note: string;
  readonly risk: 'none' | 'low' | 'medium' | 'high';
  readonly findings: readonly Finding[];
  readonly requirement: Requirement;
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly escalateAt: string | null;
  readonly escalatedAt: string | null;
  readonly escalationGroup: string | null;
  readonly updatedAt: string;
  readonly snapshot: JobSnapshot;
  readonly decisions: readonly Decision[];
  readonly history: readonly HistoryEntry[];
  /** Set once promoted: where it landed. */
  readonly outcome: { readonly location: string; readonly details?: Readonly<Record<string, unknown>> } | null;
  /** Set when failed: why. */
  readonly failure: string | null;
}

export interface DecisionBody {
  readonly decision: 'approve' | 'reject';
  readonly reason: string;
  readonly artifactDigest: string;
}

export interface DecisionResult {
  readonly promotion: Promotion;
  /** Whether it counted: recorded | approved | rejected (the store's outcome). */
  readonly outcome: string;
  readonly approvals: number;
}

export function isPromotionState(s: string): s is PromotionState {
  return (PROMOTION_STATES as readonly string[]).includes(s);
}
