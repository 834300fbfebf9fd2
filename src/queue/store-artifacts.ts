/** A run's collected files into the artifact store: each blob, and the tar the collector built while it read them (one pass, no re-packing). */
import { artifactDigest, type ArtifactStore } from '../artifacts/index.js';
import type { SandboxResult } from '../sandbox/index.js';
import { AppError, isAppError } from '../shared/index.js';
import type { StoredArtifacts } from './job-result.js';

const NONE: StoredArtifacts = { entries: [], digest: null, tarSha256: null };

export async function storeArtifacts(store: ArtifactStore, result: Pick<SandboxResult, 'artifacts' | 'artifactsTar'>): Promise<StoredArtifacts> {
  if (result.artifacts.length === 0) return NONE;
  if (result.artifactsTar === undefined) throw new AppError('INTERNAL', 'the sandbox collected artifacts without their tar');
  try {
    for (const a of result.artifacts) await store.put(a.content);
    const tarSha256 = await store.putParts(result.artifactsTar.chunks);
    const entries = result.artifacts.map((a) => ({ path: a.path, bytes: a.bytes, sha256: a.sha256 }));
    return { entries, digest: artifactDigest(entries), tarSha256 };
  } catch (err) {
    // not retryable: a retry would run the program again
    const full = (err as NodeJS.ErrnoException).code === 'ENOSPC' || (isAppError(err) && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC');
    const why = full ? 'the artifact store is out of space (ENOSPC)' : (err as Error).message;
    throw new AppError('INTERNAL', `could not store artifacts: ${why}`, { cause: err });
  }
}
