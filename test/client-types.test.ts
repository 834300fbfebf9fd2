/**
 * The client's wire types against the server's own views: each server view is assigned to the
 * client's type, so a field the server renames or retypes fails `tsc` (npm test typechecks), and
 * the jobs' states are the same list.
 */
import { describe, expect, it } from 'vitest';
import type { view as jobView } from '../src/api/routes/jobs.js';
import type { view as promotionView } from '../src/api/routes/promotions.js';
import { JOB_STATES, type JobView, type PromotionView } from '../src/client/index.js';
import { JOB_STATUSES } from '../src/queue/index.js';

// compile-time: the server's views are what the client says they are
export const jobViewFits = (v: ReturnType<typeof jobView>): JobView => v;
export const promotionViewFits = (v: ReturnType<typeof promotionView>): PromotionView => v;

describe('client wire types', () => {
  it('name the same job states as the server', () => {
    expect([...JOB_STATES]).toEqual([...JOB_STATUSES]);
  });
});
