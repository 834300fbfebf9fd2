/** Public face of review: promotion requests, decisions and quorum, the approval policy, staging targets. */
export { parseApprovalPolicy, requirementFor, NO_PROMOTION_TARGETS, DEFAULT_REVIEW_TIMEOUT_MS, type ApprovalPolicy, type TargetPolicy } from './approval-policy.js';
export { openReview, loadApprovalPolicyFile, type OpenReviewOptions } from './open-review.js';
export { PromotionService } from './promotion-service.js';
export { PromotionStore } from './promotion-store.js';
export { ineligibleReviewer, selfApprovalForbidden } from './review-visibility.js';
export { PATCH_FILE_NAME } from './promotion-applier.js';
export { PromotableResultSchema, JobSnapshotSchema, jobSnapshot, type PromotableJob, type PromotableResult, type JobSnapshot } from './promotable-job.js';
export {
  PROMOTION_STATES,
  FINAL_STATES,
  isPromotionState,
  GROUP_NAME,
  type Promotion,
  type PromotionState,
  type ReviewerKey,
  type Decision,
  type DecisionBody,
  type DecisionResult,
  type HistoryEntry,
  type PrincipalRef,
} from './promotion-types.js';
export { signWebhook, verifyWebhookSignature, WEBHOOK_SIGNATURE_HEADER } from './webhook-signature.js';
export { postSigned, type PostSignedResult } from './signed-post.js';
export { ReviewOptionsSchema, WebhookOptionsSchema, webhookOptions, type ReviewOptions, type WebhookOptions } from './review-options.js';
export type { StagingTarget, PromotionPayload } from './promotion-target.js';
