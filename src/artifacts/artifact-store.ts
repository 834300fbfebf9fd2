/**
 * Content-addressed blobs in a folder the worker writes and the API reads (no Docker
 * needed to serve a result). A blob's name is its sha256; reading re-checks it, so a
 * blob changed on disk is refused, never served.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, sha256Hex } from '../shared/index.js';

const SHA256 = /^[0-9a-f]{64}$/;

export class FileArtifactStore {
  constructor(private readonly dir: string) {}

  private pathOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact');
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes (once per content) and returns their sha256. */
  async put(content: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(content);
    const path = this.pathOf(sha256);
    if (await exists(path)) return sha256;
    await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true, mode: 0o700 });
    // write then rename: a reader never sees a half-written blob
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, content, { mode: 0o600 });
    await rename(tmp, path);
    return sha256;
  }

  /** The blob, after re-checking its digest. */
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

  async remove(sha256: string): Promise<void> {
    await unlink(this.pathOf(sha256)).catch(() => undefined);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
