/**
 * What one job costs Redis, and how many jobs one worker host runs: the measurements behind
 * docs/scaling.md. Starts a private redis-server (nobody else's commands in its counters) and one
 * `airlock serve` (API + worker, as one host runs it), runs a warm-up, then a batch of jobs through
 * the API with a fixed number in flight, and reads INFO deltas over the batch: commands (commandstats),
 * the main thread's CPU time, bytes in and out, memory. Prints figures; asserts nothing.
 *
 *   node --import tsx scripts/capacity.ts [--jobs 40] [--in-flight 4] [--concurrency 2]
 */
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { freePort } from '../test/helpers/free-port.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { jobs: { type: 'string', default: '40' }, 'in-flight': { type: 'string', default: '4' }, concurrency: { type: 'string', default: '2' } },
});
const JOBS = Number(values.jobs);
const IN_FLIGHT = Number(values['in-flight']);
const CONCURRENCY = Number(values.concurrency);

/** A typical small job: a python program that prints and leaves one 1 KiB artifact. */
const JOB = {
  runtime: 'python',
  files: [{ path: 'main.py', content: 'import os\nos.makedirs("out", exist_ok=True)\nopen("out/report.txt", "w").write("x" * 1024)\nprint("done")' }],
  outputs: ['out/report.txt'],
};

interface Reading {
  readonly calls: Map<string, number>;
  readonly usec: Map<string, number>;
  readonly cpuMainS: number;
  readonly netInBytes: number;
  readonly netOutBytes: number;
  readonly usedMemoryBytes: number;
}

async function read(redis: Redis): Promise<Reading> {
  const stats = await redis.info('commandstats');
  const calls = new Map<string, number>();
  const usec = new Map<string, number>();
  for (const m of stats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
    calls.set(m[1]!, Number(m[2]));
    usec.set(m[1]!, Number(m[3]));
  }
  const all = await redis.info();
  const num = (name: string) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(all)?.[1] ?? NaN);
  return {
    calls,
    usec,
    cpuMainS: num('used_cpu_sys_main_thread') + num('used_cpu_user_main_thread'),
    netInBytes: num('total_net_input_bytes'),
    netOutBytes: num('total_net_output_bytes'),
    usedMemoryBytes: num('used_memory'),
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-capacity-'));
  const redisPort = await freePort();
  const redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
  });
  const redis = new Redis(redisPort, '127.0.0.1', { maxRetriesPerRequest: 1, connectionName: 'capacity-probe' });
  redis.on('error', () => undefined); // refused until redis-server listens
  for (let i = 0; i < 50 && (await redis.ping().catch(() => null)) !== 'PONG'; i += 1) await new Promise((r) => setTimeout(r, 100));
  await copyFile(join(resolve(ROOT, process.env['AIRLOCK_DATA_DIR'] ?? '.airlock'), 'images.json'), join(dir, 'images.json'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_')));
  const proc = spawn(process.execPath, [join(ROOT, 'bin/airlock.js'), 'serve'], {
    cwd: ROOT,
    env: {
      ...env,
      AIRLOCK_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      AIRLOCK_DATA_DIR: dir,
      AIRLOCK_PORT: '0',
      AIRLOCK_WORKER_CONCURRENCY: String(CONCURRENCY),
      AIRLOCK_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  try {
    while (!/airlock .* ready/.test(out)) {
      if (proc.exitCode !== null) throw new Error(`airlock exited:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const base = /listening on (http:\/\/\S+)/.exec(out)![1]!.replace('0.0.0.0', '127.0.0.1');
    const key = /^\s+(ak_[A-Za-z0-9_-]+)\s*$/m.exec(out)![1]!;
    const submit = async () => {
      const res = await fetch(`${base}/v1/jobs?wait=60`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify(JOB),
      });
      const job = (await res.json()) as { status: string; id: string };
      if (job.status !== 'succeeded') throw new Error(`job ${job.id} ended ${job.status}`);
    };
    const batch = async (n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < n) {
            next += 1;
            await submit();
          }
        }),
      );
    };
    await batch(Math.min(8, JOBS)); // warm-up: scripts loaded, images in the page cache
    // the heartbeat and the checkpointer run on their own clock: measured, not subtracted
    const before = await read(redis);
    const started = performance.now();
    await batch(JOBS);
    const wallS = (performance.now() - started) / 1000;
    const after = await read(redis);

    const perJob = (a: number, b: number) => (a - b) / JOBS;
    // what stays in memory, by kind, over every job run (warm-up included): the retention cost
    const kept = new Map<string, number>();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) {
        const kind = k.includes(':audit:') ? 'audit log' : k.includes(':job:') ? 'job records and inputs' : 'queue (BullMQ) and other';
        kept.set(kind, (kept.get(kind) ?? 0) + Number((await redis.memory('USAGE', k)) ?? 0));
      }
    } while (cursor !== '0');
    const ran = JOBS + Math.min(8, JOBS);
    const commands = [...after.calls.entries()]
      .map(([cmd, n]) => ({ cmd, calls: perJob(n, before.calls.get(cmd) ?? 0), usec: perJob(after.usec.get(cmd) ?? 0, before.usec.get(cmd) ?? 0) }))
      .filter((c) => c.calls > 0 && !['info', 'client', 'ping'].includes(c.cmd))
      .sort((a, b) => b.calls - a.calls);
    const cpuMsPerJob = perJob(after.cpuMainS, before.cpuMainS) * 1000;
    const figures = {
      jobs: JOBS,
      inFlight: IN_FLIGHT,
      workerConcurrency: CONCURRENCY,
      wallS: Number(wallS.toFixed(1)),
      jobsPerS: Number((JOBS / wallS).toFixed(2)),
      redisCommandsPerJob: Number(commands.reduce((s, c) => s + c.calls, 0).toFixed(1)),
      redisCommandUsecPerJob: Number(commands.reduce((s, c) => s + c.usec, 0).toFixed(0)),
      redisMainThreadCpuMsPerJob: Number(cpuMsPerJob.toFixed(2)),
      netInBytesPerJob: Math.round(perJob(after.netInBytes, before.netInBytes)),
      netOutBytesPerJob: Math.round(perJob(after.netOutBytes, before.netOutBytes)),
      usedMemoryBytesPerJob: Math.round(perJob(after.usedMemoryBytes, before.usedMemoryBytes)),
      keptBytesPerJob: Object.fromEntries([...kept].map(([kind, bytes]) => [kind, Math.round(bytes / ran)])),
      // one Redis main thread at 100% CPU, and at a 50% target leaving room for bursts and failover
      redisJobsPerSAt100: Math.round(1000 / cpuMsPerJob),
      redisJobsPerSAt50: Math.round(500 / cpuMsPerJob),
      topCommands: commands.slice(0, 12).map((c) => `${c.cmd} ${c.calls.toFixed(2)} (${c.usec.toFixed(0)} µs)`),
    };
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    redis.disconnect();
    redisProc.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`capacity: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
