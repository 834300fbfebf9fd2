/**
 * Publishes each promotion as its own folder, `versions/<promotionId>`, and flips the
 * `current` symlink to it with one rename: readers see the old set or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { AppError, isAppError } from '../../shared/index.js';
import type { ApplyOutcome, PromotionPayload, StagingTarget } from '../promotion-target.js';
import { checkPromotedFiles, checkPromotionId } from './promoted-paths.js';

export const PROMOTION_MANIFEST = '.airlock-promotion.json';

export interface DirectoryTargetOptions {
  readonly name: string;
  /** Root folder; `versions/` and `current` live in it. Resolved to an absolute path. */
  readonly path: string;
}

const randomSuffix = () => randomBytes(6).toString('hex');

function manifestOf(p: PromotionPayload): string {
  const manifest = {
    promotionId: p.promotionId,
    jobId: p.jobId,
    target: p.target,
    artifactDigest: p.artifactDigest,
    files: p.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: f.sha256 })),
    requester: p.requester,
    approvers: p.approvers,
    appliedAt: p.appliedAt,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** The digest recorded in an existing version folder, or undefined when there is none. */
async function recordedDigest(versionDir: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(join(versionDir, PROMOTION_MANIFEST), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as { artifactDigest?: unknown };
  return typeof parsed.artifactDigest === 'string' ? parsed.artifactDigest : '';
}

export class DirectoryTarget implements StagingTarget {
  readonly type = 'directory' as const;
  readonly name: string;
  readonly root: string;

  constructor(opts: DirectoryTargetOptions) {
    this.name = opts.name;
    this.root = resolve(opts.path);
  }

  async apply(payload: PromotionPayload): Promise<ApplyOutcome> {
    checkPromotionId(payload.promotionId);
    checkPromotedFiles(payload.files, [PROMOTION_MANIFEST]);
    const versions = join(this.root, 'versions');
    const finalDir = join(versions, payload.promotionId);
    const tmpDir = `${finalDir}.tmp-${randomSuffix()}`;
    try {
      await mkdir(versions, { recursive: true });
      if (!(await this.alreadyPublished(finalDir, payload.artifactDigest))) {
        await mkdir(tmpDir);
        for (const f of payload.files) {
          const file = join(tmpDir, f.path);
          await mkdir(dirname(file), { recursive: true });
          await writeFile(file, f.content, { flag: 'wx' });
        }
        await writeFile(join(tmpDir, PROMOTION_MANIFEST), manifestOf(payload), { flag: 'wx' });
        await this.publish(tmpDir, finalDir, payload.artifactDigest);
      }
      await this.pointCurrentAt(payload.promotionId);
      return { location: finalDir, details: { current: join(this.root, 'current') } };
    } catch (err) {
      if (isAppError(err)) throw err;
      throw new AppError('PROMOTION_APPLY_FAILED', `directory target ${this.name}: ${err instanceof Error ? err.message : String(err)}`, { retryable: true, cause: err });
    } finally {
      await rm(tmpDir, { recursive: true, force: true });
    }
  }

  /** True when this promotion's folder exists with the same digest; a different digest is a conflict. */
  private async alreadyPublished(finalDir: string, digest: string): Promise<boolean> {
    const recorded = await recordedDigest(finalDir);
    if (recorded === undefined) return false;
    if (recorded === digest) return true;
    throw new AppError('PROMOTION_APPLY_FAILED', `directory target ${this.name}: ${finalDir} already holds a different artifact set`, { retryable: false });
  }

  /** Renames the finished folder into place; losing a race to the same promotion is success. */
  private async publish(tmpDir: string, finalDir: string, digest: string): Promise<void> {
    try {
      await rename(tmpDir, finalDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await this.alreadyPublished(finalDir, digest))) return;
      throw err;
    }
  }

  /** A new relative symlink renamed over `current`: rename(2) replaces it atomically. */
  private async pointCurrentAt(promotionId: string): Promise<void> {
    const tmpLink = join(this.root, `.current.tmp-${randomSuffix()}`);
    await symlink(join('versions', promotionId), tmpLink);
    try {
      await rename(tmpLink, join(this.root, 'current'));
    } catch (err) {
      await rm(tmpLink, { force: true });
      throw err;
    }
  }
}
