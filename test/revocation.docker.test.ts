/**
 * Issue 10, breach 6 end to end ("revocation revokes nothing already queued": 4 of 6 ran after
 * it, with fresh credentials): a real API, a real worker at concurrency 1, the real engine and a
 * loopback tool upstream. Revoking a key cancels its queued jobs (none starts, none gets a
 * credential), kills its running one when asked, otherwise leaves it running without
 * credentials; a job whose key is revoked behind the revocation's back never runs either.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { testRedis } from './helpers/redis.js';

/** Calls its granted tool (reading the token file each time), sleeps, calls again. */
const CLIENT = `
import http.client, socket, sys, time
class C(http.client.HTTPConnection):
    def __init__(self): super().__init__('localhost', timeout=15)
    def connect(self):
        s = socket.socket(socket.AF_UNIX); s.connect('/run/airlock/gateway.sock'); self.sock = s
def call():
    token = open('/run/airlock/token').read().strip()
    c = C(); c.request('GET', '/tools/staging/fixtures/ping', headers={'Authorization': 'Bearer ' + token})
    r = c.getresponse(); r.read(); return r.status
print('before', call(), flush=True)
time.sleep(float(sys.argv[1]))
print('after', call(), flush=True)
`;

let t: TestAirlock;
let staging: Server;
let dir: string;
let admin: string;

const job = (sleepS: number) => ({ runtime: 'python', tools: ['staging'], files: [{ path: 'main.py', content: CLIENT }], command: ['python3', 'main.py', String(sleepS)] });

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function audit(query: string): Promise<any[]> {
  const res = await t.request('GET', `/v1/audit?limit=500&order=asc&${query}`, admin);
  expect(res.status).toBe(200);
  return res.body.records as any[];
}

async function submit(key: CreatedApiKey, sleepS: number): Promise<string> {
  const res = await t.request('POST', '/v1/jobs', key.key, job(sleepS));
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

const status = async (id: string) => (await t.request('GET', `/v1/jobs/${id}`, admin)).body;
const finalStatus = (id: string) => until(`job ${id} to end`, async () => ((await status(id)).status.match(/^(queued|running)$/) ? undefined : status(id)));
/** The job made its first gateway call: it is running with a credential. */
const calledTool = (id: string) => until(`job ${id} to call its tool`, async () => (await audit(`action=gateway.call&target=${id}`)).length > 0);

beforeAll(async () => {
  staging = createServer((_req, res) => res.end('pong'));
  await new Promise<void>((r) => staging.listen(0, '127.0.0.1', r));
  dir = await mkdtemp(join(tmpdir(), 'arv-'));
  await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
  const python = JSON.parse(await readFile(join(dir, 'profiles/python.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'profiles/python.json'), JSON.stringify({ ...python, tools: ['staging'] }));
  const origin = `http://127.0.0.1:${(staging.address() as AddressInfo).port}`;
  await writeFile(join(dir, 'tools.json'), JSON.stringify([{ name: 'staging', type: 'http', origin, methods: ['GET'], pathPrefixes: ['/fixtures/'] }]));
  t = await startTestAirlock('revocation', {
    AIRLOCK_PROFILES_DIR: join(dir, 'profiles'),
    AIRLOCK_TOOLS_FILE: join(dir, 'tools.json'),
    AIRLOCK_GATEWAY_DIR: join(dir, 'gw'),
    AIRLOCK_JOB_TOKEN_KEY_DIR: join(dir, 'keys'),
    AIRLOCK_WORKER_CONCURRENCY: '1',
  });
  admin = (await t.key('admin')).key;
});

afterAll(async () => {
  await t?.stop();
  staging?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('revoking a key', () => {
  it('with killRunning: its queued jobs end cancelled without starting or getting a credential, its running job ends killed', async () => {
    const agent = await t.airlock.keys.create({ role: 'agent', tools: ['staging'] });
    const running = await submit(agent, 25);
    const queued = [await submit(agent, 1), await submit(agent, 1), await submit(agent, 1)];
    await calledTool(running);
    const seqBefore = (await audit('action=credential.mint')).at(-1).seq as number;

    const del = await t.request('DELETE', `/v1/keys/${agent.id}?killRunning=true`, admin);
    expect(del.status).toBe(200);
    const revokeSeq = (await audit(`action=key.revoke&target=${agent.id}`))[0].seq as number;
    for (const id of queued) expect(await status(id)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' } });
    expect(await finalStatus(running)).toMatchObject({ status: 'killed' });
    expect(del.body.jobs.killing).toEqual([running]);
    expect([...del.body.jobs.cancelled].sort()).toEqual([...queued].sort());
    // the worker is free again: give it the chance to (wrongly) pick one up
    const probe = await submit(await t.airlock.keys.create({ role: 'agent', tools: ['staging'] }), 0);
    expect(await finalStatus(probe)).toMatchObject({ status: 'succeeded' });

    const redis = testRedis();
    try {
      for (const id of queued) {
        const records = await audit(`target=${id}`);
        expect(records.filter((r) => r.action === 'job.cancel')).toHaveLength(1);
        expect(records.filter((r) => r.action === 'job.cancel')[0]).toMatchObject({ outcome: { result: 'cancelled' }, details: { reason: 'key revoked', keyId: agent.id } });
        expect(records.filter((r) => ['job.start', 'credential.mint', 'gateway.call'].includes(r.action))).toEqual([]);
        expect(await redis.exists(`{${t.prefix}}:cred:job:${id}`)).toBe(0);
      }
      const runningRecords = await audit(`target=${running}`);
      expect(runningRecords.filter((r) => r.action === 'job.cancel')).toMatchObject([{ outcome: { result: 'killing' }, details: { reason: 'key revoked' } }]);
      // no credential minted for this key's jobs after the revoke (nor after the last one seen before it)
      const mintsAfter = (await audit('action=credential.mint')).filter((r) => r.seq > seqBefore && [running, ...queued].includes(r.target));
      expect(mintsAfter).toEqual([]);
      expect(runningRecords.filter((r) => r.action === 'job.start' && r.seq > revokeSeq)).toEqual([]);
      for (const mint of runningRecords.filter((r) => r.action === 'credential.mint')) expect(await redis.exists(`{${t.prefix}}:cred:active:${mint.details.jti}`)).toBe(0);
      expect(await redis.smembers(`{${t.prefix}}:key-jobs:${agent.id}`)).toEqual([]);
    } finally {
      redis.disconnect();
    }
    expect(await t.containers()).toEqual([]);
  }, 180_000);

  it('without killRunning: the running job finishes without credentials, the queued one is cancelled; a key revoked behind the sweep’s back runs nothing', async () => {
    const agent = await t.airlock.keys.create({ role: 'agent', tools: ['staging'] });
    const other = await t.airlock.keys.create({ role: 'agent', tools: ['staging'] });
    const running = await submit(agent, 8);
    const queued = await submit(agent, 0);
    const sneaky = await submit(other, 0);
    await calledTool(running);

    const del = await t.request('DELETE', `/v1/keys/${agent.id}`, admin);
    // the key only, not through the revocation: as if it landed between the job's dequeue and its start
    await t.airlock.keys.revoke(other.id);
    expect(await status(queued)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' } });

    const done = await finalStatus(running);
    expect(done).toMatchObject({ status: 'succeeded' });
    // its credential died with the revocation: the gateway refuses its second call
    expect(done.stdout).toBe('before 200\nafter 401\n');
    expect(del.body.jobs).toEqual({ cancelled: [queued], killing: [], running: [running] });
    expect(await finalStatus(sneaky)).toMatchObject({ status: 'cancelled', error: { code: 'KEY_REVOKED' }, startedAt: null });
    const sneakyRecords = await audit(`target=${sneaky}`);
    expect(sneakyRecords.map((r) => r.action).filter((a) => a !== 'job.submit' && a !== 'job.read')).toEqual(['job.cancel']);
    expect(sneakyRecords.find((r) => r.action === 'job.cancel')).toMatchObject({ actor: { type: 'worker' }, details: { reason: 'key revoked' } });
    expect(await t.containers(sneaky)).toEqual([]);
    expect((await audit(`action=credential.revoke&target=${running}`))[0]).toMatchObject({ details: { reason: 'key revoked', revoked: 1 } });
  }, 180_000);
});
