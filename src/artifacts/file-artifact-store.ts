/**
 * The ArtifactStore on a local folder (`<dataDir>/artifacts/<first two hex>/<sha256>`): the
 * worker writes, the API reads, no Docker needed to serve a result. Blobs are written to a
 * temporary name and renamed to their digest, so a reader never sees a half-written blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, sha256Hex } from '../shared/index.js';
import type { CollectableArtifactStore, StoredBlob } from './artifact-store.js';

const SHA256 = /^[0-9a-f]{64}$/;

export class FileArtifactStore implements CollectableArtifactStore {
  constructor(private readonly dir: string) {}

  private pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact');
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  async put(content: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(content);
    // stored once per content (a blob written again is young again: the GC's minimum age counts from here)
    if (await touch(this.pathOf(sha256))) return sha256;
    return this.putParts([content]);
  }

  async putParts(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.put-${randomBytes(8).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    try {
      const file = await open(tmp, 'wx', 0o600);
      try {
        for await (const part of parts) {
          hash.update(part);
          await file.write(part);
        }
      } finally {
        await file.close();
      }
      const sha256 = hash.digest('hex');
      const path = this.pathOf(sha256);
      if (await touch(path)) return sha256;
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
      await rename(tmp, path);
      return sha256;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async read(sha256: string): Promise<Buffer> {
    let content: Buffer;
    try {
      content = await readFile(this.pathOf(sha256));
    } catch (err) {
      throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact in the store', { cause: err });
    }
    const actual = sha256Hex(content);
    if (actual !== sha256) throw new AppError('ARTIFACT_CORRUPT', `artifact ${sha256} does not match its digest (store holds ${actual})`);
    return content;
  }

  async has(sha256: string): Promise<boolean> {
    return SHA256.test(sha256) && (await exists(this.pathOf(sha256)));
  }

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch(() => undefined);
  }

  async *list(): AsyncIterable<StoredBlob> {
    for (const fan of await readdir(this.dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{2}$/.test(fan)) continue;
      for (const name of await readdir(join(this.dir, fan)).catch(() => [] as string[])) {
        if (!SHA256.test(name)) continue;
        const st = await stat(join(this.dir, fan, name)).catch(() => undefined);
        if (st !== undefined) yield { sha256: name, bytes: st.size, modifiedMs: st.mtimeMs };
      }
    }
  }
}

/** Sets the blob's modification time to now; false when there is no such blob. */
async function touch(path: string): Promise<boolean> {
  const now = new Date();
  return utimes(path, now, now).then(
    () => true,
    () => false,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
