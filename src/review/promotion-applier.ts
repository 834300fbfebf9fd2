/**
 * Applies an approved promotion exactly once: claim it (compare-and-set, with a lease so a
 * crashed applier's work is resumed), re-read every artifact from the store and re-check the
 * digest the reviewers approved, hand the set to the target, record promoted or failed.
 * Targets are idempotent by promotion id, so a resumed apply never publishes twice.
 */
import { randomBytes } from 'node:crypto';
import { artifactDigest, type ArtifactStore } from '../artifacts/index.js';
import { AppError, type Clock, type Logger } from '../shared/index.js';
import type { PromotedFile, PromotionPayload, StagingTarget } from './promotion-target.js';
import type { PromotionStore } from './promotion-store.js';
import type { Promotion } from './promotion-types.js';

/** What a non-git target publishes for a patch-only promotion. */
export const PATCH_FILE_NAME = 'changes.patch';

export interface PromotionApplierOptions {
  store: PromotionStore;
  targets: ReadonlyMap<string, StagingTarget>;
  artifacts: ArtifactStore;
  clock: Clock;
  logger: Logger;
  /** How long one apply may hold its claim before another process may resume it. */
  leaseMs: number;
  /** Base URL receivers download from (`<url>/v1/promotions/<id>/artifacts.tar`); unset: no download URL. */
  publicUrl: () => string | undefined;
}

export type ApplyResult = 'promoted' | 'failed' | 'not_claimed';

export class PromotionApplier {
  constructor(private readonly opts: PromotionApplierOptions) {}

  async apply(id: string): Promise<ApplyResult> {
    const { store, clock } = this.opts;
    const token = randomBytes(12).toString('hex');
    if (!(await store.claim(id, token, clock.now(), this.opts.leaseMs))) return 'not_claimed';
    const p = await store.get(id);
    if (p === undefined) return 'not_claimed';
    const actor = { system: 'promotion-apply' };
    let outcome;
    try {
      const target = this.opts.targets.get(p.target);
      if (target === undefined) throw new AppError('TARGET_NOT_FOUND', `target ${p.target} is no longer configured`);
      outcome = await target.apply(await this.payloadOf(p, target));
    } catch (err) {
      const code = err instanceof AppError ? err.code : 'INTERNAL';
      const failure = `${code}: ${(err as Error).message}`.slice(0, 2000);
      this.opts.logger.warn({ err, promotionId: id, target: p.target }, 'promotion apply failed');
      await store.transition(id, ['approved'], 'failed', { at: this.iso(), actor, reason: failure, details: { error: code }, claim: token, fields: { failure } });
      return 'failed';
    }
    await store.transition(id, ['approved'], 'promoted', {
      at: this.iso(),
      actor,
      reason: `applied to ${p.target}`,
      details: { location: outcome.location, artifactDigest: p.artifactDigest },
      claim: token,
      fields: { outcome: JSON.stringify(outcome) },
    });
    return 'promoted';
  }

  private iso(): string {
    return new Date(this.opts.clock.now()).toISOString();
  }

  /** The approved bytes, re-read and re-checked: a blob changed since approval stops the apply. */
  private async payloadOf(p: Promotion, target: StagingTarget): Promise<PromotionPayload> {
    // read() re-checks every blob against its sha256, so the names below are the bytes' digests
    const patchBytes = p.snapshot.patchSha256 === null ? null : await this.opts.artifacts.read(p.snapshot.patchSha256);
    const patch = patchBytes === null ? null : patchBytes.toString('utf8');
    let files: PromotedFile[];
    if (p.artifactKind === 'artifacts') {
      files = [];
      for (const a of p.snapshot.artifacts) {
        const content = await this.opts.artifacts.read(a.sha256);
        files.push({ path: a.path, bytes: content.length, sha256: a.sha256, content });
      }
      const actual = artifactDigest(files);
      if (actual !== p.artifactDigest) throw new AppError('ARTIFACT_CORRUPT', `artifacts now digest to ${actual}, not the approved ${p.artifactDigest}; nothing applied`);
    } else {
      if (patchBytes === null || p.snapshot.patchSha256 !== p.artifactDigest)
        throw new AppError('ARTIFACT_CORRUPT', `the stored patch no longer matches the approved digest ${p.artifactDigest}; nothing applied`);
      // git applies the patch; other targets publish it as a file
      files = target.type === 'git' ? [] : [{ path: PATCH_FILE_NAME, bytes: patchBytes.length, sha256: p.artifactDigest, content: patchBytes }];
    }
    const base = this.opts.publicUrl();
    const approvers = p.decisions.filter((d) => d.decision === 'approve').map((d) => ({ principal: d.principal, keyId: d.keyId }));
    return {
      promotionId: p.id,
      jobId: p.jobId,
      target: p.target,
      artifactDigest: p.artifactDigest,
      files,
      patch,
      requester: p.requester,
      approvers,
      downloadUrl: base === undefined || p.artifactKind !== 'artifacts' ? null : `${base.replace(/\/$/, '')}/v1/promotions/${p.id}/artifacts.tar`,
      appliedAt: this.iso(),
    };
  }
}
