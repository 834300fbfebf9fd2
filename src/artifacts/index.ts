export { FileArtifactStore } from './artifact-store.js';
export { artifactDigest, ArtifactRefSchema, type ArtifactRef } from './artifact-digest.js';
