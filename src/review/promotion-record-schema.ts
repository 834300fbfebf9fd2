/** The stored shapes of a promotion (its doc, decisions, history, outcome, outbox entries), parsed when read back from Redis. */
import { z } from 'zod';
import { FindingSchema } from '../monitor/index.js';
import { JobSnapshotSchema } from './promotable-job.js';
import { PROMOTION_STATES, type Decision, type HistoryEntry, type Promotion } from './promotion-types.js';

const PrincipalRefSchema = z.object({ keyId: z.string(), principal: z.string() });

/** The facts fixed at request time (the promotion hash's `doc` field). */
export const PromotionDocSchema = z.object({
  id: z.string().min(1),
  jobId: z.string(),
  target: z.string(),
  targetType: z.string(),
  artifactDigest: z.string(),
  artifactKind: z.enum(['artifacts', 'patch']),
  codeDigest: z.string(),
  profileDigest: z.string(),
  policy: z.object({ version: z.string(), digest: z.string() }),
  requester: PrincipalRefSchema,
  submitter: PrincipalRefSchema,
  lineage: z.string(),
  note: z.string(),
  risk: z.enum(['none', 'low', 'medium', 'high']),
  findings: z.array(FindingSchema),
  requirement: z.object({
    approvals: z.number().int().nonnegative(),
    groups: z.array(z.string()),
    requireGroup: z.string().nullable(),
    basis: z.enum(['automatic', 'policy', 'high_risk']),
  }),
  createdAt: z.string(),
  deadlineAt: z.string(),
  escalateAt: z.string().nullable(),
  escalationGroup: z.string().nullable(),
  snapshot: JobSnapshotSchema,
});
export type PromotionDoc = Omit<Promotion, 'state' | 'updatedAt' | 'escalatedAt' | 'decisions' | 'history' | 'outcome' | 'failure'>;
PromotionDocSchema satisfies z.ZodType<PromotionDoc>;

export const DecisionSchema = PrincipalRefSchema.extend({
  decision: z.enum(['approve', 'reject']),
  reason: z.string(),
  artifactDigest: z.string(),
  groups: z.array(z.string()),
  at: z.string(),
}) satisfies z.ZodType<Decision>;

/** An actor as the scripts record it: a key (with its principal and role) or a system process. */
export const ActorJsonSchema = z.union([z.object({ keyId: z.string(), principal: z.string(), role: z.string() }), z.object({ system: z.string() })]);
export type ActorJson = z.infer<typeof ActorJsonSchema>;

export const HistoryEntrySchema = z.object({
  n: z.number().int().positive(),
  at: z.string(),
  from: z.enum(PROMOTION_STATES).nullable(),
  to: z.enum(PROMOTION_STATES),
  // a key's role is kept (the audit record of the change names it)
  actor: z.union([PrincipalRefSchema.extend({ role: z.string().optional() }), z.object({ system: z.string() })]),
  reason: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
}) satisfies z.ZodType<HistoryEntry>;

export const OutcomeSchema = z.object({ location: z.string(), details: z.record(z.string(), z.unknown()).optional() });

/** One change waiting in the outbox (written by the scripts' move()). */
export const OutboxEntrySchema = z.object({ promotionId: z.string(), jobId: z.string(), target: z.string(), entry: HistoryEntrySchema });
export type OutboxEntry = z.infer<typeof OutboxEntrySchema>;
