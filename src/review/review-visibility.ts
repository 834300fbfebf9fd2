/**
 * Who may see and who may decide a promotion. A reviewer sees the promotions its groups may
 * decide (and, once escalated, the escalation group sees them too); agents see the ones about
 * their own work; admins and service keys (webhook receivers) see all.
 */
import { AppError } from '../shared/index.js';
import type { Promotion, ReviewerKey } from './promotion-types.js';

/** Whether the principal submitted the job or requested the promotion: it may never decide it. */
export function isPartyTo(p: Promotion, principal: string): boolean {
  return p.submitter.principal === principal || p.requester.principal === principal;
}

export function selfApprovalForbidden(principal: string): AppError {
  return new AppError('SELF_APPROVAL_FORBIDDEN', `principal ${principal} submitted or requested this promotion and cannot decide it; another reviewer must`);
}

/** The groups whose reviewers may decide this promotion now. */
export function eligibleGroups(p: Promotion): string[] {
  const groups = new Set(p.requirement.groups);
  if (p.requirement.requireGroup !== null) groups.add(p.requirement.requireGroup);
  if (p.escalatedAt !== null && p.escalationGroup !== null) groups.add(p.escalationGroup);
  return [...groups].sort();
}

export function canSee(p: Promotion, key: ReviewerKey): boolean {
  switch (key.role) {
    case 'admin':
    case 'service':
      return true;
    case 'agent':
      return isPartyTo(p, key.principal);
    case 'reviewer': {
      const eligible = eligibleGroups(p);
      return key.groups.some((g) => eligible.includes(g)) || isPartyTo(p, key.principal);
    }
  }
}

/**
 * Why this key's principal may not decide this promotion (undefined: its groups may). The one
 * statement of the rule: decide() throws it, the console shows it before anyone clicks.
 */
export function ineligibleReviewer(p: Promotion, key: ReviewerKey): AppError | undefined {
  if (isPartyTo(p, key.principal)) return selfApprovalForbidden(key.principal);
  const eligible = eligibleGroups(p);
  if (key.groups.some((g) => eligible.includes(g))) return undefined;
  return new AppError(
    'REVIEWER_NOT_ELIGIBLE',
    `this promotion is decided by the groups ${eligible.join(', ')}; your key has ${key.groups.length > 0 ? key.groups.join(', ') : 'no groups'}`,
  );
}
