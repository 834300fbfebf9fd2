export { DirectoryTarget, PROMOTION_MANIFEST, type DirectoryTargetOptions } from './directory-target.js';
export { GitTarget, SAFE_BRANCH_PATTERN, promotionCommitMessage, type GitTargetOptions } from './git-target.js';
export { WebhookTarget, promotionEvent, type WebhookTargetOptions } from './webhook-target.js';
export { TargetConfigSchema, createTarget, type TargetConfig, type TargetDeps } from './target-config.js';
