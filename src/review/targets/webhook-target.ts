/**
 * Announces a promotion to an HTTP receiver with a signed POST. Only metadata is sent (paths,
 * sizes, digests, a download URL); the receiver fetches the bytes itself and should dedupe
 * on `promotionId`, since a retried apply delivers again.
 */
import { AppError } from '../../shared/index.js';
import type { ApplyOutcome, PromotionPayload, StagingTarget } from '../promotion-target.js';
import { postSigned, retryableStatus } from '../signed-post.js';

export interface WebhookTargetOptions {
  readonly name: string;
  readonly url: string;
  /** The secret's value (HMAC key). */
  readonly secret: string;
  readonly attempts: number;
  readonly backoffMs: number;
  readonly timeoutMs: number;
  readonly nowS: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export function promotionEvent(p: PromotionPayload) {
  return {
    event: 'promotion.apply',
    promotionId: p.promotionId,
    jobId: p.jobId,
    target: p.target,
    artifactDigest: p.artifactDigest,
    artifacts: p.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })),
    downloadUrl: p.downloadUrl,
    requester: p.requester,
    approvers: p.approvers,
    appliedAt: p.appliedAt,
  } as const;
}

export class WebhookTarget implements StagingTarget {
  readonly type = 'webhook' as const;
  readonly name: string;
  readonly url: string;
  private readonly opts: WebhookTargetOptions;

  constructor(opts: WebhookTargetOptions) {
    this.name = opts.name;
    this.url = opts.url;
    this.opts = opts;
  }

  async apply(payload: PromotionPayload): Promise<ApplyOutcome> {
    const res = await postSigned({
      url: this.url,
      secret: this.opts.secret,
      body: promotionEvent(payload),
      attempts: this.opts.attempts,
      backoffMs: this.opts.backoffMs,
      timeoutMs: this.opts.timeoutMs,
      nowS: this.opts.nowS,
      sleep: this.opts.sleep,
    });
    if (!res.ok) {
      const status = res.status === null ? 'no response' : `status ${res.status}`;
      // the URL stays out of the message: webhook URLs often carry a token
      throw new AppError('PROMOTION_APPLY_FAILED', `webhook target ${this.name}: delivery ${res.delivery} failed after ${res.attempts} attempt(s) (${status}): ${res.error}`, {
        retryable: res.attempts > 0 && (res.status === null || retryableStatus(res.status)),
        details: { status: res.status, attempts: res.attempts, delivery: res.delivery },
      });
    }
    // recorded in the audit log: never a query string, which may carry a token
    const u = new URL(this.url);
    return { location: `${u.origin}${u.pathname}`, details: { status: res.status, attempts: res.attempts, delivery: res.delivery } };
  }
}
