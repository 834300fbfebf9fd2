/**
 * The only reader of process.env. Every AIRLOCK_* variable is parsed here once with zod;
 * all problems are reported together and the result is frozen. Each factory receives only
 * the slice it needs.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from './shared/index.js';

const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);

export const ConfigSchema = z.object({
  AIRLOCK_ROLE: z.enum(['all', 'api', 'worker']).default('all'),
  AIRLOCK_HOST: z.string().min(1).default('127.0.0.1'),
  AIRLOCK_PORT: int(8080, 0, 65535),
  AIRLOCK_REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').default('redis://127.0.0.1:6379'),
  AIRLOCK_REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('airlock'),
  AIRLOCK_DOCKER_SOCKET: z.string().min(1).default('/var/run/docker.sock'),
  AIRLOCK_DATA_DIR: z.string().min(1).default('.airlock'),
  AIRLOCK_PROFILES_DIR: z.string().min(1).default('profiles'),
  AIRLOCK_WORKER_CONCURRENCY: int(availableParallelism(), 1, 256),
  AIRLOCK_WORKER_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
  AIRLOCK_JOB_ATTEMPTS: int(3, 1, 20),
  AIRLOCK_RETRY_BACKOFF_MS: int(1000, 0),
  AIRLOCK_LOCK_DURATION_MS: int(30_000, 1000),
  AIRLOCK_STALLED_INTERVAL_MS: int(30_000, 1000),
  AIRLOCK_MAX_WAIT_S: int(60, 0, 600),
  AIRLOCK_BODY_LIMIT_BYTES: int(8 * 1024 * 1024, 1024),
  AIRLOCK_RESULT_TTL_S: int(7 * 24 * 3600, 60),
  AIRLOCK_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RawConfig = z.infer<typeof ConfigSchema>;

export interface Config {
  readonly role: RawConfig['AIRLOCK_ROLE'];
  readonly http: { readonly host: string; readonly port: number; readonly bodyLimitBytes: number; readonly maxWaitS: number };
  readonly redis: { readonly url: string; readonly prefix: string };
  readonly docker: { readonly socketPath: string };
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
  readonly resultTtlS: number;
  readonly logLevel: RawConfig['AIRLOCK_LOG_LEVEL'];
}

/** Parses an environment (process.env by default). Throws one AppError listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Config {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return deepFreeze({
    role: e.AIRLOCK_ROLE,
    http: { host: e.AIRLOCK_HOST, port: e.AIRLOCK_PORT, bodyLimitBytes: e.AIRLOCK_BODY_LIMIT_BYTES, maxWaitS: e.AIRLOCK_MAX_WAIT_S },
    redis: { url: e.AIRLOCK_REDIS_URL, prefix: e.AIRLOCK_REDIS_PREFIX },
    docker: { socketPath: e.AIRLOCK_DOCKER_SOCKET },
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
    resultTtlS: e.AIRLOCK_RESULT_TTL_S,
    logLevel: e.AIRLOCK_LOG_LEVEL,
  });
}

function deepFreeze<T extends object>(value: T): T {
  for (const member of Object.values(value)) if (member !== null && typeof member === 'object') deepFreeze(member as object);
  return Object.freeze(value);
}
