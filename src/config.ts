/**
 * The only reader of process.env. Every AIRLOCK_* variable is parsed here once with zod;
 * all problems are reported together and the result is frozen. Each factory receives only
 * the slice it needs.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type { ArtifactStoreOptions } from './artifacts/index.js';
import type { AuditOptions } from './audit/index.js';
import { JobCredentialOptionsSchema, type JobCredentialOptions } from './credentials/index.js';
import { CallRateSchema, type CallRate } from './gateway/index.js';
import { BaselineOptionsSchema, LimitOptionsSchema, type BaselineOptions, type LimitOptions } from './monitor/index.js';
import { ReviewOptionsSchema, WebhookOptionsSchema, type ReviewOptions, type WebhookOptions } from './review/index.js';
import { PoolOptionsSchema, type PoolOptions } from './sandbox/index.js';
import { AppError } from './shared/index.js';
import type { RedisEndpoint } from './shared/redis/index.js';
import {
  artifactStoreOptions,
  auditOptions,
  CALL_RATE_ENV,
  CREDENTIAL_ENV,
  deepFreeze,
  labelsOf,
  moduleOptions,
  redisEndpoints,
  REVIEW_ENV,
  WEBHOOK_ENV,
} from './config/config-sections.js';

const LABEL = '[A-Za-z0-9][A-Za-z0-9._/-]{0,127}=[^,]{0,256}';
const LABELS = new RegExp(`^${LABEL}(,${LABEL})*$`);

const HOST_NAME = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*';
const HOST_NAMES = new RegExp(`^${HOST_NAME}(,${HOST_NAME})*$`);
const ORIGIN = `https?://${HOST_NAME}(?::\\d{1,5})?`;
const ORIGINS = new RegExp(`^${ORIGIN}(,${ORIGIN})*$`);
const listOf = (v: string | undefined): string[] => (v === undefined ? [] : v.split(','));

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z.object({
  AIRLOCK_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  AIRLOCK_HOST: z.string().min(1).default('127.0.0.1'),
  AIRLOCK_PORT: int(8080, 0, 65535),
  AIRLOCK_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .default('redis://127.0.0.1:6379'),
  AIRLOCK_REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]+$/)
    .default('airlock'),
  // Redis Sentinel (issue 19): every connection asks these sentinels (host:port,…) for the master of that name
  AIRLOCK_REDIS_SENTINELS: z.string().min(1).optional(),
  AIRLOCK_REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
  AIRLOCK_REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  AIRLOCK_AUDIT_REDIS_SENTINEL_MASTER: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .optional(),
  // the S3 artifact store (issue 19): only types here; ranges and defaults live in artifacts' ArtifactStoreOptionsSchema
  AIRLOCK_ARTIFACTS_S3_BUCKET: z.string().optional(),
  AIRLOCK_ARTIFACTS_S3_ENDPOINT: z.string().optional(),
  AIRLOCK_ARTIFACTS_S3_REGION: z.string().optional(),
  AIRLOCK_ARTIFACTS_S3_FORCE_PATH_STYLE: z.stringbool().optional(),
  AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID: z.string().optional(),
  AIRLOCK_ARTIFACTS_S3_SECRET_ACCESS_KEY: z.string().optional(),
  AIRLOCK_ARTIFACTS_S3_TIMEOUT_MS: z.coerce.number().int().optional(),
  AIRLOCK_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  // extra labels on every sandbox container, `name=value,name=value` (the sandbox's own `airlock.*` labels win)
  AIRLOCK_CONTAINER_LABELS: z.string().regex(LABELS, 'must be name=value pairs separated by commas').optional(),
  AIRLOCK_DATA_DIR: z.string().min(1).default('.airlock'),
  AIRLOCK_PROFILES_DIR: z.string().min(1).default('profiles'),
  AIRLOCK_WORKER_CONCURRENCY: int(availableParallelism(), 1, 256),
  AIRLOCK_WORKER_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  AIRLOCK_JOB_ATTEMPTS: int(3, 1, 20),
  AIRLOCK_RETRY_BACKOFF_MS: int(1000, 0),
  AIRLOCK_LOCK_DURATION_MS: int(30_000, 1000),
  AIRLOCK_STALLED_INTERVAL_MS: int(30_000, 1000),
  // the warm pool (issue 12): only types here; ranges and defaults live in sandbox's PoolOptionsSchema
  AIRLOCK_POOL_SIZE: z.string().optional(),
  AIRLOCK_POOL_MAX_IDLE_MS: z.coerce.number().int().optional(),
  // per-key limits and anomalous traffic (issue 15): only types here; ranges and defaults live in monitor's LimitOptionsSchema and BaselineOptionsSchema
  AIRLOCK_LIMITS_QUEUE_MAX_DEPTH: z.coerce.number().int().optional(),
  AIRLOCK_LIMITS_ANONYMOUS_PER_MINUTE: z.coerce.number().int().optional(),
  AIRLOCK_LIMITS_REFUSAL_WINDOW_MS: z.coerce.number().int().optional(),
  AIRLOCK_ANOMALY_Z: z.coerce.number().optional(),
  AIRLOCK_ANOMALY_MIN_EXCESS: z.coerce.number().int().optional(),
  AIRLOCK_ANOMALY_WARMUP_HOURS: z.coerce.number().int().optional(),
  AIRLOCK_ANOMALY_THROTTLE_MS: z.coerce.number().int().optional(),
  // where anomaly alerts go (signed like the promotion webhooks), and the name of the secret that signs them (secrets file or AIRLOCK_SECRET_<NAME>)
  AIRLOCK_ANOMALY_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  AIRLOCK_ANOMALY_WEBHOOK_SECRET: z.string().min(1).optional(),
  AIRLOCK_MAX_WAIT_S: int(60, 0, 600),
  AIRLOCK_BODY_LIMIT_BYTES: int(8 * 1024 * 1024, 1024),
  // the API role creates the first admin key when no live one exists
  AIRLOCK_BOOTSTRAP_ADMIN: z.stringbool().default(true),
  // POST /mcp's DNS-rebinding allowances (issue 14): host names besides loopback and IP literals; browser origins
  AIRLOCK_MCP_ALLOWED_HOSTS: z.string().regex(HOST_NAMES, 'must be host names without port, separated by commas').optional(),
  AIRLOCK_MCP_ALLOWED_ORIGINS: z.string().regex(ORIGINS, 'must be origins (http[s]://host[:port]) separated by commas').optional(),
  AIRLOCK_RESULT_TTL_S: int(7 * 24 * 3600, 60),
  // artifact garbage collection (issue 18): how often the worker sweeps (0: never; `airlock artifacts gc` still does), and the age below which a blob is kept
  AIRLOCK_ARTIFACTS_GC_INTERVAL_MS: int(3_600_000, 0),
  AIRLOCK_ARTIFACTS_GC_MIN_AGE_MS: int(3_600_000, 0),
  AIRLOCK_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // tools and job credentials (issue 5): what a job may reach through the gateway
  AIRLOCK_TOOLS_FILE: z.string().min(1).optional(),
  AIRLOCK_TOOL_SECRETS_FILE: z.string().min(1).optional(),
  AIRLOCK_GATEWAY_DIR: z.string().min(1).optional(),
  // the gateway's call rate: only types here; ranges and defaults live in the gateway's CallRateSchema
  AIRLOCK_GATEWAY_CALLS_PER_S: z.coerce.number().int().optional(),
  AIRLOCK_GATEWAY_CALL_BURST: z.coerce.number().int().optional(),
  AIRLOCK_JOB_TOKEN_KEY_DIR: z.string().min(1).optional(),
  AIRLOCK_JOB_TOKEN_ISSUER: z.string().min(1).optional(),
  AIRLOCK_JOB_TOKEN_AUDIENCE: z.string().min(1).optional(),
  AIRLOCK_JOB_TOKEN_GRACE_MS: z.coerce.number().int().optional(),
  AIRLOCK_JOB_TOKEN_MAX_LIFETIME_MS: z.coerce.number().int().optional(),
  AIRLOCK_JOB_TOKEN_LIFETIME_MS: z.coerce.number().int().optional(),
  // promotions and review (issue 6)
  AIRLOCK_REVIEW_POLICY_FILE: z.string().min(1).optional(),
  // only types here; ranges and defaults live in review's ReviewOptionsSchema and WebhookOptionsSchema
  AIRLOCK_REVIEW_SWEEP_MS: z.coerce.number().int().optional(),
  AIRLOCK_REVIEW_APPLY_LEASE_MS: z.coerce.number().int().optional(),
  AIRLOCK_WEBHOOK_ATTEMPTS: z.coerce.number().int().optional(),
  AIRLOCK_WEBHOOK_BACKOFF_MS: z.coerce.number().int().optional(),
  AIRLOCK_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().optional(),
  AIRLOCK_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  // the CLI's client commands (review, promotion): where the API is and which key to use
  AIRLOCK_URL: z.url({ protocol: /^https?$/ }).optional(),
  AIRLOCK_KEY: z.string().min(1).optional(),
  // audit: only types here; ranges and defaults live in one place, the audit module's AuditOptionsSchema
  AIRLOCK_AUDIT_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  AIRLOCK_AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  AIRLOCK_AUDIT_CHECKPOINT_FILE: z.string().min(1).optional(),
  AIRLOCK_AUDIT_SEGMENTS_DIR: z.string().min(1).optional(),
  AIRLOCK_AUDIT_CHECKPOINT_EVERY_RECORDS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_CHECKPOINT_EVERY_MS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_CHECKPOINT_POLL_MS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_STALE_AFTER_RECORDS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_STALE_AFTER_MS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_RETENTION_DAYS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_SEGMENT_MAX_RECORDS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_APPEND_MAX_ATTEMPTS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_APPEND_TIMEOUT_MS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_WAIT_REPLICAS: z.coerce.number().int().optional(),
  AIRLOCK_AUDIT_WAIT_TIMEOUT_MS: z.coerce.number().int().optional(),
});

export const AuditEnvSchema = ConfigSchema.pick({
  AIRLOCK_DATA_DIR: true,
  AIRLOCK_REDIS_PREFIX: true,
  AIRLOCK_AUDIT_SIGNING_KEY_FILE: true,
  AIRLOCK_AUDIT_CHECKPOINT_FILE: true,
  AIRLOCK_AUDIT_SEGMENTS_DIR: true,
  AIRLOCK_AUDIT_CHECKPOINT_EVERY_RECORDS: true,
  AIRLOCK_AUDIT_CHECKPOINT_EVERY_MS: true,
  AIRLOCK_AUDIT_CHECKPOINT_POLL_MS: true,
  AIRLOCK_AUDIT_STALE_AFTER_RECORDS: true,
  AIRLOCK_AUDIT_STALE_AFTER_MS: true,
  AIRLOCK_AUDIT_RETENTION_DAYS: true,
  AIRLOCK_AUDIT_SEGMENT_MAX_RECORDS: true,
  AIRLOCK_AUDIT_APPEND_MAX_ATTEMPTS: true,
  AIRLOCK_AUDIT_APPEND_TIMEOUT_MS: true,
  AIRLOCK_AUDIT_WAIT_REPLICAS: true,
  AIRLOCK_AUDIT_WAIT_TIMEOUT_MS: true,
});

const LIMIT_ENV = {
  queueMaxDepth: 'AIRLOCK_LIMITS_QUEUE_MAX_DEPTH',
  anonymousRequestsPerMinute: 'AIRLOCK_LIMITS_ANONYMOUS_PER_MINUTE',
  refusalWindowMs: 'AIRLOCK_LIMITS_REFUSAL_WINDOW_MS',
} as const satisfies Partial<Record<keyof LimitOptions, keyof RawConfig>>;

const BASELINE_ENV = {
  zThreshold: 'AIRLOCK_ANOMALY_Z',
  minExcess: 'AIRLOCK_ANOMALY_MIN_EXCESS',
  warmupHours: 'AIRLOCK_ANOMALY_WARMUP_HOURS',
  throttleMs: 'AIRLOCK_ANOMALY_THROTTLE_MS',
} as const satisfies Partial<Record<keyof BaselineOptions, keyof RawConfig>>;

const POOL_ENV = {
  size: 'AIRLOCK_POOL_SIZE',
  maxIdleMs: 'AIRLOCK_POOL_MAX_IDLE_MS',
} as const satisfies Partial<Record<keyof PoolOptions, keyof RawConfig>>;

export type RawConfig = z.infer<typeof ConfigSchema>;
export type AuditEnv = z.infer<typeof AuditEnvSchema>;

export interface Config {
  readonly role: RawConfig['AIRLOCK_ROLE'];
  readonly http: {
    readonly host: string;
    readonly port: number;
    readonly bodyLimitBytes: number;
    readonly maxWaitS: number;
    /** Create the first admin key at start-up when no live one exists (AIRLOCK_BOOTSTRAP_ADMIN). */
    readonly bootstrapAdmin: boolean;
    /**
     * Serve without the audit hook. No variable sets it (a deployment cannot turn auditing off):
     * only scripts/bench-audit.ts sets it on a Config object, to measure what the hook costs.
     */
    readonly unauditedForBenchmark: boolean;
    /**
     * Serve without the limiter and the baseline updates (scripts/bench-limits.ts only, like
     * unauditedForBenchmark: no variable sets it), to measure what they cost.
     */
    readonly unlimitedForBenchmark: boolean;
    /** POST /mcp: host names a request may name besides loopback and IP literals, and browser origins it may come from. */
    readonly mcp: { readonly allowedHosts: readonly string[]; readonly allowedOrigins: readonly string[] };
  };
  /** The URL, and the sentinels when AIRLOCK_REDIS_SENTINELS names them (every connection goes through them). */
  readonly redis: RedisEndpoint & { readonly prefix: string };
  readonly docker: {
    readonly socketPath: string;
    /** Extra labels on every sandbox container (AIRLOCK_CONTAINER_LABELS); the sandbox's own labels win. */
    readonly labels: Readonly<Record<string, string>>;
  };
  readonly dataDir: string;
  readonly profilesDir: string;
  readonly worker: {
    readonly id: string | undefined;
    readonly concurrency: number;
    readonly attempts: number;
    readonly retryBackoffMs: number;
    readonly lockDurationMs: number;
    readonly stalledIntervalMs: number;
  };
  /** The worker's warm pool of started sandboxes (sizes per profile; 0 disables a pool). */
  readonly pool: PoolOptions;
  readonly resultTtlS: number;
  readonly logLevel: RawConfig['AIRLOCK_LOG_LEVEL'];
  /** The audit module's options, plus the Redis its records live in (default: AIRLOCK_REDIS_URL). */
  readonly audit: AuditOptions & { readonly redisUrl: string; readonly redis: RedisEndpoint };
  /** Where artifacts live: `<data dir>/artifacts`, or an S3 bucket (AIRLOCK_ARTIFACTS_S3_*). */
  readonly artifacts: ArtifactStoreOptions;
  /** Artifact garbage collection: the worker's sweep interval (0: none) and the minimum age of a blob it removes. */
  readonly artifactsGc: { readonly intervalMs: number; readonly minAgeMs: number };
  readonly tools: {
    /** JSON array of tool definitions (see docs/security-model.md); none: no tools. */
    readonly file: string | undefined;
    /** JSON object secret name → value, read once at start-up (tool secrets, policy hook secrets); AIRLOCK_SECRET_<NAME> variables add to it. */
    readonly secretsFile: string | undefined;
    readonly envSecrets: Readonly<Record<string, string>>;
    /** Per-job folders holding the gateway socket and the token, mounted read-only into the job. */
    readonly gatewayDir: string;
    /** Tool calls each job's gateway takes in (a token bucket per job); beyond it the job gets 429. */
    readonly callRate: { readonly perSecond: number; readonly burst: number };
  };
  readonly credentials: { readonly keyDir: string; readonly options: JobCredentialOptions };
  readonly review: {
    /** The approval policy (JSON; see docs/promotion.md); none: no targets, every request refused. */
    readonly policyFile: string | undefined;
    readonly sweepMs: number;
    readonly applyLeaseMs: number;
    readonly webhook: { readonly attempts: number; readonly backoffMs: number; readonly timeoutMs: number };
    /** How receivers and notifications link back to this API. */
    readonly publicUrl: string | undefined;
  };
  /** Per-key limits and backpressure, behavioural baselines and where anomaly alerts go (docs/rate-limits.md). */
  readonly limits: {
    readonly options: LimitOptions;
    readonly baselines: BaselineOptions;
    /** The alert webhook and the name of its signing secret; absent: anomalies are audited and listed, not posted. */
    readonly anomalyWebhook: { readonly url: string; readonly secretName: string } | undefined;
  };
  /** For the CLI's client commands. */
  readonly client: { readonly url: string; readonly key: string | undefined };
}

/** Parses an environment (process.env by default). Throws one AppError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = ConfigSchema.safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  // the audit options' own ranges and cross-field rules, reported with the rest even when
  // another variable is wrong (only the variables they are built from must parse)
  const auditEnv = parsed.success ? parsed : AuditEnvSchema.safeParse(env);
  const audit = auditEnv.success ? auditOptions(auditEnv.data, cwd) : null;
  if (audit !== null && !audit.success) lines.push(...audit.issues);
  if (!parsed.success) throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  const e = parsed.data;
  const options = <S extends z.ZodType>(schema: S, variables: Readonly<Record<string, keyof RawConfig>>, section: string) => moduleOptions(schema, e, variables, section, lines);
  const credentialOptions = options(JobCredentialOptionsSchema, CREDENTIAL_ENV, 'credentials');
  const callRate = options(CallRateSchema, CALL_RATE_ENV, 'gateway');
  const review = options(ReviewOptionsSchema, REVIEW_ENV, 'review');
  const webhook = options(WebhookOptionsSchema, WEBHOOK_ENV, 'webhook');
  const pool = options(PoolOptionsSchema, POOL_ENV, 'pool');
  const limits = options(LimitOptionsSchema, LIMIT_ENV, 'limits');
  const baselines = options(BaselineOptionsSchema, BASELINE_ENV, 'anomaly');
  if ((e.AIRLOCK_ANOMALY_WEBHOOK_URL === undefined) !== (e.AIRLOCK_ANOMALY_WEBHOOK_SECRET === undefined)) {
    lines.push('  AIRLOCK_ANOMALY_WEBHOOK_URL: set it together with AIRLOCK_ANOMALY_WEBHOOK_SECRET (the name of the secret that signs the alerts)');
  }
  const endpoints = redisEndpoints(e, lines);
  const artifacts = artifactStoreOptions(e, cwd, lines);
  if (audit === null || !audit.success || credentialOptions === undefined || callRate === undefined || review === undefined || webhook === undefined) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  }
  if (limits === undefined || baselines === undefined || lines.length > 0) throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  if (pool === undefined) throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  if (endpoints === undefined || artifacts === undefined) throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  return deepFreeze(configOf(e, env, cwd, { audit: audit.options, credentialOptions, callRate, review, webhook, pool, endpoints, artifacts, limits, baselines }));
}

/** What loadConfig parsed, by section (each module's options already checked against its schema). */
interface Sections {
  readonly audit: AuditOptions;
  readonly credentialOptions: JobCredentialOptions;
  readonly callRate: CallRate;
  readonly review: ReviewOptions;
  readonly webhook: WebhookOptions;
  readonly pool: PoolOptions;
  readonly endpoints: { readonly redis: RedisEndpoint; readonly audit: RedisEndpoint };
  readonly artifacts: ArtifactStoreOptions;
  readonly limits: LimitOptions;
  readonly baselines: BaselineOptions;
}

function configOf(
  e: RawConfig,
  env: NodeJS.ProcessEnv,
  cwd: string,
  { audit, credentialOptions, callRate, review, webhook, pool, endpoints, artifacts, limits, baselines }: Sections,
): Config {
  return {
    role: e.AIRLOCK_ROLE,
    http: {
      host: e.AIRLOCK_HOST,
      port: e.AIRLOCK_PORT,
      bodyLimitBytes: e.AIRLOCK_BODY_LIMIT_BYTES,
      maxWaitS: e.AIRLOCK_MAX_WAIT_S,
      bootstrapAdmin: e.AIRLOCK_BOOTSTRAP_ADMIN,
      unauditedForBenchmark: false,
      unlimitedForBenchmark: false,
      mcp: { allowedHosts: listOf(e.AIRLOCK_MCP_ALLOWED_HOSTS).map((h) => h.toLowerCase()), allowedOrigins: listOf(e.AIRLOCK_MCP_ALLOWED_ORIGINS).map((o) => o.toLowerCase()) },
    },
    redis: { ...endpoints.redis, prefix: e.AIRLOCK_REDIS_PREFIX },
    docker: { socketPath: e.AIRLOCK_DOCKER_SOCKET, labels: labelsOf(e.AIRLOCK_CONTAINER_LABELS) },
    dataDir: resolve(cwd, e.AIRLOCK_DATA_DIR),
    profilesDir: resolve(cwd, e.AIRLOCK_PROFILES_DIR),
    worker: {
      id: e.AIRLOCK_WORKER_ID,
      concurrency: e.AIRLOCK_WORKER_CONCURRENCY,
      attempts: e.AIRLOCK_JOB_ATTEMPTS,
      retryBackoffMs: e.AIRLOCK_RETRY_BACKOFF_MS,
      lockDurationMs: e.AIRLOCK_LOCK_DURATION_MS,
      stalledIntervalMs: e.AIRLOCK_STALLED_INTERVAL_MS,
    },
    pool,
    resultTtlS: e.AIRLOCK_RESULT_TTL_S,
    logLevel: e.AIRLOCK_LOG_LEVEL,
    audit: { ...audit, redisUrl: endpoints.audit.url, redis: endpoints.audit },
    artifacts,
    artifactsGc: { intervalMs: e.AIRLOCK_ARTIFACTS_GC_INTERVAL_MS, minAgeMs: e.AIRLOCK_ARTIFACTS_GC_MIN_AGE_MS },
    tools: {
      file: e.AIRLOCK_TOOLS_FILE === undefined ? undefined : resolve(cwd, e.AIRLOCK_TOOLS_FILE),
      secretsFile: e.AIRLOCK_TOOL_SECRETS_FILE === undefined ? undefined : resolve(cwd, e.AIRLOCK_TOOL_SECRETS_FILE),
      envSecrets: Object.fromEntries(
        Object.entries(env)
          .filter((kv): kv is [string, string] => kv[0].startsWith('AIRLOCK_SECRET_') && kv[1] !== undefined)
          .map(([k, v]) => [k.slice('AIRLOCK_SECRET_'.length), v]),
      ),
      gatewayDir: resolve(cwd, e.AIRLOCK_GATEWAY_DIR ?? join(e.AIRLOCK_DATA_DIR, 'gateway')),
      callRate,
    },
    credentials: { keyDir: resolve(cwd, e.AIRLOCK_JOB_TOKEN_KEY_DIR ?? join(e.AIRLOCK_DATA_DIR, 'job-keys')), options: credentialOptions },
    review: {
      policyFile: e.AIRLOCK_REVIEW_POLICY_FILE === undefined ? undefined : resolve(cwd, e.AIRLOCK_REVIEW_POLICY_FILE),
      sweepMs: review.sweepMs,
      applyLeaseMs: review.applyLeaseMs,
      webhook,
      publicUrl: e.AIRLOCK_PUBLIC_URL,
    },
    limits: {
      options: limits,
      baselines,
      anomalyWebhook:
        e.AIRLOCK_ANOMALY_WEBHOOK_URL !== undefined && e.AIRLOCK_ANOMALY_WEBHOOK_SECRET !== undefined
          ? { url: e.AIRLOCK_ANOMALY_WEBHOOK_URL, secretName: e.AIRLOCK_ANOMALY_WEBHOOK_SECRET }
          : undefined,
    },
    client: { url: e.AIRLOCK_URL ?? `http://127.0.0.1:${e.AIRLOCK_PORT}`, key: e.AIRLOCK_KEY },
  };
}
