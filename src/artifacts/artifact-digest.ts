import { canonicalJson, sha256Hex } from '../shared/index.js';

export interface ArtifactRef {
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** One digest over the whole set: sha256 of the canonical JSON of the path-sorted list. */
export function artifactDigest(entries: readonly ArtifactRef[]): string {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((e) => ({ path: e.path, bytes: e.bytes, sha256: e.sha256 }));
  return sha256Hex(canonicalJson(sorted));
}
