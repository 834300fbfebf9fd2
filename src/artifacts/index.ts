export { FileArtifactStore } from './artifact-store.js';
export { artifactDigest, type ArtifactRef } from './artifact-digest.js';
