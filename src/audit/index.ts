/** Public face of the audit module: hash-chained, signed, redacted records of every action. */
export { AUDIT_ACTIONS, type AuditAction } from './audit-actions.js';
export {
  GENESIS_HASH,
  GENESIS_HEAD,
  AuditEventSchema,
  AuditRecordSchema,
  ActorSchema,
  computeHash,
  nextRecord,
  hashMatches,
  parseRecord,
  type Actor,
  type AuditEvent,
  type AuditRecord,
  type ChainHead,
} from './audit-record.js';
export { redact, redactString, isSecretKey, REDACTED } from './redact.js';
export type { AuditStore } from './audit-store.js';
export { commandOrigin, recordMutation, startupOrigin, type AuditOrigin, type MutationFacts } from './audit-origin.js';
export { auditKeys, type AuditKeys, type ActorFilter } from './audit-keys.js';
export { RedisAuditStore, type RedisAuditStoreOptions } from './redis-audit-store.js';
export { loadOrCreateSigningKey, signingKeyFromPem, verifyKeyFromPem, publicKeyPem, keyIdOf, type SigningKey, type VerifyKey } from './signing-key.js';
export { signCheckpoint, checkpointSignatureValid, CheckpointSchema, type Checkpoint } from './checkpoint.js';
export { CheckpointFileSink } from './checkpoint-file-sink.js';
export { Checkpointer, type CheckpointerOptions } from './checkpointer.js';
export { VERIFY_REASONS, type VerifyReason, type VerifyFailure } from './chain-walker.js';
export { verifyChain, type VerifyChainOptions, type VerifyResult, type VerifySuccess } from './verify-chain.js';
export { Retention, type RetentionOptions, type RetentionReport } from './retention.js';
export { segmentName, listSegments, type SegmentFile } from './segment-file.js';
export { exportRange, type ExportRangeOptions } from './export-range.js';
export { queryAudit, AuditQuerySchema, QUERY_DEFAULT_LIMIT, QUERY_MAX_LIMIT, type AuditQuery, type AuditPage } from './query.js';
export { AuditOptionsSchema, AUDIT_DEFAULTS, MIN_RETENTION_DAYS, parseAuditOptions, defaultAuditPaths, withAuditDefaults, type AuditOptions } from './audit-options.js';
