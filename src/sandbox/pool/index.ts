export { claimName, jobOfContainer, LABEL_POOL, LABEL_POOL_KEY, type PoolEngine, type WarmSandbox } from './pool-engine.js';
export { MAX_POOL_SIZE, POOL_NAME, poolSize, PoolOptionsSchema, type PoolOptions, type PoolOptionsInput, type PoolSizes } from './pool-options.js';
export { containerLimitsOf, fitsTemplate, LOWERABLE_LIMITS, templateKey, type Fit, type PoolTemplate } from './pool-template.js';
export { PoolStateSchema, type PoolState } from './pool-state.js';
export { SandboxPool, type PoolClaim, type PoolRequest, type SandboxPoolOptions } from './sandbox-pool.js';
