/**
 * The path rules every file-writing target shares. Checked for the whole set before anything
 * is written, so a refused payload leaves nothing behind.
 */
import { AppError, sha256Hex, unsafePath } from '../../shared/index.js';
import type { PromotedFile } from '../promotion-target.js';

/** Why `path` is not a plain relative path that stays inside a target root (the shared safePath rule), or undefined. */
export function unsafePathReason(path: string): string | undefined {
  return unsafePath(path)?.message;
}

function refuse(message: string): AppError {
  return new AppError('PROMOTION_APPLY_FAILED', message, { retryable: false });
}

/** Throws PROMOTION_APPLY_FAILED when a path is unsafe, repeated, reserved, both a file and a directory, or a content does not match its digest. */
export function checkPromotedFiles(files: readonly PromotedFile[], reserved: readonly string[] = []): void {
  const seen = new Set<string>();
  for (const f of files) {
    const quoted = JSON.stringify(f.path.slice(0, 200));
    const reason = unsafePathReason(f.path);
    if (reason !== undefined) throw refuse(`artifact path ${quoted} ${reason}`);
    if (reserved.includes(f.path)) throw refuse(`artifact path ${quoted} is reserved by the target`);
    if (seen.has(f.path)) throw refuse(`artifact path ${quoted} appears twice`);
    seen.add(f.path);
    if (f.content.length !== f.bytes || sha256Hex(f.content) !== f.sha256) throw refuse(`artifact ${quoted} does not match its recorded size and sha256`);
  }
  for (const path of seen) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (seen.has(dir)) throw refuse(`artifact path ${JSON.stringify(dir)} is both a file and a directory`);
    }
  }
}

/** Promotion ids name folders and commit trailers: only id characters, no dots or slashes. */
export function checkPromotionId(promotionId: string): void {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(promotionId)) throw refuse(`promotion id ${JSON.stringify(promotionId.slice(0, 200))} is not a plain id`);
}
