/**
 * Pooled jobs granted tools (issue 12): the per-job parts fixed at create stay the job's own
 * with the pool on. Two jobs run at the same time in containers of the `python+tools` pool, one
 * granted `alpha`, the other `beta`: each has its own gid and env, and in its /run/airlock only
 * its own token (naming its own job and tool) and gateway socket; neither reaches the other's tool.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';

let t: TestAirlock;
let upstream: Server;
let dir: string;
let key: string;

const JOB = `
import http.client, json, os, socket, sys, time

class Gateway(http.client.HTTPConnection):
    def __init__(self):
        super().__init__('localhost', timeout=15)
    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect('/run/airlock/gateway.sock')
        self.sock = s

def call(tool, token):
    c = Gateway()
    c.request('GET', '/tools/' + tool + '/fixtures/who', headers={'Authorization': 'Bearer ' + token})
    r = c.getresponse()
    return r.status, r.read().decode()[:100]

token = open('/run/airlock/token').read().strip()
claims = json.loads(__import__('base64').urlsafe_b64decode(token.split('.')[1] + '=='))
# both jobs are running at once when they call
time.sleep(1.5)
print(json.dumps({
    'gid': os.getgid(),
    'env': os.environ.get('WHO'),
    'run': sorted(os.listdir('/run/airlock')),
    'claims': claims['airlock'],
    'alpha': call('alpha', token),
    'beta': call('beta', token),
}))
`;

beforeAll(async () => {
  upstream = createServer((req, res) => res.end(`upstream saw ${req.url ?? ''}`));
  const port = await new Promise<number>((r) => upstream.listen(0, '127.0.0.1', () => r((upstream.address() as AddressInfo).port)));
  dir = await mkdtemp(join(tmpdir(), 'apt-'));
  await cp(resolve(import.meta.dirname, '../profiles'), join(dir, 'profiles'), { recursive: true });
  const python = JSON.parse(await readFile(join(dir, 'profiles/python.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'profiles/python.json'), JSON.stringify({ ...python, tools: ['alpha', 'beta'] }));
  const tool = (name: string) => ({ name, type: 'http', origin: `http://127.0.0.1:${port}`, methods: ['GET'], pathPrefixes: ['/fixtures/'], maxRequestBytes: 1024 });
  await writeFile(join(dir, 'tools.json'), JSON.stringify([tool('alpha'), tool('beta')]));
  t = await startTestAirlock('pool-tools', {
    AIRLOCK_PROFILES_DIR: join(dir, 'profiles'),
    AIRLOCK_TOOLS_FILE: join(dir, 'tools.json'),
    AIRLOCK_GATEWAY_DIR: join(dir, 'gw'),
    AIRLOCK_JOB_TOKEN_KEY_DIR: join(dir, 'keys'),
    AIRLOCK_WORKER_CONCURRENCY: '2',
    AIRLOCK_POOL_SIZE: '2',
  });
  key = (await t.airlock.keys.create({ role: 'agent', name: 'tooled', tools: ['alpha', 'beta'] })).key;
});

afterAll(async () => {
  await t?.stop();
  upstream?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

it('two concurrent pooled jobs with different tools each get their own gid, env, token and socket, and cannot reach the other’s tool', async () => {
  const submit = (tool: string) =>
    runJob(t, key, { runtime: 'python', tools: [tool], env: { WHO: tool }, files: [{ path: 'main.py', content: JOB }] }, 60).then((job) => ({ job, out: JSON.parse(job.stdout) }));
  const [a, b] = await Promise.all([submit('alpha'), submit('beta')]);
  for (const [{ job, out }, mine, other] of [
    [a, 'alpha', 'beta'],
    [b, 'beta', 'alpha'],
  ] as const) {
    expect(job).toMatchObject({ status: 'succeeded', sandbox: { pooled: true } });
    expect(out.env).toBe(mine);
    expect(out.run).toEqual(['gateway.sock', 'token']);
    expect(out.claims).toMatchObject({ jobId: job.id, tools: [mine] });
    expect(out[mine]).toEqual([200, `upstream saw /fixtures/who`]);
    expect(out[other][0]).toBe(403);
  }
  expect(a.out.gid).not.toBe(b.out.gid);
  // they ran at the same time
  expect(Date.parse(a.job.startedAt)).toBeLessThan(Date.parse(b.job.finishedAt));
  expect(Date.parse(b.job.startedAt)).toBeLessThan(Date.parse(a.job.finishedAt));
  // the pooled containers' gateway folders went with them
  expect(await t.containers()).toEqual([]);
}, 90_000);

it('a job with no tools takes the plain pool: no /run/airlock at all', async () => {
  const job = await runJob(t, key, { runtime: 'python', files: [{ path: 'main.py', content: 'import os\nprint(os.path.exists("/run/airlock"))' }] });
  expect(job).toMatchObject({ status: 'succeeded', stdout: 'False\n', sandbox: { pooled: true } });
});
