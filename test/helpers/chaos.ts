/**
 * What the fault tests (test/*.chaos.test.ts) share: a deployment as a host runs it (`airlock
 * serve` in a process of its own, its own data folder, Redis and prefix), its jobs submitted over
 * HTTP, and the checks each fault test ends with: every job in a final state, no job run twice to
 * completion (job.start records per job and attempt), no container of the deployment left,
 * `airlock audit verify` exit 0. And the machine's dockerd restarted as it was started (its own
 * command line), with a restore that starts it again whatever happened.
 */
import Docker from 'dockerode';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startAirlockProcess, type AirlockProcess } from './airlock-process.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ENGINE_SOCKET = '/var/run/docker.sock';
export const docker = new Docker({ socketPath: ENGINE_SOCKET });

export const FINAL = new Set(['succeeded', 'failed', 'timeout', 'oom', 'killed', 'cancelled', 'error', 'output_limit', 'policy_violation', 'patch_failed']);

export interface ChaosDeployment {
  readonly prefix: string;
  readonly env: Record<string, string>;
  readonly dataDir: string;
  /** The current process (replaced by restart). */
  process(): AirlockProcess;
  url(): string;
  readonly key: string;
  request(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: any }>;
  submit(body: Record<string, unknown>): Promise<string>;
  /** Waits until every job is final (or the deadline), returns each job's record. */
  settle(ids: readonly string[], timeoutMs: number): Promise<Map<string, any>>;
  /** SIGKILL, as a crash. */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** action → records of the audit log (export). */
  auditRecords(): Promise<any[]>;
  auditVerify(): Promise<{ exit: number | null; output: string }>;
  containers(): Promise<Docker.ContainerInfo[]>;
  stop(): Promise<void>;
}

export interface ChaosOptions {
  readonly redisUrl: string;
  /** A data folder of the test's (e.g. a small tmpfs); default a temp dir. */
  readonly dataDir?: string;
  readonly env?: Record<string, string>;
}

async function run(args: readonly string[], env: Record<string, string>): Promise<{ exit: number | null; output: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_')));
  const p = spawn(process.execPath, [join(ROOT, 'bin/airlock.js'), ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  p.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  p.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exit = await new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return { exit, output };
}

export async function startChaosDeployment(name: string, o: ChaosOptions): Promise<ChaosDeployment> {
  const prefix = `chaos-${name}-${randomBytes(4).toString('hex')}`;
  const own = o.dataDir === undefined;
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), `airlock-chaos-${name}-`)));
  // the audit log's files live outside the data folder (a full data folder must not stop the service's audit)
  const auditDir = await mkdtemp(join(tmpdir(), `airlock-chaos-audit-${name}-`));
  await mkdir(dataDir, { recursive: true });
  await copyFile(join(resolve(ROOT, process.env['AIRLOCK_DATA_DIR'] ?? '.airlock'), 'images.json'), join(dataDir, 'images.json'));
  const env: Record<string, string> = {
    AIRLOCK_REDIS_URL: o.redisUrl,
    AIRLOCK_REDIS_PREFIX: prefix,
    AIRLOCK_DATA_DIR: dataDir,
    AIRLOCK_AUDIT_SIGNING_KEY_FILE: join(auditDir, 'signing-key.pem'),
    AIRLOCK_AUDIT_CHECKPOINT_FILE: join(auditDir, 'checkpoints.jsonl'),
    AIRLOCK_AUDIT_SEGMENTS_DIR: join(auditDir, 'segments'),
    AIRLOCK_PORT: '0',
    AIRLOCK_WORKER_CONCURRENCY: '4',
    AIRLOCK_RETRY_BACKOFF_MS: '500',
    AIRLOCK_LOCK_DURATION_MS: '10000',
    AIRLOCK_STALLED_INTERVAL_MS: '5000',
    ...o.env,
  };
  let proc = await startAirlockProcess(name, env);
  const key = proc.bootstrapKey;
  if (key === undefined) throw new Error(`no bootstrap key:\n${proc.output()}`);
  let url = proc.url!;
  const request = async (method: string, path: string, body?: unknown, timeoutMs = 15_000) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed as any };
  };
  const containers = () => docker.listContainers({ all: true, filters: { label: [`airlock.deployment=${prefix}`] } });
  return {
    prefix,
    env,
    dataDir,
    process: () => proc,
    url: () => url,
    key,
    request,
    async submit(body) {
      const r = await request('POST', '/v1/jobs', body);
      if (r.status !== 202 && r.status !== 200) throw new Error(`submit: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.id as string;
    },
    async settle(ids, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const out = new Map<string, any>();
      for (const id of ids) {
        for (;;) {
          const r = await request('GET', `/v1/jobs/${id}?wait=5`).catch(() => undefined);
          if (r?.status === 200 && FINAL.has(r.body.status)) {
            out.set(id, r.body);
            break;
          }
          if (Date.now() > deadline) {
            out.set(id, r?.body ?? { status: 'unknown' });
            break;
          }
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      return out;
    },
    kill: () => proc.kill(),
    async restart() {
      proc = await startAirlockProcess(name, { ...env, AIRLOCK_BOOTSTRAP_ADMIN: 'false' });
      url = proc.url!;
    },
    async auditRecords() {
      const r = await run(['audit', 'export'], env);
      if (r.exit !== 0) throw new Error(`audit export: ${r.output}`);
      return r.output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as unknown);
    },
    auditVerify: () => run(['audit', 'verify'], env),
    containers,
    async stop() {
      await proc.stop(30_000);
      for (const c of await containers().catch(() => []))
        await docker
          .getContainer(c.Id)
          .remove({ force: true, v: true })
          .catch(() => undefined);
      if (own) await rm(dataDir, { recursive: true, force: true });
      await rm(auditDir, { recursive: true, force: true });
    },
  };
}

/** job id → attempt → how many job.start records: a job run twice to completion shows a 2. */
export function startsPerAttempt(records: readonly any[]): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const r of records) {
    if (r.action !== 'job.start') continue;
    const byAttempt = out.get(r.target) ?? new Map<number, number>();
    const attempt = Number(r.details?.attempt);
    byAttempt.set(attempt, (byAttempt.get(attempt) ?? 0) + 1);
    out.set(r.target, byAttempt);
  }
  return out;
}

/** job id → how many job.finish records with a result (not `error`): two would mean a result recorded twice. */
export function finishesPerJob(records: readonly any[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) if (r.action === 'job.finish') out.set(r.target, (out.get(r.target) ?? 0) + 1);
  return out;
}

// ---------------------------------------------------------------------------------------------
// the machine's dockerd

async function dockerdPid(): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv0 = cmd.split('\0')[0] ?? '';
    if (argv0 === 'dockerd' || argv0.endsWith('/dockerd')) return Number(entry);
  }
  return undefined;
}

/** The command line dockerd was started with (kept for the restore: read before the first stop). */
let dockerdArgv: string[] | undefined;

async function engineAnswers(): Promise<boolean> {
  return docker.ping().then(
    () => true,
    () => false,
  );
}

async function startDockerd(): Promise<void> {
  const argv = dockerdArgv ?? ['dockerd'];
  const log = await open(join(tmpdir(), 'airlock-chaos-dockerd.log'), 'a');
  const p = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log.fd, log.fd] });
  p.unref();
  await log.close();
  for (let i = 0; i < 300 && !(await engineAnswers()); i += 1) await new Promise((r) => setTimeout(r, 200));
  if (!(await engineAnswers())) throw new Error('dockerd did not come back within 60 s');
}

/** Stops the machine's dockerd (SIGTERM: it stops its containers as a shutdown does), waits `downMs`, starts it again with the same command line. */
export async function restartDockerd(downMs: number): Promise<void> {
  const pid = await dockerdPid();
  if (pid === undefined) throw new Error('no dockerd running');
  dockerdArgv ??= (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 600 && (await dockerdPid()) !== undefined; i += 1) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, downMs));
  await startDockerd();
}

/** The restore every dockerd test ends with: an engine that answers, whatever the test did. */
export async function ensureDockerd(): Promise<void> {
  if (await engineAnswers()) return;
  if ((await dockerdPid()) === undefined) await startDockerd();
  for (let i = 0; i < 300 && !(await engineAnswers()); i += 1) await new Promise((r) => setTimeout(r, 200));
}
