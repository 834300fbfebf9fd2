/**
 * The soak (issue 18): N mixed jobs (succeed, fail, timeout, OOM, output flood, fork bomb, cancel
 * mid-run, artifacts) through a real deployment at a fixed number in flight, and what it leaves:
 * jobs/s, p50/p95 from submit to final, lost jobs (not final at the end), leaked containers, the
 * API's and the worker's RSS at start, middle and end, Redis memory, `airlock audit verify`.
 * The deployment is its own: a private redis-server, an API process and a worker process
 * (`airlock serve` with AIRLOCK_ROLE api / worker) sharing a data folder in a temp directory.
 * Used by scripts/soak.ts (`npm run soak`, 1,000 jobs) and test/soak.chaos.test.ts (100 jobs).
 */
import Docker from 'dockerode';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { freePort } from '../test/helpers/free-port.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Redis } from 'ioredis';

const ROOT = resolve(import.meta.dirname, '..');

export interface SoakOptions {
  readonly jobs: number;
  readonly inFlight: number;
  /** The worker's concurrency. */
  readonly concurrency: number;
  readonly log?: (line: string) => void;
}

export interface SoakReport {
  readonly jobs: number;
  readonly inFlight: number;
  readonly wallS: number;
  readonly jobsPerS: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  /** Final status per kind of job. */
  readonly outcomes: Record<string, Record<string, number>>;
  /** Jobs not in a final state at the end (must be 0). */
  readonly lost: number;
  /** Jobs that ended `error` (an infrastructure failure: none expected). */
  readonly errors: number;
  readonly leakedContainers: number;
  readonly rssMiB: { readonly api: readonly number[]; readonly worker: readonly number[] };
  readonly redisUsedMemoryMiB: readonly number[];
  readonly auditVerifyExit: number | null;
  readonly auditVerifyOutput: string;
}

type Kind = 'succeed' | 'fail' | 'timeout' | 'oom' | 'flood' | 'forkbomb' | 'cancel' | 'artifacts';
const KINDS: readonly Kind[] = ['succeed', 'fail', 'timeout', 'oom', 'flood', 'forkbomb', 'cancel', 'artifacts'];

/** The request body of each kind (the expected ends are in the report, not asserted here). */
function bodyOf(kind: Kind): Record<string, unknown> {
  switch (kind) {
    case 'succeed':
      return { runtime: 'shell', command: 'echo ok' };
    case 'fail':
      return { runtime: 'shell', command: 'echo failing >&2; exit 3' };
    case 'timeout':
      return { runtime: 'shell', command: 'sleep 30', timeoutMs: 1000 };
    case 'oom':
      return { runtime: 'python', command: ['python3', '-c', 'x = bytearray(256 * 1024 * 1024)'], limits: { memoryBytes: 64 * 1024 * 1024 } };
    case 'flood':
      return { runtime: 'shell', command: 'yes flood | head -c 50000000' };
    case 'forkbomb':
      return { runtime: 'shell', command: 'f() { f | f & }; f; sleep 5', timeoutMs: 4000, limits: { pids: 32 } };
    case 'cancel':
      return { runtime: 'shell', command: 'sleep 30' };
    case 'artifacts':
      return { runtime: 'shell', command: 'mkdir -p out && head -c 4096 /dev/urandom > out/a.bin && echo report > out/b.txt', outputs: ['out/**'] };
  }
}

interface Served {
  readonly proc: ChildProcess;
  output(): string;
}

async function serve(env: Record<string, string>): Promise<Served> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_')));
  const proc = spawn(process.execPath, [join(ROOT, 'bin/airlock.js'), 'serve'], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const deadline = Date.now() + 60_000;
  while (!/airlock .* ready/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`airlock exited ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) throw new Error(`airlock not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, output: () => out };
}

async function stop(s: Served): Promise<void> {
  if (s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const timer = setTimeout(() => s.proc.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

async function rssMiB(pid: number | undefined): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN) / 1024);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const FINAL = new Set(['succeeded', 'failed', 'timeout', 'oom', 'killed', 'cancelled', 'error', 'output_limit', 'policy_violation', 'patch_failed']);

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-soak-'));
  const redisPort = await freePort();
  const redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined);
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });
  const prefix = `soak-${randomBytes(4).toString('hex')}`;
  const processes: Served[] = [];
  try {
    for (let i = 0; i < 50 && (await redis.ping().catch(() => null)) !== 'PONG'; i += 1) await new Promise((r) => setTimeout(r, 100));
    await copyFile(join(resolve(ROOT, process.env['AIRLOCK_DATA_DIR'] ?? '.airlock'), 'images.json'), join(dir, 'images.json'));
    const env = {
      AIRLOCK_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AIRLOCK_REDIS_PREFIX: prefix,
      AIRLOCK_DATA_DIR: dir,
      AIRLOCK_LOG_LEVEL: 'warn',
      AIRLOCK_MAX_WAIT_S: '60',
    };
    const api = await serve({ ...env, AIRLOCK_ROLE: 'api', AIRLOCK_PORT: '0' });
    processes.push(api);
    const worker = await serve({ ...env, AIRLOCK_ROLE: 'worker', AIRLOCK_WORKER_CONCURRENCY: String(o.concurrency) });
    processes.push(worker);
    const base = /listening on (http:\/\/\S+)/.exec(api.output())![1]!.replace('0.0.0.0', '127.0.0.1');
    const admin = /^\s+(ak_[A-Za-z0-9_-]+)\s*$/m.exec(api.output())![1]!;
    interface Reply {
      readonly status: number;
      readonly body: { id: string; status: string; key?: string } & Record<string, unknown>;
    }
    const call = async (method: string, path: string, key: string, body?: unknown): Promise<Reply> => {
      for (;;) {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        });
        const text = await res.text();
        // a client's manners: wait out a limit or a moment of unavailability, then ask again
        if (res.status === 429 || res.status === 503) {
          await new Promise((r) => setTimeout(r, Math.min(5000, Number(res.headers.get('retry-after') ?? '1') * 1000)));
          continue;
        }
        return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as Reply['body'] };
      }
    };
    // one agent key per lane: each key's own submission rate stays under its limit
    const keys: string[] = [];
    for (let i = 0; i < o.inFlight; i += 1) keys.push((await call('POST', '/v1/keys', admin, { role: 'agent', name: `soak-${i}` })).body.key ?? '');

    const readings = async () => ({
      api: await rssMiB(api.proc.pid),
      worker: await rssMiB(worker.proc.pid),
      redis: Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))?.[1]) / 1024 ** 2,
    });
    const start = await readings();
    let middle = start;
    const latencies: number[] = [];
    const outcomes: Record<string, Record<string, number>> = {};
    const ids: string[] = [];
    let next = 0;
    const began = performance.now();
    await Promise.all(
      keys.map(async (key) => {
        while (next < o.jobs) {
          const n = next++;
          if (n === Math.floor(o.jobs / 2)) middle = await readings();
          const kind = KINDS[n % KINDS.length]!;
          const t0 = performance.now();
          const submitted = await call('POST', `/v1/jobs${kind === 'cancel' ? '' : '?wait=60'}`, key, bodyOf(kind));
          if (submitted.status !== 200 && submitted.status !== 202) throw new Error(`submit ${kind}: ${submitted.status} ${JSON.stringify(submitted.body)}`);
          let job = submitted.body;
          ids.push(job.id);
          if (kind === 'cancel') {
            // mid-run: once it runs, a second later
            while (job.status === 'queued') job = (await call('GET', `/v1/jobs/${job.id}?wait=1`, key)).body;
            await new Promise((r) => setTimeout(r, 1000));
            await call('DELETE', `/v1/jobs/${job.id}`, key);
          }
          const deadline = Date.now() + 300_000;
          while (!FINAL.has(job.status) && Date.now() < deadline) job = (await call('GET', `/v1/jobs/${job.id}?wait=30`, key)).body;
          latencies.push(performance.now() - t0);
          const byKind = (outcomes[kind] ??= {});
          byKind[job.status] = (byKind[job.status] ?? 0) + 1;
          if ((n + 1) % 50 === 0) log(`${n + 1}/${o.jobs} submitted`);
        }
      }),
    );
    const wallS = (performance.now() - began) / 1000;
    const end = await readings();
    // every job, read back at the end
    let lost = 0;
    let errors = 0;
    for (const id of ids) {
      const j = (await call('GET', `/v1/jobs/${id}`, admin)).body;
      if (!FINAL.has(j.status)) lost += 1;
      if (j.status === 'error') errors += 1;
    }
    lost += o.jobs - ids.length;
    await stop(worker);
    await stop(api);
    const leaked = (await docker.listContainers({ all: true, filters: { label: [`airlock.deployment=${prefix}`] } })).length;
    const verify = spawn(process.execPath, [join(ROOT, 'bin/airlock.js'), 'audit', 'verify'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let verifyOut = '';
    verify.stdout?.on('data', (c: Buffer) => (verifyOut += c.toString()));
    verify.stderr?.on('data', (c: Buffer) => (verifyOut += c.toString()));
    const verifyExit = await new Promise<number | null>((r) => verify.once('exit', (code) => r(code)));
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      jobs: o.jobs,
      inFlight: o.inFlight,
      wallS: Number(wallS.toFixed(1)),
      jobsPerS: Number((o.jobs / wallS).toFixed(2)),
      p50Ms: Math.round(percentile(sorted, 50)),
      p95Ms: Math.round(percentile(sorted, 95)),
      outcomes,
      lost,
      errors,
      leakedContainers: leaked,
      rssMiB: { api: [start.api, middle.api, end.api], worker: [start.worker, middle.worker, end.worker] },
      redisUsedMemoryMiB: [start.redis, middle.redis, end.redis].map((m) => Number(m.toFixed(1))),
      auditVerifyExit: verifyExit,
      auditVerifyOutput: verifyOut.trim().split('\n').slice(-3).join('\n'),
    };
  } finally {
    for (const p of processes.reverse()) await stop(p);
    for (const c of await docker.listContainers({ all: true, filters: { label: [`airlock.deployment=${prefix}`] } }))
      await docker
        .getContainer(c.Id)
        .remove({ force: true, v: true })
        .catch(() => undefined);
    redis.disconnect();
    redisProc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}
