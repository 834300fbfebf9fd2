/**
 * Port: where artifacts and other content-addressed blobs live (collected files, the artifacts
 * tar, a promotion's patch). A blob's name is its sha256; reading re-checks it, so a blob that
 * changed in the store is refused (ARTIFACT_CORRUPT), never served. Adapters: FileArtifactStore
 * (a folder the worker writes and the API reads) and S3ArtifactStore (an S3-compatible bucket).
 */
export interface ArtifactStore {
  /** Stores the bytes (once per content) and returns their sha256. */
  put(content: Uint8Array): Promise<string>;
  /** Stores a blob given in parts, hashed as it is written (the parts are never joined in memory). */
  putParts(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<string>;
  /** The blob, after re-checking its digest. ARTIFACT_NOT_FOUND when absent. */
  read(sha256: string): Promise<Buffer>;
  /** Whether the store holds a blob by that name (its content is not re-checked). */
  has(sha256: string): Promise<boolean>;
}
