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

/** One stored blob as a listing sees it. */
export interface StoredBlob {
  readonly sha256: string;
  readonly bytes: number;
  /** When it was last written (a put of content already there refreshes it on the file store). */
  readonly modifiedMs: number;
}

/** A store the garbage collector can sweep: both adapters. */
export interface CollectableArtifactStore extends ArtifactStore {
  /** Every blob, in no particular order (temporary files of puts in progress are not blobs). */
  list(): AsyncIterable<StoredBlob>;
  /** Deletes a blob; one already gone is not an error. */
  remove(sha256: string): Promise<void>;
}
