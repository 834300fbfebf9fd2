/**
 * API and workers that share nothing but Redis and the bucket (issue 19 item 3): one API and two
 * workers, each its own process with its own data folder (no artifacts folder anywhere), artifacts
 * in an S3-compatible bucket (test/helpers/s3-stand-in.ts). Both workers take jobs; the API serves
 * their artifacts from the bucket and applies a reviewed promotion to a directory target.
 */
import Docker from 'dockerode';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ArtifactStore } from '../src/artifacts/index.js';
import { LABEL_DEPLOYMENT } from '../src/sandbox/index.js';
import { sha256Hex } from '../src/shared/index.js';
import { startAirlockProcess, type AirlockProcess } from './helpers/airlock-process.js';
import { deletePrefix, testRedis, TEST_REDIS_URL, uniquePrefix } from './helpers/redis.js';
import { startS3StandIn, type S3StandIn } from './helpers/s3-stand-in.js';

const docker = new Docker({ socketPath: process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });
const IMAGES = join(resolve(process.env['AIRLOCK_DATA_DIR'] ?? '.airlock'), 'images.json');

let s3: S3StandIn;
let root: string;
let prefix: string;
const hosts: AirlockProcess[] = [];
let api: AirlockProcess;
let staging: string;

beforeAll(async () => {
  s3 = await startS3StandIn();
  root = await mkdtemp(join(tmpdir(), 'airlock-mh-'));
  prefix = uniquePrefix('multihost');
  staging = join(root, 'staging');
  const shared = { AIRLOCK_REDIS_URL: TEST_REDIS_URL, AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_PROFILES_DIR: resolve('profiles'), ...s3.env() };
  const dataDir = async (name: string) => {
    const dir = join(root, name);
    await mkdir(dir);
    return dir;
  };
  const apiDir = await dataDir('api');
  const policy = {
    version: 'mh-1',
    securityGroup: 'security',
    targets: { staging: { target: { type: 'directory', path: staging }, approval: { mode: 'review', approvals: 1, groups: ['platform'] } } },
  };
  await writeFile(join(apiDir, 'policy.json'), JSON.stringify(policy));
  for (const name of ['worker-a', 'worker-b']) {
    const dir = await dataDir(name);
    // what scripts/build-images.sh writes on each worker host: the sandbox image IDs of its engine
    await copyFile(IMAGES, join(dir, 'images.json'));
    hosts.push(
      await startAirlockProcess(name, {
        ...shared,
        AIRLOCK_ROLE: 'worker',
        AIRLOCK_DATA_DIR: dir,
        AIRLOCK_WORKER_ID: name,
        AIRLOCK_WORKER_CONCURRENCY: '1',
        AIRLOCK_RETRY_BACKOFF_MS: '200',
      }),
    );
  }
  api = await startAirlockProcess('api', {
    ...shared,
    AIRLOCK_ROLE: 'api',
    AIRLOCK_DATA_DIR: apiDir,
    AIRLOCK_HOST: '127.0.0.1',
    AIRLOCK_PORT: '0',
    AIRLOCK_REVIEW_POLICY_FILE: join(apiDir, 'policy.json'),
  });
  hosts.push(api);
});

afterAll(async () => {
  for (const h of hosts) await h.stop();
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL_DEPLOYMENT}=${prefix}`] } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  const redis = testRedis();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  await s3?.stop();
  await rm(root, { recursive: true, force: true });
});

async function call(method: string, path: string, key: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers; bytes: Buffer }> {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown = bytes.toString();
  try {
    parsed = JSON.parse(bytes.toString());
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers, bytes };
}

async function runToEnd(key: string, body: unknown): Promise<any> {
  const res = await call('POST', '/v1/jobs?wait=60', key, body);
  expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
  let job = res.body;
  while (job.status === 'queued' || job.status === 'running') job = (await call('GET', `/v1/jobs/${job.id}?wait=10`, key)).body;
  return job;
}

describe('multi-host: one API and two workers sharing only Redis and the bucket', () => {
  it('both workers run jobs with artifacts; the API serves them from the bucket and promotes one to a directory target', async () => {
    const admin = api.bootstrapKey;
    expect(admin).toMatch(/^ak_/);
    const agent = (await call('POST', '/v1/keys', admin!, { role: 'agent', name: 'mh agent', owner: 'alice' })).body.key as string;
    const reviewer = (await call('POST', '/v1/keys', admin!, { role: 'reviewer', name: 'mh reviewer', owner: 'rita', groups: ['platform'] })).body.key as string;

    // two at once on workers of concurrency 1: each worker must take one
    const job = (n: number) => ({
      runtime: 'shell',
      command: `sleep 2; mkdir -p out && printf 'built by job ${n}\\n' > out/app-${n}.txt && echo ok`,
      outputs: ['out/**'],
    });
    const [one, two] = await Promise.all([runToEnd(agent, job(1)), runToEnd(agent, job(2))]);
    for (const j of [one, two]) expect(j.status, JSON.stringify(j)).toBe('succeeded');
    const ranOn = async (id: string) => {
      const records = (await call('GET', `/v1/jobs/${id}/audit?limit=100`, admin!)).body.records as { action: string; actor: { workerId?: string } }[];
      return records.find((r) => r.action === 'job.start')?.actor.workerId;
    };
    expect(new Set([await ranOn(one.id), await ranOn(two.id)])).toEqual(new Set(['worker-a', 'worker-b']));

    // served by the API, which never saw the workers' folders: from the bucket
    for (const [j, n] of [
      [one, 1],
      [two, 2],
    ] as const) {
      const file = await call('GET', `/v1/jobs/${j.id}/artifacts/out/app-${n}.txt`, agent);
      expect(file.status).toBe(200);
      expect(file.bytes.toString()).toBe(`built by job ${n}\n`);
      const tar = await call('GET', `/v1/jobs/${j.id}/artifacts.tar`, agent);
      expect(tar.status).toBe(200);
      expect(sha256Hex(tar.bytes)).toBe(j.artifactsTarSha256);
      for (const a of j.artifacts as { sha256: string }[]) expect(await readFile(s3.objectFile(S3ArtifactStore.keyOf(a.sha256)), 'utf8')).toBe(`built by job ${n}\n`);
    }

    // a reviewed promotion: the API reads the bound artifacts from the bucket and applies them
    const requested = await call('POST', `/v1/jobs/${one.id}/promotions`, agent, { target: 'staging', note: 'multi-host' });
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    const p = requested.body;
    const decided = await call('POST', `/v1/promotions/${p.id}/decisions`, reviewer, { decision: 'approve', reason: 'read it', artifactDigest: p.artifactDigest });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    let state = decided.body.promotion?.state ?? decided.body.state;
    const deadline = Date.now() + 30_000;
    while (state !== 'promoted' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      state = (await call('GET', `/v1/promotions/${p.id}`, admin!)).body.state;
    }
    expect(state).toBe('promoted');
    expect(await readFile(join(staging, 'versions', p.id, 'out', 'app-1.txt'), 'utf8')).toBe('built by job 1\n');

    // nothing else was shared: no host has an artifacts folder
    for (const name of ['api', 'worker-a', 'worker-b']) expect(await readdir(join(root, name))).not.toContain('artifacts');
  });
});
