/**
 * Issue 5 end to end: a job granted a tool reaches a loopback "staging" service through its
 * gateway socket with a secret header it never sees; everything else is refused and
 * audited; its credential is live only while it runs; the grant is profile ∩ key ∩ request.
 */
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { dumpKeys, testRedis } from './helpers/redis.js';

const SECRET = 'staging-secret-9f8e7d6c5b4a';
const CLIENT = readFile(resolve(import.meta.dirname, 'fixtures/tools/client.py'), 'utf8');

let t: TestAirlock;
let staging: Server;
let elsewhere: Server;
let dir: string;
let serviceKey: string;
let agentKey: string;
const logLines: string[] = [];
const seenByStaging: { path: string; header: string | undefined; auth: string | undefined }[] = [];
/** What the staging service learnt about each token handed to it, checked while the job ran. */
const tokenChecks = new Map<string, { introspection: any; signatureValid: boolean }>();

const body = (req: IncomingMessage) =>
  new Promise<string>((res) => {
    let b = '';
    req.on('data', (c: Buffer) => (b += c.toString()));
    req.on('end', () => res(b));
  });

async function jwksVerify(token: string): Promise<boolean> {
  const [h, p, s] = token.split('.');
  const header = JSON.parse(Buffer.from(h!, 'base64url').toString()) as { kid: string };
  const jwks = (await (await fetch(`${t.baseUrl}/.well-known/jwks.json`)).json()) as { keys: (Record<string, string> & { kid: string })[] };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (jwk === undefined) return false;
  return verifySignature(null, Buffer.from(`${h}.${p}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(s!, 'base64url'));
}

async function introspect(token: string): Promise<any> {
  return (await t.request('POST', '/v1/credentials/introspect', serviceKey, { token })).body;
}

const listen = (s: Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

beforeAll(async () => {
  elsewhere = createServer((_req, res) => res.end('elsewhere'));
  const elsewherePort = await listen(elsewhere);
  staging = createServer((req, res) => {
    void (async () => {
      const path = req.url ?? '';
      seenByStaging.push({ path, header: req.headers['x-staging-key'] as string | undefined, auth: req.headers.authorization });
      if (path === '/fixtures/data.json') return res.end(JSON.stringify({ fixture: 42 }));
      if (path === '/fixtures/echo') return res.end(JSON.stringify({ youSent: req.headers['x-staging-key'] ?? null }));
      if (path === '/fixtures/redirect') {
        res.writeHead(302, { location: `http://127.0.0.1:${elsewherePort}/x` });
        return res.end();
      }
      if (path === '/fixtures/token-check') {
        const token = (await body(req)).trim();
        tokenChecks.set(token, { introspection: await introspect(token), signatureValid: await jwksVerify(token) });
        return res.end('checked');
      }
      res.statusCode = 404;
      res.end();
    })();
  });
  const port = await listen(staging);

  dir = await mkdtemp(join(tmpdir(), 'agw-'));
  await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
  const python = JSON.parse(await readFile(join(dir, 'profiles/python.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'profiles/python.json'), JSON.stringify({ ...python, tools: ['staging', 'other'] }));
  const tool = (name: string, origin: string) => ({
    name,
    type: 'http',
    origin,
    methods: ['GET', 'POST'],
    pathPrefixes: ['/fixtures/'],
    maxRequestBytes: 1024,
    injectHeaders: { 'X-Staging-Key': { secret: 'STAGING_KEY' } },
  });
  await writeFile(join(dir, 'tools.json'), JSON.stringify([tool('staging', `http://127.0.0.1:${port}`), tool('other', `http://127.0.0.1:${elsewherePort}`)]));
  await writeFile(join(dir, 'secrets.json'), JSON.stringify({ STAGING_KEY: SECRET }), { mode: 0o600 });
  t = await startTestAirlock(
    'tools',
    {
      AIRLOCK_PROFILES_DIR: join(dir, 'profiles'),
      AIRLOCK_TOOLS_FILE: join(dir, 'tools.json'),
      AIRLOCK_TOOL_SECRETS_FILE: join(dir, 'secrets.json'),
      AIRLOCK_GATEWAY_DIR: join(dir, 'gw'),
      AIRLOCK_JOB_TOKEN_KEY_DIR: join(dir, 'keys'),
      AIRLOCK_WORKER_CONCURRENCY: '3',
    },
    { logLines },
  );
  serviceKey = (await t.airlock.keys.create({ role: 'service', name: 'staging' })).key;
  agentKey = (await t.airlock.keys.create({ role: 'agent', name: 'tooled', tools: ['staging'] })).key;
});

afterAll(async () => {
  await t?.stop();
  staging?.close();
  elsewhere?.close();
  await rm(dir, { recursive: true, force: true });
});

const clientJob = async (args: string[], extra: Record<string, unknown> = {}) => ({
  runtime: 'python',
  tools: ['staging'],
  files: [{ path: 'client.py', content: await CLIENT }],
  command: ['python3', 'client.py', ...args],
  ...extra,
});

const tokenOf = (stdout: string) => /^FILE \/run\/airlock\/token (\S+)$/m.exec(stdout)?.[1] ?? '';

describe('a job granted a tool', () => {
  let job: any;
  beforeAll(async () => {
    job = await runJob(t, agentKey, await clientJob(['all']), 60);
  }, 90_000);

  it('reaches the allowed path, and the upstream sees the injected header', () => {
    expect(job.status).toBe('succeeded');
    expect(job.stdout).toMatch(/^granted 200 \{"fixture":42\}$/m);
    const fixtureCall = seenByStaging.find((s) => s.path === '/fixtures/data.json');
    expect(fixtureCall?.header).toBe(SECRET);
    // the job's own token is not forwarded upstream
    expect(seenByStaging.every((s) => s.auth === undefined)).toBe(true);
  });

  it('cannot find the injected secret anywhere: env, files, /proc, token, responses', () => {
    expect(job.stdout).not.toContain(SECRET);
    expect(job.stderr).not.toContain(SECRET);
    expect(job.stdout).toMatch(/^RUN \['gateway.sock', 'token'\]$/m);
  });

  it('is refused everything else, each with a clear code', () => {
    const refusals = Object.fromEntries([...job.stdout.matchAll(/^refused (\S+) (\d+) (\S+)$/gm)].map((m: RegExpMatchArray) => [m[1], `${m[2]} ${m[3]}`]));
    expect(refusals).toEqual({
      'no-token': '401 credential_invalid',
      'bad-token': '401 credential_invalid',
      ungranted: '403 tool_not_granted',
      // the gateway knows only this job's grants: an unknown tool is indistinguishable from an ungranted one
      unknown: '403 tool_not_granted',
      method: '405 method_not_allowed',
      path: '403 path_not_allowed',
      traversal: '403 path_not_allowed',
      redirect: '502 redirect_refused',
      'too-large': '413 request_too_large',
    });
  });

  it('records every gateway call, allowed or refused, without the secret', async () => {
    const records = (await t.request('GET', `/v1/audit?target=${job.id}&action=gateway.call&limit=100`, (await t.key('admin')).key)).body.records as any[];
    // a forwarded call has its own record; refused ones are counted in one summary per window (issue 10)
    const summaries = records.filter((r) => r.details?.summary === true);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    expect(records.length - summaries.length + summaries.reduce((n, r) => n + r.details.count, 0)).toBeGreaterThanOrEqual(12);
    const outcomes = records.flatMap((r) => (r.details?.summary === true ? Object.keys(r.details.outcomes) : [r.outcome?.result]));
    expect(outcomes).toEqual(
      expect.arrayContaining(['allowed', 'tool_not_granted', 'method_not_allowed', 'path_not_allowed', 'redirect_refused', 'request_too_large', 'credential_invalid']),
    );
    expect(JSON.stringify(records)).not.toContain(SECRET);
    const token = tokenOf(job.stdout);
    expect(token.length).toBeGreaterThan(20);
    expect(JSON.stringify(records)).not.toContain(token);
  });

  it('had a credential that was live and verifiable during the job, and is dead after it', async () => {
    const token = tokenOf(job.stdout);
    const during = tokenChecks.get(token);
    expect(during?.signatureValid).toBe(true);
    expect(during?.introspection).toMatchObject({ active: true, jobId: job.id, tools: ['staging'], profile: 'python' });
    expect(await introspect(token)).toEqual({ active: false });
    // still correctly signed, but no longer live
    expect(await jwksVerify(token)).toBe(true);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, exp: 9_999_999_999 })).toString('base64url')}.${s}`;
    expect(await jwksVerify(forged)).toBe(false);
    expect(await introspect(forged)).toEqual({ active: false });
  });
});

describe('credential lifetime across end states', () => {
  it.each([
    ['succeeded', [] as string[], {}],
    ['failed', [], { command: ['sh', '-c', 'python3 client.py report; exit 3'] }],
    ['timeout', ['5'], { timeoutMs: 3000 }],
    ['oom', [], { command: ['sh', '-c', 'python3 client.py report && python3 -c "a=[]\nwhile True: a.append(bytearray(8<<20))"'], limits: { memoryBytes: 64 << 20 } }],
  ])(
    'is inactive right after a %s job ends',
    async (status, args, extra) => {
      const job = await runJob(t, agentKey, await clientJob(['report', ...args], extra), 60);
      expect(job.status).toBe(status);
      const checked = [...tokenChecks.entries()].find(([, v]) => v.introspection.jobId === job.id);
      expect(checked?.[1].introspection.active).toBe(true);
      expect(await introspect(checked![0])).toEqual({ active: false });
    },
    90_000,
  );

  it('is inactive right after a running job is cancelled, and refused to another job while live', async () => {
    const a = await t.request('POST', '/v1/jobs', agentKey, await clientJob(['report', '30']));
    let tokenA: string | undefined;
    for (let i = 0; i < 200 && tokenA === undefined; i++) {
      await new Promise((r) => setTimeout(r, 100));
      tokenA = [...tokenChecks.entries()].find(([, v]) => v.introspection.jobId === a.body.id)?.[0];
    }
    expect(tokenA).toBeDefined();
    // job B presents job A's live token to its own gateway
    const b = await runJob(t, agentKey, await clientJob(['all'], { stdin: tokenA }), 60);
    expect(b.stdout).toMatch(/^other-job-token 401 credential_invalid$/m);
    expect(await introspect(tokenA!)).toMatchObject({ active: true });
    await t.request('DELETE', `/v1/jobs/${a.body.id}`, agentKey);
    const done = (await t.request('GET', `/v1/jobs/${a.body.id}?wait=20`, agentKey)).body;
    expect(done.status).toBe('killed');
    expect(await introspect(tokenA!)).toEqual({ active: false });
  }, 120_000);
});

describe('grants', () => {
  it('a job that requests nothing gets no credential and no socket', async () => {
    const job = await runJob(t, agentKey, {
      runtime: 'python',
      files: [{ path: 'main.py', content: 'import os\nprint(os.path.exists("/run/airlock"), os.path.exists("/run/airlock/token"))' }],
    });
    expect(job).toMatchObject({ status: 'succeeded', stdout: 'False False\n' });
  });

  it('grants only profile ∩ key ∩ request, naming every refused tool with one answer (issue 10: no probing which tools exist)', async () => {
    const res = await t.request('POST', '/v1/jobs', agentKey, { runtime: 'python', tools: ['staging', 'other', 'nope'], command: 'true' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('TOOL_NOT_GRANTED');
    const reason = res.body.error.refused[0].reason as string;
    expect(reason).toMatch(/^not granted to key key_[0-9a-f]{16} on profile python$/);
    expect(res.body.error.message).toBe(`tools refused: other, nope (${reason})`);
    expect(res.body.error.refused).toEqual([
      { tool: 'other', reason },
      { tool: 'nope', reason },
    ]);
    const onShell = await t.request('POST', '/v1/jobs', agentKey, { runtime: 'shell', tools: ['staging'], command: 'true' });
    expect(onShell.body.error).toMatchObject({ code: 'TOOL_NOT_GRANTED', message: `tools refused: staging (${reason.replace('python', 'shell')})` });
    const narrow = (await t.airlock.keys.create({ role: 'agent', profiles: ['shell'] })).key;
    const wrongProfile = await t.request('POST', '/v1/jobs', narrow, { runtime: 'python', command: 'true' });
    expect(wrongProfile.status).toBe(403);
    expect(wrongProfile.body.error.code).toBe('PROFILE_NOT_ALLOWED');
  });

  it('publishes a capability matrix with digests, limits, tools and each key’s reach', async () => {
    const admin = (await t.key('admin')).key;
    const m = (await t.request('GET', '/v1/capabilities', admin)).body;
    const python = m.profiles.find((p: any) => p.name === 'python');
    expect(python).toMatchObject({ network: 'none', imageDigest: expect.stringMatching(/^sha256:/), seccompDigest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(python.grantableTools.map((x: any) => x.name).sort()).toEqual(['other', 'staging']);
    expect(python.credentialLifetimeMs).toBeGreaterThan(python.limits.timeoutMs);
    const tooled = m.keys.find((k: any) => k.name === 'tooled');
    expect(tooled.reach).toEqual(
      expect.arrayContaining([
        { profile: 'python', tools: ['staging'] },
        { profile: 'shell', tools: [] },
      ]),
    );
    expect((await t.request('GET', '/v1/capabilities', agentKey)).status).toBe(403);
  });
});

describe('secrets stay out', () => {
  it('never appear in the service log (debug level), nor does any job token', () => {
    expect(logLines.length).toBeGreaterThan(10);
    const log = logLines.join('');
    expect(log).not.toContain(SECRET);
    for (const token of tokenChecks.keys()) expect(log).not.toContain(token);
  });

  it('never appear in job data, results, audit records or any Redis value', async () => {
    const redis = testRedis();
    try {
      expect(await dumpKeys(redis, `{${t.prefix}}:*`)).not.toContain(SECRET);
    } finally {
      redis.disconnect();
    }
  });
});
