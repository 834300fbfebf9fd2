/**
 * The client's and the console's wire types against the server's own views: each server view is
 * assigned to the type that reads it, so a field the server renames or retypes fails `tsc` (npm
 * test typechecks), and the jobs' states are the same list. (The console is browser code that
 * imports nothing of the server's: its types are checked here instead.)
 */
import { describe, expect, it } from 'vitest';
import type { Eligibility as ServerEligibility, whoamiView } from '../src/api/routes/console-reads.js';
import type { view as jobView } from '../src/api/routes/jobs.js';
import type { operationsView } from '../src/api/routes/operations.js';
import type { summary as promotionSummary, view as promotionView } from '../src/api/routes/promotions.js';
import type { AuditRecord } from '../src/audit/index.js';
import { JOB_STATES, type JobView, type PromotionSummary as ClientPromotionSummary, type PromotionView } from '../src/client/index.js';
import type { AuditRecordView, Eligibility, Operations, Promotion, PromotionSummary, Whoami } from '../src/console/wire-types.js';
import { JOB_STATUSES } from '../src/queue/index.js';

// compile-time: the server's views are what the client and the console say they are
export const jobViewFits = (v: ReturnType<typeof jobView>): JobView => v;
export const promotionViewFits = (v: ReturnType<typeof promotionView>): PromotionView => v;
export const promotionSummaryFits = (v: ReturnType<typeof promotionSummary>): ClientPromotionSummary => v;
export const consolePromotionFits = (v: ReturnType<typeof promotionView>): Promotion => v;
export const consoleSummaryFits = (v: ReturnType<typeof promotionSummary>): PromotionSummary => v;
export const consoleAuditRecordFits = (v: AuditRecord): AuditRecordView => v;
export const consoleEligibilityFits = (v: ServerEligibility): Eligibility => v;
export const consoleOperationsFits = (v: ReturnType<typeof operationsView>): Operations => v;
export const consoleWhoamiFits = (v: ReturnType<typeof whoamiView>): Whoami => v;

describe('client wire types', () => {
  it('name the same job states as the server', () => {
    expect([...JOB_STATES]).toEqual([...JOB_STATUSES]);
  });
});
