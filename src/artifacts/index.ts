export type { ArtifactStore } from './artifact-store.js';
export { FileArtifactStore } from './file-artifact-store.js';
export { artifactDigest, ArtifactRefSchema, type ArtifactRef } from './artifact-digest.js';
