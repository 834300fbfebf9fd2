/**
 * The docker-compose stack (issue 19 item 1), as the README runs it: scripts/compose-build.sh builds
 * airlock/service and airlock/redis from Debian's packages and the npm registry, docker-compose
 * (Debian's) brings redis, api and two workers up, and through the stack's API: a python job, a
 * job granted a tool (the worker's gateway folder has the same path on the host and in the worker),
 * a reviewed promotion to a directory target, both workers taking jobs. Then everything is torn
 * down: containers, volumes, the network and the jobs' sandbox containers. Its own project name,
 * ports and Redis prefix, so it never touches a stack of yours.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from './helpers/free-port.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABEL_DEPLOYMENT } from '../src/sandbox/index.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
const docker = new Docker({ socketPath: process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });
const SECRET = `compose-secret-${randomBytes(6).toString('hex')}`;

const project = `airlock-test-${randomBytes(4).toString('hex')}`;
const prefix = project;
let dir: string;
let upstream: Server;
const seen: { path: string; key: string | undefined }[] = [];
const ports = { api: 0, redis: 0, upstream: 0 };
let gatewayDir: string;
let admin: string;

function compose(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    AIRLOCK_COMPOSE_PORT: String(ports.api),
    AIRLOCK_COMPOSE_REDIS_PORT: String(ports.redis),
    AIRLOCK_COMPOSE_GATEWAY_DIR: gatewayDir,
  };
  return run('docker-compose', ['-p', project, '-f', join(ROOT, 'docker-compose.yml'), '-f', join(dir, 'override.yml'), ...args], {
    cwd: ROOT,
    env,
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
  });
}

async function api(method: string, path: string, key: string | undefined, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${ports.api}${path}`, {
    method,
    // a restarting container's published port accepts and then says nothing
    signal: AbortSignal.timeout(90_000),
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

async function runJob(key: string, body: unknown): Promise<any> {
  const res = await api('POST', '/v1/jobs?wait=60', key, body);
  expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
  let job = res.body;
  const deadline = Date.now() + 120_000;
  while (job.status === 'queued' || job.status === 'running') {
    if (Date.now() > deadline) throw new Error(`job ${job.id} still ${job.status}`);
    job = (await api('GET', `/v1/jobs/${job.id}?wait=10`, key)).body;
  }
  return job;
}

beforeAll(async () => {
  await run('bash', [join(ROOT, 'scripts/compose-build.sh')], { cwd: ROOT, timeout: 900_000, maxBuffer: 16 * 1024 * 1024 });
  dir = await mkdtemp(join(tmpdir(), 'airlock-compose-'));
  // short: the sockets under it must fit in 108 bytes; the engine and the worker see the same path
  gatewayDir = `/tmp/alc-${randomBytes(3).toString('hex')}`;
  ports.api = await freePort();
  ports.redis = await freePort();

  // the tool's upstream: on the host's loopback, which the workers share (host network)
  upstream = createServer((req, res) => {
    seen.push({ path: req.url ?? '', key: req.headers['x-staging-key'] as string | undefined });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ fixture: 42 }));
  });
  await new Promise<void>((ok) => upstream.listen(0, '127.0.0.1', ok));
  ports.upstream = (upstream.address() as AddressInfo).port;

  const config = join(dir, 'config');
  await mkdir(config);
  await cp(join(ROOT, 'profiles'), join(config, 'profiles'), { recursive: true });
  const python = JSON.parse(await readFile(join(config, 'profiles/python.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(config, 'profiles/python.json'), JSON.stringify({ ...python, tools: ['staging'] }));
  const tool = {
    name: 'staging',
    type: 'http',
    origin: `http://127.0.0.1:${ports.upstream}`,
    methods: ['GET'],
    pathPrefixes: ['/fixtures/'],
    injectHeaders: { 'X-Staging-Key': { secret: 'STAGING_KEY' } },
  };
  await writeFile(join(config, 'tools.json'), JSON.stringify([tool]));
  await writeFile(join(config, 'secrets.json'), JSON.stringify({ STAGING_KEY: SECRET }));
  const policy = {
    version: 'compose-1',
    securityGroup: 'security',
    targets: { staging: { target: { type: 'directory', path: '/staging' }, approval: { mode: 'review', approvals: 1, groups: ['platform'] } } },
  };
  await writeFile(join(config, 'policy.json'), JSON.stringify(policy));
  await mkdir(join(dir, 'staging'));
  await chmod(dir, 0o755);
  const shared = { AIRLOCK_REDIS_PREFIX: prefix, AIRLOCK_PROFILES_DIR: '/config/profiles', AIRLOCK_TOOLS_FILE: '/config/tools.json' };
  const override = {
    version: '2.4',
    services: {
      api: { environment: { ...shared, AIRLOCK_REVIEW_POLICY_FILE: '/config/policy.json' }, volumes: [`${config}:/config:ro`, `${join(dir, 'staging')}:/staging`] },
      worker: { environment: { ...shared, AIRLOCK_TOOL_SECRETS_FILE: '/config/secrets.json', AIRLOCK_WORKER_CONCURRENCY: '1' }, volumes: [`${config}:/config:ro`] },
    },
  };
  await writeFile(join(dir, 'override.yml'), JSON.stringify(override)); // JSON is YAML

  await compose('up', '-d', '--scale', 'worker=2');
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ready = await api('GET', '/readyz', undefined).catch(() => ({ status: 0, body: null }));
    if (ready.status === 200 && ((ready.body as { workers?: unknown[] } | null)?.workers?.length ?? 0) >= 2) break;
    if (Date.now() > deadline) throw new Error(`the stack did not come up: ${JSON.stringify(ready)}\n${(await compose('logs', '--no-color')).stdout.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  // an operator's first key, made with the CLI inside the API container
  const created = await compose('exec', '-T', 'api', 'airlock', 'keys', 'create', '--role', 'admin', '--name', 'compose-test');
  admin = created.stdout.trim().split('\n').pop()!.trim();
}, 900_000);

afterAll(async () => {
  if (dir !== undefined) await compose('down', '-v', '--remove-orphans', '-t', '20').catch((err: unknown) => console.error(err));
  for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL_DEPLOYMENT}=${prefix}`] } })) {
    await docker
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch(() => undefined);
  }
  upstream?.close();
  if (gatewayDir !== undefined) await rm(gatewayDir, { recursive: true, force: true });
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 120_000);

describe('the docker-compose stack', () => {
  it('runs a python job, a job granted a tool, and a reviewed promotion; two workers both take jobs', async () => {
    expect(admin).toMatch(/^ak_/);
    const agent = (await api('POST', '/v1/keys', admin, { role: 'agent', name: 'compose agent', owner: 'alice', tools: ['staging'] })).body.key as string;
    const reviewer = (await api('POST', '/v1/keys', admin, { role: 'reviewer', name: 'compose reviewer', owner: 'rita', groups: ['platform'] })).body.key as string;

    const hello = await runJob(agent, { runtime: 'python', files: [{ path: 'main.py', content: 'print("hello from the compose stack")' }] });
    expect(hello.status, JSON.stringify(hello)).toBe('succeeded');
    expect(hello.stdout).toBe('hello from the compose stack\n');

    const client = [
      'import http.client, socket',
      'class C(http.client.HTTPConnection):',
      '    def connect(self):',
      '        self.sock = socket.socket(socket.AF_UNIX); self.sock.connect("/run/airlock/gateway.sock")',
      'token = open("/run/airlock/token").read().strip()',
      'c = C("localhost", timeout=15)',
      'c.request("GET", "/tools/staging/fixtures/data.json", headers={"Authorization": "Bearer " + token})',
      'r = c.getresponse()',
      'print(r.status, r.read().decode())',
    ].join('\n');
    const tooled = await runJob(agent, { runtime: 'python', tools: ['staging'], files: [{ path: 'main.py', content: client }] });
    expect(tooled.status, JSON.stringify(tooled)).toBe('succeeded');
    expect(tooled.stdout).toBe('200 {"fixture":42}\n');
    expect(seen).toContainEqual({ path: '/fixtures/data.json', key: SECRET });

    // two at once on two workers of concurrency 1: both take one
    const build = (n: number) => ({ runtime: 'shell', command: `sleep 2; mkdir -p out && echo 'release ${n}' > out/app.txt`, outputs: ['out/app.txt'] });
    const [one, two] = await Promise.all([runJob(agent, build(1)), runJob(agent, build(2))]);
    expect([one.status, two.status]).toEqual(['succeeded', 'succeeded']);
    const workerOf = async (id: string) =>
      ((await api('GET', `/v1/jobs/${id}/audit?limit=100`, admin)).body.records as { action: string; actor: { workerId?: string } }[]).find((r) => r.action === 'job.start')?.actor
        .workerId;
    const workers = new Set([await workerOf(one.id), await workerOf(two.id)]);
    expect(workers.size).toBe(2);

    const requested = await api('POST', `/v1/jobs/${one.id}/promotions`, agent, { target: 'staging' });
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    const p = requested.body;
    const decided = await api('POST', `/v1/promotions/${p.id}/decisions`, reviewer, { decision: 'approve', reason: 'compose test', artifactDigest: p.artifactDigest });
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    let state = '';
    const deadline = Date.now() + 60_000;
    while (state !== 'promoted' && Date.now() < deadline) {
      state = (await api('GET', `/v1/promotions/${p.id}`, admin)).body.state;
      if (state !== 'promoted') await new Promise((r) => setTimeout(r, 250));
    }
    expect(state).toBe('promoted');
    expect(await readFile(join(dir, 'staging', 'versions', p.id, 'out', 'app.txt'), 'utf8')).toBe('release 1\n');

    // the API has no Docker socket; the workers do
    const ps = (await compose('ps', '-q')).stdout.trim().split('\n');
    const mounts = await Promise.all(ps.map(async (id) => (await docker.getContainer(id).inspect()).Mounts.map((m) => m.Destination)));
    const withSocket = mounts.filter((m) => m.includes('/var/run/docker.sock')).length;
    expect(withSocket).toBe(2);
  });
});
