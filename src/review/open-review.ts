/**
 * Builds the review module from the approval policy: its targets, the secrets its hooks
 * sign with (every missing one is reported at start-up), the store, applier, outbox and service.
 */
import type { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import type { ArtifactStore } from '../artifacts/index.js';
import type { AuditStore } from '../audit/index.js';
import { AppError, type Clock, type Logger } from '../shared/index.js';
import { parseApprovalPolicy, type ApprovalPolicy } from './approval-policy.js';
import { PromotionApplier } from './promotion-applier.js';
import { PromotionOutbox } from './promotion-outbox.js';
import { PromotionService } from './promotion-service.js';
import { PromotionStore } from './promotion-store.js';
import type { StagingTarget } from './promotion-target.js';
import { createTarget } from './targets/index.js';

export interface OpenReviewOptions {
  redis: Redis;
  prefix: string;
  policy: ApprovalPolicy;
  audit: AuditStore;
  artifacts: ArtifactStore;
  clock: Clock;
  logger: Logger;
  resolveSecret: (name: string) => string | undefined;
  /** Relative target paths resolve against it (the policy file's folder). */
  baseDir: string;
  publicUrl: () => string | undefined;
  sweepMs: number;
  applyLeaseMs: number;
  webhook: { attempts: number; backoffMs: number; timeoutMs: number; sleep?: (ms: number) => Promise<void> };
}

export function loadApprovalPolicyFile(path: string): ApprovalPolicy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `approval policy ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseApprovalPolicy(raw, `approval policy ${path}`);
}

export function openReview(o: OpenReviewOptions): PromotionService {
  const nowS = () => Math.floor(o.clock.now() / 1000);
  const problems: string[] = [];
  const targets = new Map<string, StagingTarget>();
  for (const [name, t] of o.policy.targets) {
    try {
      targets.set(name, createTarget(name, t.target, { resolveSecret: o.resolveSecret, baseDir: o.baseDir, nowS, ...(o.webhook.sleep ? { sleep: o.webhook.sleep } : {}) }));
    } catch (err) {
      problems.push(`  ${(err as Error).message}`);
    }
  }
  const hooks = [
    ...(o.policy.notifications ? [{ where: 'notifications', secret: o.policy.notifications.secret }] : []),
    ...[...o.policy.targets].flatMap(([name, t]) => (t.escalation ? [{ where: `targets.${name}.escalation`, secret: t.escalation.webhook.secret }] : [])),
  ];
  const secrets = new Map<string, string>();
  for (const h of hooks) {
    const value = o.resolveSecret(h.secret);
    if (value === undefined || value === '') problems.push(`  ${h.where}: secret ${h.secret} is not set (AIRLOCK_SECRET_${h.secret} or the secrets file)`);
    else secrets.set(h.secret, value);
  }
  if (problems.length > 0) throw new AppError('CONFIG_INVALID', `approval policy:\n${problems.join('\n')}`);
  const store = new PromotionStore(o.redis, o.prefix);
  const applier = new PromotionApplier({ store, targets, artifacts: o.artifacts, clock: o.clock, logger: o.logger, leaseMs: o.applyLeaseMs, publicUrl: o.publicUrl });
  const outbox = new PromotionOutbox({ store, audit: o.audit, policy: o.policy, secrets, clock: o.clock, logger: o.logger, webhook: o.webhook, publicUrl: o.publicUrl });
  return new PromotionService({ store, policy: o.policy, applier, outbox, artifacts: o.artifacts, audit: o.audit, clock: o.clock, logger: o.logger, sweepMs: o.sweepMs });
}
