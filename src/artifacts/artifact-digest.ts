import { z } from 'zod';
import { canonicalJson, sha256Hex } from '../shared/index.js';

/** One stored artifact as a job result lists it. */
export const ArtifactRefSchema = z.object({ path: z.string(), bytes: z.number().int().nonnegative(), sha256: z.string() }).readonly();
export type ArtifactRef = z.infer<typeof ArtifactRefSchema>;

/** One digest over the whole set: sha256 of the canonical JSON of the path-sorted list. */
export function artifactDigest(entries: readonly ArtifactRef[]): string {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((e) => ({ path: e.path, bytes: e.bytes, sha256: e.sha256 }));
  return sha256Hex(canonicalJson(sorted));
}
