/**
 * One pass of the promotion sweeper: expire overdue reviews (fail closed), escalate due ones,
 * drain the outbox, resume unfinished applies (a crashed applier's lease runs out), drain again.
 */
import type { Clock } from '../shared/index.js';
import type { PromotionApplier } from './promotion-applier.js';
import type { PromotionOutbox } from './promotion-outbox.js';
import type { PromotionStore } from './promotion-store.js';

export async function sweepOnce(o: { store: PromotionStore; outbox: PromotionOutbox; applier: PromotionApplier; clock: Clock }): Promise<void> {
  const now = o.clock.now();
  const at = new Date(now).toISOString();
  for (const id of await o.store.due('pending', now)) {
    await o.store.transition(id, ['pending_review'], 'expired', {
      at,
      actor: { system: 'review-timeout' },
      reason: 'no quorum before the review deadline (fail closed)',
      dueAtMs: now,
    });
  }
  for (const id of await o.store.due('escalate', now)) {
    const p = await o.store.get(id);
    if (p === undefined) continue;
    await o.store.escalate(id, now, at, { escalated: true, group: p.escalationGroup, deadlineAt: p.deadlineAt });
  }
  await o.outbox.drain();
  for (const id of await o.store.approvedIds()) await o.applier.apply(id);
  await o.outbox.drain();
}
