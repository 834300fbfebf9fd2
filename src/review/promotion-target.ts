/**
 * The port every staging target implements. The promotion service hands a target the
 * artifact set it has just re-read from the store and re-checked against the approved
 * digest; a target never reads the store itself.
 */

/** One artifact, its bytes already checked against `sha256`. */
export interface PromotedFile {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly content: Buffer;
}

export interface PromotionPrincipal {
  readonly principal: string;
  readonly keyId: string;
}

/** Everything a target may use. `promotionId` is the idempotency key: applying the same id twice must not publish twice. */
export interface PromotionPayload {
  readonly promotionId: string;
  readonly jobId: string;
  readonly target: string;
  /** The digest the reviewers approved (artifactDigest of `files`). */
  readonly artifactDigest: string;
  readonly files: readonly PromotedFile[];
  /** The job's patch (unified diff), when it had one. */
  readonly patch: string | null;
  readonly requester: PromotionPrincipal;
  /** Distinct approving principals, in decision order (empty for an automatic promotion). */
  readonly approvers: readonly PromotionPrincipal[];
  /** Where a receiver can fetch the artifact tar (API route; needs a key that may read promotions). */
  readonly downloadUrl: string | null;
  /** ISO time of the apply. */
  readonly appliedAt: string;
}

/** What a successful apply left behind, recorded on the promotion and in the audit log. */
export interface ApplyOutcome {
  /** Where it landed: a folder, a commit sha, a URL. */
  readonly location: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface StagingTarget {
  readonly name: string;
  readonly type: 'directory' | 'git' | 'webhook';
  /** Publishes the payload. Throws AppError('PROMOTION_APPLY_FAILED', …) when it cannot; nothing partial may stay visible. */
  apply(payload: PromotionPayload): Promise<ApplyOutcome>;
}
