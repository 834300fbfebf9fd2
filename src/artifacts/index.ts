export type { ArtifactStore, CollectableArtifactStore, StoredBlob } from './artifact-store.js';
export { FileArtifactStore } from './file-artifact-store.js';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-artifact-store.js';
export { ArtifactStoreOptionsSchema, openArtifactStore, type ArtifactStoreOptions, type OpenedArtifactStore } from './open-artifact-store.js';
export { artifactDigest, ArtifactRefSchema, type ArtifactRef } from './artifact-digest.js';
export { ArtifactPins, PIN_TTL_MS } from './artifact-pins.js';
export { PinningArtifactStore } from './pinning-artifact-store.js';
export { collectArtifacts, digestsIn, GC_MIN_AGE_MS, type ArtifactGcOptions, type ArtifactGcReport, type ReferenceSource } from './artifact-gc.js';
