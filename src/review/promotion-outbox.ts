/**
 * Drains the promotion outbox in order: each change becomes an audit record (the change
 * and the promise to record it were one atomic write), then the webhooks it owes (state-change
 * notifications, escalations) are queued and delivered signed, with retries. At least once:
 * a crash between the append and the acknowledgement repeats a record with the same
 * promotion id and `n`, which tells a reader it is a repeat.
 */
import { z } from 'zod';
import type { AuditEvent, AuditStore } from '../audit/index.js';
import { parseStoredJson, type Clock, type Logger } from '../shared/index.js';
import type { ApprovalPolicy } from './approval-policy.js';
import type { OutboxEntry, PromotionStore } from './promotion-store.js';
import { postSigned } from './signed-post.js';

/** A webhook owed, as queued in the deliveries list. */
const DeliverySchema = z.object({
  hook: z.enum(['notifications', 'escalation']),
  target: z.string(),
  eventId: z.string(),
  body: z.record(z.string(), z.unknown()),
});
type Delivery = z.infer<typeof DeliverySchema>;

export interface PromotionOutboxOptions {
  store: PromotionStore;
  audit: AuditStore;
  policy: ApprovalPolicy;
  /** Secret values by name, resolved at start-up for every hook the policy names. */
  secrets: ReadonlyMap<string, string>;
  clock: Clock;
  logger: Logger;
  webhook: { attempts: number; backoffMs: number; timeoutMs: number; sleep?: (ms: number) => Promise<void> };
  /** Base URL for links in notifications. */
  publicUrl: () => string | undefined;
}

export class PromotionOutbox {
  private draining: Promise<void> | undefined;
  private delivering: Promise<void> | undefined;

  constructor(private readonly opts: PromotionOutboxOptions) {}

  /** Writes every pending audit record, in order; webhooks follow in the background. */
  drain(): Promise<void> {
    this.draining ??= this.drainOnce().finally(() => (this.draining = undefined));
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    const { store } = this.opts;
    const drained = await store.withLock('outbox', 30_000, async () => {
      for (;;) {
        const batch = await store.peekOutbox(50);
        if (batch.length === 0) break;
        for (const e of batch) {
          await this.opts.audit.append(auditEventOf(e)); // throws AUDIT_UNAVAILABLE: the entry stays for the next drain
          await store.ack(store.outboxKey, { list: store.deliveriesKey, items: this.deliveriesOf(e).map((d) => JSON.stringify(d)) });
        }
      }
    });
    // another process drains now; its records keep the order
    if (!drained) return;
    this.delivering ??= this.deliverAll()
      .catch((err: unknown) => this.opts.logger.warn({ err }, 'promotion webhooks not delivered; retried on the next sweep'))
      .finally(() => (this.delivering = undefined));
  }

  private deliveriesOf(e: OutboxEntry): Delivery[] {
    const out: Delivery[] = [];
    const eventId = `${e.promotionId}.${e.entry.n}`;
    const apiUrl = this.opts.publicUrl();
    const link = apiUrl === undefined ? null : `${apiUrl.replace(/\/$/, '')}/v1/promotions/${e.promotionId}`;
    const base = { promotionId: e.promotionId, jobId: e.jobId, target: e.target, n: e.entry.n, at: e.entry.at, url: link };
    if (this.opts.policy.notifications !== undefined) {
      out.push({ hook: 'notifications', target: e.target, eventId, body: { event: 'promotion.state', ...base, from: e.entry.from, to: e.entry.to, reason: e.entry.reason } });
    }
    const escalation = this.opts.policy.targets.get(e.target)?.escalation;
    if (e.entry.details?.['escalated'] === true && escalation !== undefined) {
      out.push({
        hook: 'escalation',
        target: e.target,
        eventId,
        body: { event: 'promotion.escalated', ...base, group: escalation.group, deadlineAt: e.entry.details['deadlineAt'] ?? null },
      });
    }
    return out;
  }

  private async deliverAll(): Promise<void> {
    const { store } = this.opts;
    await store.withLock('deliveries', 120_000, async () => {
      for (;;) {
        const [raw] = await store.peek(store.deliveriesKey, 1);
        if (raw === undefined) break;
        const d = parseStoredJson(DeliverySchema, raw, 'promotion webhook delivery');
        const hook = d.hook === 'notifications' ? this.opts.policy.notifications : this.opts.policy.targets.get(d.target)?.escalation?.webhook;
        const secret = hook === undefined ? undefined : this.opts.secrets.get(hook.secret);
        if (hook !== undefined && secret !== undefined) {
          const r = await postSigned({
            url: hook.url,
            secret,
            body: d.body,
            ...this.opts.webhook,
            nowS: () => Math.floor(this.opts.clock.now() / 1000),
            headers: { 'x-airlock-event': String(d.body['event']), 'x-airlock-event-id': d.eventId },
          });
          // a receiver that stays down loses this event (logged); the audit record of the change is already written
          if (!r.ok)
            this.opts.logger.warn({ hook: d.hook, url: hook.url, eventId: d.eventId, status: r.status, attempts: r.attempts, error: r.error }, 'promotion webhook not delivered');
        }
        await store.ack(store.deliveriesKey);
      }
    });
  }
}

/** A change as an audit record: the request (first entry), an escalation, or a transition. */
export function auditEventOf(e: OutboxEntry): AuditEvent {
  const a = e.entry.actor;
  const actor: AuditEvent['actor'] = 'keyId' in a ? { type: 'key', keyId: a.keyId, role: (a as { role?: string }).role ?? 'unknown' } : { type: 'system' };
  const action = e.entry.from === null ? 'promotion.request' : e.entry.details?.['escalated'] === true ? 'promotion.escalate' : 'promotion.transition';
  return {
    actor,
    action,
    target: e.promotionId,
    outcome: { result: e.entry.to },
    details: {
      jobId: e.jobId,
      target: e.target,
      n: e.entry.n,
      from: e.entry.from,
      to: e.entry.to,
      reason: e.entry.reason,
      ...('keyId' in a ? { principal: a.principal } : { by: a.system }),
      ...(e.entry.details ?? {}),
    },
  };
}
