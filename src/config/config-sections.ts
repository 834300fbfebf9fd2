/**
 * How config.ts maps variables onto each module's options (the module's schema holds the ranges
 * and defaults), and the sections built from several variables: the audit files, the Redis
 * endpoints, the artifact store, container labels. Every problem is named by its variable.
 * Reads no environment: config.ts hands it the parsed variables.
 */
import { basename, dirname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { ArtifactStoreOptionsSchema, type ArtifactStoreOptions } from '../artifacts/index.js';
import { AuditOptionsSchema, defaultAuditPaths, type AuditOptions } from '../audit/index.js';
import type { JobCredentialOptions } from '../credentials/index.js';
import type { CallRate } from '../gateway/index.js';
import type { ReviewOptions, WebhookOptions } from '../review/index.js';
import { parseSentinelHosts, type RedisEndpoint } from '../shared/redis/index.js';
import type { AuditEnv, RawConfig } from '../config.js';

/** Each audit option and the variable that sets it (messages name the variable). */
const AUDIT_ENV = {
  signingKeyFile: 'AIRLOCK_AUDIT_SIGNING_KEY_FILE',
  checkpointFile: 'AIRLOCK_AUDIT_CHECKPOINT_FILE',
  segmentsDir: 'AIRLOCK_AUDIT_SEGMENTS_DIR',
  checkpointEveryRecords: 'AIRLOCK_AUDIT_CHECKPOINT_EVERY_RECORDS',
  checkpointEveryMs: 'AIRLOCK_AUDIT_CHECKPOINT_EVERY_MS',
  checkpointPollMs: 'AIRLOCK_AUDIT_CHECKPOINT_POLL_MS',
  staleAfterRecords: 'AIRLOCK_AUDIT_STALE_AFTER_RECORDS',
  staleAfterMs: 'AIRLOCK_AUDIT_STALE_AFTER_MS',
  retentionDays: 'AIRLOCK_AUDIT_RETENTION_DAYS',
  segmentMaxRecords: 'AIRLOCK_AUDIT_SEGMENT_MAX_RECORDS',
  appendMaxAttempts: 'AIRLOCK_AUDIT_APPEND_MAX_ATTEMPTS',
  appendTimeoutMs: 'AIRLOCK_AUDIT_APPEND_TIMEOUT_MS',
  waitReplicas: 'AIRLOCK_AUDIT_WAIT_REPLICAS',
  waitTimeoutMs: 'AIRLOCK_AUDIT_WAIT_TIMEOUT_MS',
} as const satisfies Record<keyof AuditOptions, keyof AuditEnv>;

/** The job credential options a deployment sets, by the variable that sets each (the rest keep their defaults). */
export const CREDENTIAL_ENV = {
  issuer: 'AIRLOCK_JOB_TOKEN_ISSUER',
  audience: 'AIRLOCK_JOB_TOKEN_AUDIENCE',
  graceMs: 'AIRLOCK_JOB_TOKEN_GRACE_MS',
  maxLifetimeMs: 'AIRLOCK_JOB_TOKEN_MAX_LIFETIME_MS',
  tokenLifetimeMs: 'AIRLOCK_JOB_TOKEN_LIFETIME_MS',
} as const satisfies Partial<Record<keyof JobCredentialOptions, keyof RawConfig>>;

export const CALL_RATE_ENV = {
  perSecond: 'AIRLOCK_GATEWAY_CALLS_PER_S',
  burst: 'AIRLOCK_GATEWAY_CALL_BURST',
} as const satisfies Record<keyof CallRate, keyof RawConfig>;

export const REVIEW_ENV = {
  sweepMs: 'AIRLOCK_REVIEW_SWEEP_MS',
  applyLeaseMs: 'AIRLOCK_REVIEW_APPLY_LEASE_MS',
} as const satisfies Record<keyof ReviewOptions, keyof RawConfig>;

export const WEBHOOK_ENV = {
  attempts: 'AIRLOCK_WEBHOOK_ATTEMPTS',
  backoffMs: 'AIRLOCK_WEBHOOK_BACKOFF_MS',
  timeoutMs: 'AIRLOCK_WEBHOOK_TIMEOUT_MS',
} as const satisfies Record<keyof WebhookOptions, keyof RawConfig>;

/**
 * AIRLOCK_AUDIT_* onto the audit module's options. Default files live under the data dir
 * (defaultAuditPaths): one signing key per data dir, and the checkpoint file and segments in a
 * folder named after the Redis prefix, because each prefix is its own chain and a chain's
 * checkpoints must never be mixed with another's.
 */
export function auditOptions(e: AuditEnv, cwd: string): { success: true; options: AuditOptions } | { success: false; issues: string[] } {
  const dataDir = resolve(cwd, e.AIRLOCK_DATA_DIR);
  const defaults = defaultAuditPaths(dataDir);
  const perChain = (path: string) => join(dirname(path), e.AIRLOCK_REDIS_PREFIX, basename(path));
  const input: Record<string, unknown> = {
    signingKeyFile: e.AIRLOCK_AUDIT_SIGNING_KEY_FILE === undefined ? defaults.signingKeyFile : resolve(cwd, e.AIRLOCK_AUDIT_SIGNING_KEY_FILE),
    checkpointFile: e.AIRLOCK_AUDIT_CHECKPOINT_FILE === undefined ? perChain(defaults.checkpointFile) : resolve(cwd, e.AIRLOCK_AUDIT_CHECKPOINT_FILE),
    segmentsDir: e.AIRLOCK_AUDIT_SEGMENTS_DIR === undefined ? perChain(defaults.segmentsDir) : resolve(cwd, e.AIRLOCK_AUDIT_SEGMENTS_DIR),
  };
  for (const [option, variable] of Object.entries(AUDIT_ENV)) {
    if (option in input) continue;
    const value = e[variable];
    if (value !== undefined) input[option] = value;
  }
  const parsed = AuditOptionsSchema.safeParse(input);
  if (parsed.success) return { success: true, options: parsed.data };
  return { success: false, issues: issuesByVariable(parsed.error.issues, AUDIT_ENV, 'audit') };
}

/**
 * The jobs' Redis and the audit log's: one URL each, through Sentinel when AIRLOCK_REDIS_SENTINELS
 * names sentinels. The audit log shares the jobs' endpoint unless AIRLOCK_AUDIT_REDIS_URL gives it
 * a server of its own, or AIRLOCK_AUDIT_REDIS_SENTINEL_MASTER another master of the same sentinels.
 */
export function redisEndpoints(e: RawConfig, lines: string[]): { redis: RedisEndpoint; audit: RedisEndpoint } | undefined {
  if (e.AIRLOCK_REDIS_SENTINELS === undefined) {
    if (e.AIRLOCK_REDIS_SENTINEL_MASTER !== undefined || e.AIRLOCK_AUDIT_REDIS_SENTINEL_MASTER !== undefined) {
      lines.push('  AIRLOCK_REDIS_SENTINEL_MASTER: needs AIRLOCK_REDIS_SENTINELS (the sentinels to ask)');
      return undefined;
    }
    return { redis: { url: e.AIRLOCK_REDIS_URL }, audit: { url: e.AIRLOCK_AUDIT_REDIS_URL ?? e.AIRLOCK_REDIS_URL } };
  }
  const hosts = parseSentinelHosts(e.AIRLOCK_REDIS_SENTINELS);
  if ('error' in hosts) lines.push(`  AIRLOCK_REDIS_SENTINELS: ${hosts.error}`);
  if (e.AIRLOCK_REDIS_SENTINEL_MASTER === undefined) lines.push('  AIRLOCK_REDIS_SENTINEL_MASTER: name the master the sentinels monitor (sentinel monitor <name> …)');
  if ('error' in hosts || e.AIRLOCK_REDIS_SENTINEL_MASTER === undefined) return undefined;
  const via = (name: string) => ({ hosts, name, password: e.AIRLOCK_REDIS_SENTINEL_PASSWORD });
  const redis = { url: e.AIRLOCK_REDIS_URL, sentinel: via(e.AIRLOCK_REDIS_SENTINEL_MASTER) };
  if (e.AIRLOCK_AUDIT_REDIS_URL !== undefined) return { redis, audit: { url: e.AIRLOCK_AUDIT_REDIS_URL } };
  return { redis, audit: { url: e.AIRLOCK_REDIS_URL, sentinel: via(e.AIRLOCK_AUDIT_REDIS_SENTINEL_MASTER ?? e.AIRLOCK_REDIS_SENTINEL_MASTER) } };
}

/** AIRLOCK_ARTIFACTS_S3_* onto the artifact store's options (a bucket selects S3); else the folder `<data dir>/artifacts`. */
export function artifactStoreOptions(e: RawConfig, cwd: string, lines: string[]): ArtifactStoreOptions | undefined {
  const dataDir = resolve(cwd, e.AIRLOCK_DATA_DIR);
  const s3 = {
    bucket: 'AIRLOCK_ARTIFACTS_S3_BUCKET',
    endpoint: 'AIRLOCK_ARTIFACTS_S3_ENDPOINT',
    region: 'AIRLOCK_ARTIFACTS_S3_REGION',
    forcePathStyle: 'AIRLOCK_ARTIFACTS_S3_FORCE_PATH_STYLE',
    accessKeyId: 'AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID',
    secretAccessKey: 'AIRLOCK_ARTIFACTS_S3_SECRET_ACCESS_KEY',
    requestTimeoutMs: 'AIRLOCK_ARTIFACTS_S3_TIMEOUT_MS',
  } as const satisfies Readonly<Record<string, keyof RawConfig>>;
  const input: Record<string, unknown> =
    e.AIRLOCK_ARTIFACTS_S3_BUCKET === undefined ? { kind: 'file', dir: join(dataDir, 'artifacts') } : { kind: 's3', spoolDir: join(dataDir, 'artifact-spool') };
  if (input['kind'] === 's3') for (const [option, variable] of Object.entries(s3)) if (e[variable] !== undefined) input[option] = e[variable];
  const r = ArtifactStoreOptionsSchema.safeParse(input);
  if (!r.success) lines.push(...issuesByVariable(r.error.issues, s3, 'artifacts'));
  return r.success ? r.data : undefined;
}

/**
 * A module's options from the variables that set them: the module's schema holds the ranges and
 * defaults (config.ts only types the variables). Problems go to `lines`, named by variable.
 */
export function moduleOptions<S extends z.ZodType>(
  schema: S,
  e: RawConfig,
  variables: Readonly<Record<string, keyof RawConfig>>,
  section: string,
  lines: string[],
): z.infer<S> | undefined {
  const input: Record<string, unknown> = {};
  for (const [option, variable] of Object.entries(variables)) if (e[variable] !== undefined) input[option] = e[variable];
  const r = schema.safeParse(input);
  if (!r.success) lines.push(...issuesByVariable(r.error.issues, variables, section));
  return r.success ? r.data : undefined;
}

/** A module's option issues, each named by the variable the option comes from. */
export function issuesByVariable(issues: readonly z.core.$ZodIssue[], variables: Readonly<Record<string, string>>, section: string): string[] {
  return issues.map((i) => {
    const option = String(i.path[0] ?? '');
    return `  ${variables[option] ?? `${section}.${option}`}: ${i.message}`;
  });
}

/** `name=value,name=value` (checked by the schema) as a record. */
export function labelsOf(text: string | undefined): Record<string, string> {
  if (text === undefined) return {};
  return Object.fromEntries(text.split(',').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

export function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) if (member !== null && typeof member === 'object') deepFreeze(member as object);
  return Object.freeze(value);
}
