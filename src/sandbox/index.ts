export type { ContainerRuntime } from './container-runtime.js';
export { LABEL_DEPLOYMENT, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER } from './container-runtime.js';
export { DockerRuntime, type DockerRuntimeOptions } from './docker-runtime.js';
export { assertEngineLimits, type EngineFacts } from './engine-limits.js';
export { packFiles } from './input-archive.js';
export { collectFromTar, safeEntryPath } from './artifact-collector.js';
export { containerOptions, jobGid, MASKED_PATHS, READONLY_PATHS, SANDBOX_UID, WORK_DIR } from './hardening.js';
export type { CollectedArtifact, RejectedArtifact, RunOptions, SandboxFile, SandboxLimits, SandboxOutcome, SandboxResult, SandboxSpec } from './sandbox-spec.js';
export { loadImageCatalog } from './image-catalog.js';
