export type { ContainerRuntime, PreparedSandbox, RunningSandbox } from './container-runtime.js';
export { LABEL_DEPLOYMENT, LABEL_ISOLATION, LABEL_JOB, LABEL_MANAGED, LABEL_WORKER } from './container-runtime.js';
export { DockerRuntime, type DockerRuntimeOptions } from './docker-runtime.js';
export { runSandbox } from './run-sandbox.js';
export { assertEngineLimits, type EngineFacts } from './engine-limits.js';
export { PATCH_REFUSED_PREFIX } from './patch-check.js';
export { collectFromTar, safeEntryPath, type Collected } from './artifact-collector.js';
export { containerOptions, INIT_UID, JOB_ID_BASE, jobIds, MASKED_PATHS, READONLY_PATHS, WORK_DIR } from './hardening.js';
export type {
  ArtifactsTar,
  CollectedArtifact,
  ContainerLimits,
  RejectedArtifact,
  RunLimits,
  SandboxBehaviour,
  SandboxFile,
  SandboxIsolation,
  SandboxLimits,
  SandboxOutcome,
  SandboxResult,
  SandboxRun,
  SandboxSpec,
  OutputListener,
} from './sandbox-spec.js';
export { loadImageCatalog } from './image-catalog.js';
export {
  claimName,
  containerLimitsOf,
  fitsTemplate,
  jobOfContainer,
  LABEL_POOL,
  LABEL_POOL_KEY,
  MAX_POOL_SIZE,
  poolSize,
  PoolOptionsSchema,
  PoolStateSchema,
  SandboxPool,
  templateKey,
  type PoolClaim,
  type PoolEngine,
  type PoolOptions,
  type PoolOptionsInput,
  type PoolRequest,
  type PoolState,
  type PoolTemplate,
  type SandboxPoolOptions,
  type WarmSandbox,
} from './pool/index.js';
