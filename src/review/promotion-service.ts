/**
 * Promotion requests, decisions, and the sweeper (expiry, escalation, crash recovery). Every
 * stage change is a compare-and-set in PromotionStore; the records it owes the audit log and
 * the webhooks wait in the outbox, which `PromotionOutbox` drains in order.
 */
import type { ArtifactStore } from '../artifacts/index.js';
import { recordMutation, type AuditOrigin, type AuditStore } from '../audit/index.js';
import { riskOf } from '../monitor/index.js';
import { AppError, newId, sha256Hex, type Clock, type Logger } from '../shared/index.js';
import { requirementFor, type ApprovalPolicy, type TargetPolicy } from './approval-policy.js';
import { jobSnapshot, type PromotableJob } from './promotable-job.js';
import type { ApplyResult, PromotionApplier } from './promotion-applier.js';
import type { PromotionOutbox } from './promotion-outbox.js';
import { promotionFindings } from './promotion-risk.js';
import { sweepOnce } from './promotion-sweep.js';
import type { ActorJson, PromotionDoc, PromotionStore } from './promotion-store.js';
import { type Decision, type DecisionBody, type DecisionResult, type Promotion, type PromotionState, type ReviewerKey } from './promotion-types.js';
import { canSee, eligibleGroups, ineligibleReviewer, isPartyTo } from './review-visibility.js';

/** Promotions read per round trip when listing. */
const LIST_PAGE = 100;
/** Job states a promotion may be requested for; policy_violation only ever through the security group. */
const PROMOTABLE_JOB_STATES = new Set(['succeeded', 'policy_violation']);

export interface PromotionServiceOptions {
  store: PromotionStore;
  policy: ApprovalPolicy;
  applier: PromotionApplier;
  outbox: PromotionOutbox;
  /** The API writes a job's patch here when promotion is requested (content-addressed, re-checked on read). */
  artifacts: ArtifactStore;
  /** Where request, decision and retry records go (their state changes go through the outbox). */
  audit: AuditStore;
  clock: Clock;
  logger: Logger;
  /** How often the sweeper runs (expiry, escalation, unfinished applies, outbox). */
  sweepMs: number;
}

/**
 * After each change the outbox is drained (`outbox.drain()`): the audit records of the change
 * are written before the answer leaves; webhooks follow in the background.
 *
 * Each mutation (request, decision, retry) also appends its own record through its origin (who
 * asked, and how), before anything is applied. A state change and the promise to record it are
 * one atomic write (the outbox), so a request or retry whose own record cannot be written is
 * still recorded by its transition; the caller hears AUDIT_UNAVAILABLE and nothing is applied by
 * this call (the sweeper applies approved promotions). A decision that changed no state has no
 * transition: if its record cannot be written it is withdrawn (not done).
 */
export class PromotionService {
  private timer: NodeJS.Timeout | undefined;
  private readonly inflight = new Set<Promise<unknown>>();
  private sweeping: Promise<void> | undefined;

  constructor(private readonly opts: PromotionServiceOptions) {}

  private get store(): PromotionStore {
    return this.opts.store;
  }
  private iso(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  async request(job: PromotableJob, body: { target: string; note?: string }, requester: ReviewerKey, origin: AuditOrigin<Promotion>): Promise<Promotion> {
    const targetPolicy = this.targetFor(body.target, requester);
    const r = job.result;
    if (!PROMOTABLE_JOB_STATES.has(job.status) || r === undefined) {
      throw new AppError('NOT_PROMOTABLE', `job ${job.id} is ${job.status}; only a succeeded job (or, through the security group, a policy_violation) can be promoted`);
    }
    const patch = job.input?.patch;
    const kind = r.artifactDigest !== null && r.artifacts.length > 0 ? 'artifacts' : patch !== undefined && patch !== '' ? 'patch' : null;
    if (kind === null) throw new AppError('NOT_PROMOTABLE', `job ${job.id} has neither artifacts nor a patch: nothing to promote`);
    const findings = await promotionFindings(job, kind, this.opts.policy, targetPolicy);
    const patchSha256 = patch !== undefined && patch !== '' ? await this.opts.artifacts.put(Buffer.from(patch, 'utf8')) : null;
    const risk = riskOf(findings);
    const requirement = requirementFor(this.opts.policy, targetPolicy, risk === 'high');
    const now = this.opts.clock.now();
    const id = newId('prm');
    const escalation = requirement.approvals > 0 ? targetPolicy.escalation : undefined;
    const doc: PromotionDoc = {
      id,
      jobId: job.id,
      target: body.target,
      targetType: targetPolicy.target.type,
      artifactDigest: kind === 'artifacts' ? r.artifactDigest! : patchSha256!,
      artifactKind: kind,
      codeDigest: r.codeDigest,
      profileDigest: r.profileDigest,
      policy: { version: this.opts.policy.version, digest: this.opts.policy.digest },
      requester: { keyId: requester.keyId, principal: requester.principal },
      submitter: job.submitter,
      lineage: job.input?.lineage ?? job.id,
      note: body.note ?? '',
      risk,
      findings,
      requirement,
      createdAt: new Date(now).toISOString(),
      deadlineAt: new Date(now + targetPolicy.reviewTimeoutMs).toISOString(),
      escalateAt: escalation === undefined ? null : new Date(now + escalation.afterMs).toISOString(),
      escalationGroup: escalation?.group ?? null,
      snapshot: jobSnapshot(job, r, patchSha256),
    };
    const automatic = requirement.approvals === 0;
    await this.store.create(doc, {
      // one lineage per target and submitting principal: nobody can supersede another's work
      lineageKey: sha256Hex(`${body.target}\u0000${job.submitter.principal}\u0000${doc.lineage}`),
      initial: automatic ? 'approved' : 'pending_review',
      createdMs: now,
      deadlineMs: now + targetPolicy.reviewTimeoutMs,
      escalateMs: escalation === undefined ? null : now + escalation.afterMs,
      actor: actorOf(requester),
      reason: automatic ? `automatic promotion (policy ${this.opts.policy.version})` : `requested${body.note ? `: ${body.note.slice(0, 200)}` : ''}`,
    });
    await this.opts.outbox.drain();
    const p = await this.mustGet(id);
    const details = { promotionId: id, target: p.target, state: p.state, artifactDigest: p.artifactDigest };
    await recordMutation(this.opts.audit, origin, { action: 'promotion.request', target: id, details }, p);
    if (automatic) this.applySoon(id);
    return p;
  }

  async decide(id: string, key: ReviewerKey, body: DecisionBody, origin: AuditOrigin<DecisionResult>): Promise<DecisionResult> {
    // a reviewer outside the deciding groups hears why (403) rather than a 404: it holds the id from a notification
    const p = key.role === 'reviewer' ? await this.mustGet(id) : await this.visible(id, key);
    if (p.state === 'expired') throw expiredError(p);
    const ineligible = ineligibleReviewer(p, key);
    if (ineligible !== undefined) throw ineligible;
    const eligible = eligibleGroups(p);
    const groups = key.groups.filter((g) => eligible.includes(g));
    if (body.artifactDigest !== p.artifactDigest) {
      throw new AppError(
        'DIGEST_MISMATCH',
        `the decision names ${body.artifactDigest.slice(0, 80)} but the promotion is bound to ${p.artifactDigest}; review what is bound, then decide`,
        {
          details: { expected: p.artifactDigest },
        },
      );
    }
    const decision: Decision = {
      keyId: key.keyId,
      principal: key.principal,
      decision: body.decision,
      reason: body.reason,
      artifactDigest: body.artifactDigest,
      groups,
      at: this.iso(),
    };
    const r = await this.store.decide(id, decision, {
      nowMs: this.opts.clock.now(),
      actor: actorOf(key),
      approvalsNeeded: p.requirement.approvals,
      requireGroup: p.requirement.requireGroup,
    });
    await this.opts.outbox.drain();
    switch (r.outcome) {
      case 'already_decided':
        throw new AppError('ALREADY_DECIDED', `principal ${key.principal} already decided this promotion; a decision counts once`);
      case 'expired':
        throw expiredError(p);
      case 'not_pending':
        if (r.state === 'expired') throw expiredError(p);
        throw new AppError('PROMOTION_NOT_PENDING', `promotion ${id} is ${r.state}; decisions are taken only while it is pending_review`);
      default:
        break;
    }
    const result: DecisionResult = { promotion: await this.mustGet(id), outcome: r.outcome, approvals: r.approvals };
    await this.recordDecision(id, key, body, result, origin);
    if (r.outcome === 'approved') this.applySoon(id);
    return result;
  }

  /** A decision's record; one that moved no state is withdrawn when its record cannot be written. */
  private async recordDecision(id: string, key: ReviewerKey, body: DecisionBody, result: DecisionResult, origin: AuditOrigin<DecisionResult>): Promise<void> {
    const details = {
      promotionId: id,
      decision: body.decision,
      artifactDigest: body.artifactDigest,
      principal: key.principal,
      reason: body.reason,
      counted: result.outcome,
      approvals: result.approvals,
      state: result.promotion.state,
    };
    try {
      await recordMutation(this.opts.audit, origin, { action: 'review.decision', target: id, details }, result);
    } catch (err) {
      if (result.outcome === 'recorded' && !(await this.store.withdrawDecision(id, key.principal))) {
        this.opts.logger.error({ err, promotionId: id, principal: key.principal }, 'an unrecorded decision could not be withdrawn (the promotion moved on)');
      }
      throw err;
    }
  }

  /**
   * The target's policy, when the key may request promotions to it. An unknown target and one
   * the key may not use get the same answer; only an admin, who may use every target, hears the list.
   */
  private targetFor(name: string, key: ReviewerKey): TargetPolicy {
    const t = this.opts.policy.targets.get(name);
    if (t !== undefined && (key.role === 'admin' || t.requesters === undefined || key.groups.some((g) => t.requesters!.includes(g)))) return t;
    const known = [...this.opts.policy.targets.keys()];
    const list = key.role !== 'admin' ? '' : `; configured: ${known.length > 0 ? known.join(', ') : 'none (set AIRLOCK_REVIEW_POLICY_FILE)'}`;
    throw new AppError('TARGET_NOT_FOUND', `no promotion target ${JSON.stringify(name.slice(0, 64))} this key may use${list}`);
  }

  /** An admin sends a failed promotion back to be applied again (same binding, same digest check). */
  async retry(id: string, admin: ReviewerKey, reason: string, origin: AuditOrigin<Promotion>): Promise<Promotion> {
    const p = await this.visible(id, admin);
    const r = await this.store.transition(id, ['failed'], 'approved', {
      at: this.iso(),
      actor: actorOf(admin),
      reason: `retry: ${reason}`,
      fields: { failure: '', claimUntil: '0' },
    });
    if (!r.applied) throw new AppError('PROMOTION_NOT_PENDING', `promotion ${id} is ${r.state ?? p.state}; only a failed promotion can be retried`);
    await this.opts.outbox.drain();
    const retried = await this.mustGet(id);
    await recordMutation(this.opts.audit, origin, { action: 'promotion.retry', target: id, details: { promotionId: id, reason } }, retried);
    this.applySoon(id);
    return retried;
  }

  /** Whether the key's principal submitted the job or requested the promotion (it may never decide it). */
  async isParty(id: string, key: ReviewerKey): Promise<boolean> {
    const p = await this.store.get(id);
    return p !== undefined && isPartyTo(p, key.principal);
  }

  /** Applies an approved promotion now, unless someone else holds it (the sweeper and quorum call this). */
  applyNow(id: string): Promise<ApplyResult> {
    return this.opts.applier.apply(id);
  }

  async get(id: string, key: ReviewerKey): Promise<Promotion> {
    return this.visible(id, key);
  }

  async list(key: ReviewerKey, filter: { state?: PromotionState; target?: string; jobId?: string; limit: number }): Promise<Promotion[]> {
    const out: Promotion[] = [];
    // scan newest first, a page per round trip; visibility is per key, so over-read and filter
    const ids = await this.store.ids(2000);
    for (let i = 0; i < ids.length && out.length < filter.limit; i += LIST_PAGE) {
      for (const p of await this.store.getMany(ids.slice(i, i + LIST_PAGE))) {
        if (p === undefined || !canSee(p, key)) continue;
        if (
          (filter.state !== undefined && p.state !== filter.state) ||
          (filter.target !== undefined && p.target !== filter.target) ||
          (filter.jobId !== undefined && p.jobId !== filter.jobId)
        )
          continue;
        out.push(p);
        if (out.length >= filter.limit) break;
      }
    }
    return out;
  }

  /** One pass: expire overdue reviews, escalate due ones, resume unfinished applies, drain the outbox. */
  sweep(): Promise<void> {
    this.sweeping ??= sweepOnce(this.opts).finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.sweep().catch((err: unknown) => this.opts.logger.warn({ err }, 'promotion sweep failed'));
    }, this.opts.sweepMs);
    this.timer.unref();
  }

  /** Waits for applies started in the background (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    await this.sweeping;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.settled();
    await this.opts.outbox.drain();
  }

  /** Applies after the answer: a webhook target may retry for seconds. The sweeper resumes it after a crash. */
  private applySoon(id: string): void {
    const p = this.opts.applier
      .apply(id)
      .then(() => this.opts.outbox.drain())
      .catch((err: unknown) => this.opts.logger.error({ err, promotionId: id }, 'promotion apply did not finish; the sweeper resumes it'))
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  private async mustGet(id: string): Promise<Promotion> {
    const p = await this.store.get(id);
    if (p === undefined) throw new AppError('PROMOTION_NOT_FOUND', `no promotion ${id}`);
    return p;
  }

  /** A promotion the key may not see is a 404: its existence is not confirmed. */
  private async visible(id: string, key: ReviewerKey): Promise<Promotion> {
    const p = await this.store.get(id);
    if (p === undefined || !canSee(p, key)) throw new AppError('PROMOTION_NOT_FOUND', 'no such promotion');
    return p;
  }
}

export function actorOf(key: ReviewerKey): ActorJson {
  return { keyId: key.keyId, principal: key.principal, role: key.role };
}

function expiredError(p: Promotion): AppError {
  return new AppError('PROMOTION_EXPIRED', `promotion ${p.id} expired at ${p.deadlineAt} without quorum; request a new promotion`);
}
