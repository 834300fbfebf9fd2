/**
 * The composition root's public face: what `airlock serve`, the command line, the tests and the
 * benchmarks start through. The command line imports nothing else of ours but the configuration,
 * so the vocabulary it checks and prints comes through here too (until a client module carries it).
 */
export { openAirlock, type Airlock, type OpenOptions } from './airlock.js';
export { serve } from './serve.js';
export { createKey, keyLimits, listAnomalies, listKeys, revokeKey, rotateJobCredentials, unthrottleKey, updateKeyLimits } from './key-commands.js';
export type { Anomaly, KeyLimitOverrides } from '../monitor/index.js';
export { auditPublicKey, exportAuditLog, trimAuditLog, verifyAuditLog, type ExportRequest } from './audit-commands.js';
export { capabilityReport } from './capabilities.js';
export { collectArtifactGarbage } from './artifact-gc.js';
export { runSelftest, SELFTEST_CASES } from './selftest.js';
export { connectionName } from './redis-connections.js';
export { REST_SCHEMAS } from '../api/index.js';
// the command line's vocabulary
export { AppError, compileGlob, ERROR_CODES, type ErrorCode } from '../shared/index.js';
export { ROLES, type ApiKeyInfo, type CreatedApiKey, type Role } from '../credentials/index.js';
export { FINAL_STATES, GROUP_NAME, PROMOTION_STATES, type Promotion, type PromotionState } from '../review/index.js';
export type { KeyRevocationResult } from '../queue/index.js';
