export type { ArtifactStore } from './artifact-store.js';
export { FileArtifactStore } from './file-artifact-store.js';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-artifact-store.js';
export { ArtifactStoreOptionsSchema, openArtifactStore, type ArtifactStoreOptions, type OpenedArtifactStore } from './open-artifact-store.js';
export { artifactDigest, ArtifactRefSchema, type ArtifactRef } from './artifact-digest.js';
