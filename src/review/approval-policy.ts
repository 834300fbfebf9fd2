/**
 * The approval policy: a JSON file validated at start-up (AIRLOCK_REVIEW_POLICY_FILE). Per
 * target: where it publishes, whether promotion is automatic or needs N approvals from listed
 * groups, how long a review may take (fail closed → expired) and whom to escalate to. Its
 * version and digest are recorded on every promotion request.
 */
import { z } from 'zod';
import { DEFAULT_SENSITIVE_PATHS, type SensitivePathRules } from '../monitor/index.js';
import { ISOLATION_TIERS, type IsolationTier } from '../profiles/index.js';
import { AppError, canonicalJson, invalidGlobReason, sha256Hex } from '../shared/index.js';
import type { Requirement } from './promotion-types.js';
import { GROUP_NAME } from './promotion-types.js';
import { SecretName, TargetConfigSchema } from './targets/target-config.js';

const HOUR_MS = 3_600_000;
export const DEFAULT_REVIEW_TIMEOUT_MS = 24 * HOUR_MS;

const Group = z.string().regex(GROUP_NAME, 'a group is [a-z][a-z0-9_-]{0,63}');
const HttpUrl = z.url({ protocol: /^https?$/ });

const SignedHookSchema = z.strictObject({ url: HttpUrl, secret: SecretName });

const ApprovalSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('auto') }),
  z.strictObject({ mode: z.literal('review'), approvals: z.number().int().min(1).max(10), groups: z.array(Group).min(1).max(16) }),
]);

const TargetPolicySchema = z
  .strictObject({
    target: TargetConfigSchema,
    approval: ApprovalSchema,
    /** Groups whose keys may request promotions to this target (an admin always may); absent: any agent key. */
    requesters: z.array(Group).min(1).max(16).optional(),
    /** Only a job run on this isolation tier may be promoted here (`gvisor`: code nobody has read ran behind gVisor); absent: any tier. */
    requireIsolation: z.enum(ISOLATION_TIERS).optional(),
    reviewTimeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * HOUR_MS)
      .default(DEFAULT_REVIEW_TIMEOUT_MS),
    escalation: z
      .strictObject({
        afterMs: z.number().int().min(1000),
        group: Group,
        webhook: SignedHookSchema,
      })
      .optional(),
  })
  .refine((t) => t.escalation === undefined || t.escalation.afterMs < t.reviewTimeoutMs, {
    path: ['escalation', 'afterMs'],
    message: 'must be shorter than reviewTimeoutMs (escalate before the review expires)',
  });

const Glob = z
  .string()
  .min(1)
  .max(200)
  .superRefine((g, ctx) => {
    const why = invalidGlobReason(g);
    if (why !== undefined) ctx.addIssue({ code: 'custom', message: why });
  });

/** Which paths make a result high risk: the monitor's list and matcher, read with these rules by the review gate. */
const SensitivePathsSchema = z.strictObject({
  /** Sensitive on every target (replaces the default list: keep what you still want of it). */
  paths: z
    .array(Glob)
    .max(1000)
    .default(() => [...DEFAULT_SENSITIVE_PATHS]),
  /** Root dotfiles an automatic target may still promote without the security group. */
  allowRootDotfiles: z.array(Glob).max(200).default([]),
});

export const ApprovalPolicySchema = z.strictObject({
  version: z.string().min(1).max(64),
  /** Reviewers of this group must approve any high-risk result (policy_violation, high findings). */
  securityGroup: Group.default('security'),
  /** A signed POST on every state change (chat, ticketing). */
  notifications: SignedHookSchema.optional(),
  sensitivePaths: SensitivePathsSchema.default(() => ({ paths: [...DEFAULT_SENSITIVE_PATHS], allowRootDotfiles: [] })),
  targets: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'a target name is [a-z][a-z0-9_-]{0,63}'), TargetPolicySchema),
});

export type TargetPolicy = z.infer<typeof TargetPolicySchema>;

export interface ApprovalPolicy {
  readonly version: string;
  /** sha256 of the policy's canonical JSON: which exact rules a promotion was judged by. */
  readonly digest: string;
  readonly securityGroup: string;
  readonly notifications: z.infer<typeof SignedHookSchema> | undefined;
  readonly sensitivePaths: SensitivePathRules;
  readonly targets: ReadonlyMap<string, TargetPolicy>;
}

/** Validates a parsed policy file; every problem is reported at once, as CONFIG_INVALID. */
export function parseApprovalPolicy(raw: unknown, source = 'approval policy'): ApprovalPolicy {
  const parsed = ApprovalPolicySchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AppError('CONFIG_INVALID', `${source} is invalid:\n${lines.join('\n')}`);
  }
  const p = parsed.data;
  return {
    version: p.version,
    digest: sha256Hex(canonicalJson(p)),
    securityGroup: p.securityGroup,
    notifications: p.notifications,
    sensitivePaths: p.sensitivePaths,
    targets: new Map(Object.entries(p.targets)),
  };
}

/** The empty policy: no targets, so every promotion request is refused (TARGET_NOT_FOUND). */
export const NO_PROMOTION_TARGETS: ApprovalPolicy = parseApprovalPolicy({ version: 'none', targets: {} });

/** Ranks the tiers by the boundary they put around a job: a requirement is met by its tier or a stronger one. */
const TIER_STRENGTH: Readonly<Record<IsolationTier, number>> = { container: 0, gvisor: 1 };

/** Why a job run on `ran` may not be promoted to `target`, or undefined when it may (the review gate refuses it as NOT_PROMOTABLE). */
export function isolationShortfall(target: TargetPolicy, ran: IsolationTier): string | undefined {
  const required = target.requireIsolation;
  if (required === undefined || TIER_STRENGTH[ran] >= TIER_STRENGTH[required]) return undefined;
  return `this target requires a run on the ${required} isolation tier (requireIsolation) and the job ran on the ${ran} tier; run it again on a ${required} profile`;
}

/**
 * What a promotion needs. A high-risk result is never automatic: it needs at least one
 * approval, and one of its approvers must be of the security group.
 */
export function requirementFor(policy: ApprovalPolicy, target: TargetPolicy, highRisk: boolean): Requirement {
  const a = target.approval;
  if (a.mode === 'auto') {
    return highRisk
      ? { approvals: 1, groups: [policy.securityGroup], requireGroup: policy.securityGroup, basis: 'high_risk' }
      : { approvals: 0, groups: [], requireGroup: null, basis: 'automatic' };
  }
  if (!highRisk) return { approvals: a.approvals, groups: [...a.groups].sort(), requireGroup: null, basis: 'policy' };
  return { approvals: a.approvals, groups: [...new Set([...a.groups, policy.securityGroup])].sort(), requireGroup: policy.securityGroup, basis: 'high_risk' };
}
