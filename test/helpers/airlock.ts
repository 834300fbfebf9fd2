/**
 * Starts a real Airlock (API + worker, or either) through the composition root, against the real
 * Redis and Docker engine, with a unique Redis prefix and a test label on every container (both
 * configuration: AIRLOCK_REDIS_PREFIX, AIRLOCK_CONTAINER_LABELS). `stop()` drains, removes any
 * container of this test that is left, and deletes the test's Redis keys.
 */
import Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../src/config.js';
import type { CreatedApiKey, Role } from '../../src/credentials/index.js';
import { openAirlock, type Airlock } from '../../src/root/index.js';
import { jobOfContainer, LABEL_JOB } from '../../src/sandbox/index.js';
import { createLogger, type Clock } from '../../src/shared/index.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './redis.js';

export const TEST_LABEL = 'airlock.test';
export const docker = new Docker({ socketPath: process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });

export interface TestAirlock {
  readonly airlock: Airlock;
  readonly config: Config;
  readonly prefix: string;
  readonly testId: string;
  readonly baseUrl: string;
  key(role?: Role, owner?: string, groups?: string[]): Promise<CreatedApiKey>;
  /** fetch against the live server with a bearer key. */
  request(method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: any }>;
  /** Job containers carrying this test's label, or only one job's (should be none after each job); the warm pool's unclaimed containers are not counted. */
  containers(jobId?: string): Promise<Docker.ContainerInfo[]>;
  stop(): Promise<void>;
}

/** A configuration from these variables alone (never the test process's environment). */
export function testConfig(prefix: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    AIRLOCK_REDIS_URL: TEST_REDIS_URL,
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_PORT: '0',
    // tests make their own keys
    AIRLOCK_BOOTSTRAP_ADMIN: 'false',
    AIRLOCK_WORKER_CONCURRENCY: '2',
    AIRLOCK_RETRY_BACKOFF_MS: '200',
    AIRLOCK_LOG_LEVEL: process.env['AIRLOCK_TEST_LOG_LEVEL'] ?? 'silent',
    ...(process.env['AIRLOCK_DATA_DIR'] ? { AIRLOCK_DATA_DIR: process.env['AIRLOCK_DATA_DIR'] } : {}),
    ...env,
  });
}

/** `logLines`: collect every log line (at debug level) instead of discarding them, e.g. to scan for secrets. */
export async function startTestAirlock(name: string, env: Record<string, string> = {}, opts: { logLines?: string[]; clock?: Clock } = {}): Promise<TestAirlock> {
  const prefix = uniquePrefix(name);
  const testId = `${name}-${randomBytes(4).toString('hex')}`;
  // the audit signing key, checkpoints and segments of this test's chain: a temp dir stop() removes
  const auditDir = await mkdtemp(join(tmpdir(), 'airlock-test-audit-'));
  const config = testConfig(prefix, {
    AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(auditDir, 'signing-key.pem'),
    AIRLOCK_AUDIT_CHECKPOINT_FILE: join(auditDir, 'checkpoints.jsonl'),
    AIRLOCK_AUDIT_SEGMENTS_DIR: join(auditDir, 'segments'),
    AIRLOCK_CONTAINER_LABELS: `${TEST_LABEL}=${testId}`,
    ...env,
  });
  const airlock = await openAirlock(config, {
    logger: opts.logLines === undefined ? createLogger({ level: config.logLevel }) : collectingLogger(opts.logLines),
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const baseUrl = (airlock.url ?? '').replace('0.0.0.0', '127.0.0.1');
  // a job's container: labelled with it (cold) or named after it by its claim (pooled); the pool's unclaimed ones are nobody's
  const containers = async (jobId?: string) =>
    (await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } })).filter((c) => {
      const job = jobOfContainer(c.Labels, c.Names, LABEL_JOB);
      return jobId === undefined ? job !== undefined : job === jobId;
    });
  return {
    airlock,
    config,
    prefix,
    testId,
    baseUrl,
    key: (role: Role = 'agent', owner?: string, groups?: string[]) =>
      airlock.keys.create({ role, name: `test ${role}`, ...(owner ? { owner } : {}), ...(groups ? { groups } : {}) }),
    async request(method, path, key, body) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers['authorization'] = `Bearer ${key}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${baseUrl}${path}`, { method, headers, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}) });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    containers,
    async stop() {
      await airlock.close();
      // a fixture guarantees cleanup even when an assertion failed mid-test
      for (const c of await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${testId}`] } }))
        await docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      const redis = testRedis();
      await deletePrefix(redis, prefix);
      await rm(auditDir, { recursive: true, force: true });
      redis.disconnect();
    },
  };
}

/** Submits a job and waits for its end state (server-side wait, then polling). */
export async function runJob(t: TestAirlock, key: string, body: Record<string, unknown>, waitS = 30): Promise<any> {
  const res = await t.request('POST', `/v1/jobs?wait=${Math.min(waitS, 60)}`, key, body);
  if (res.status !== 200 && res.status !== 202) throw new Error(`submit failed: ${res.status} ${JSON.stringify(res.body)}`);
  let job = res.body;
  const deadline = Date.now() + waitS * 1000;
  while (job.status === 'queued' || job.status === 'running') {
    if (Date.now() > deadline) throw new Error(`job ${job.id} still ${job.status} after ${waitS}s`);
    job = (await t.request('GET', `/v1/jobs/${job.id}?wait=5`, key)).body;
  }
  return job;
}

/** The service's own logger (same redaction) writing into an array. */
function collectingLogger(lines: string[]) {
  return createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
}
