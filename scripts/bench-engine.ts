/**
 * The engine-only steps of `npm run bench` (scripts/bench.ts), on dockerode and the docker CLI
 * with the hardening of a cold python job (its create options): what a job costs the engine
 * before Airlock does anything, and a CPU meter for the throughput runs.
 */
import Docker from 'dockerode';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config.js';
import { loadProfiles } from '../src/profiles/index.js';
import { containerOptions, jobIds, loadImageCatalog, type ContainerLimits } from '../src/sandbox/index.js';
import { withTimeout } from '../src/shared/index.js';

export const docker = new Docker({ socketPath: process.env['AIRLOCK_DOCKER_SOCKET'] ?? '/var/run/docker.sock' });
const run = promisify(execFile);
export const HELLO = 'print("hello")';
export const BENCH_LABEL = 'airlock.bench';
export const benchId = randomBytes(4).toString('hex');

const config = loadConfig(process.env);
export const profile = loadProfiles(config.profilesDir).get('python')!;
const imageId = loadImageCatalog(config.dataDir).get('python')!;
const limits: ContainerLimits = profile.profile.limits;
const createOptions = () => containerOptions({ jobId: 'bench', imageId, ...jobIds(), limits, seccompJson: profile.seccompJson }, { [BENCH_LABEL]: benchId });

/** (c): the same hardening as docker CLI flags (the CLI cannot set MaskedPaths/ReadonlyPaths; everything else is here). */
export function cliArgs(seccompFile: string): string[] {
  const o = createOptions();
  const hc = o.HostConfig as { [field: string]: unknown; Tmpfs: Record<string, string>; Ulimits: { Name: string; Soft: number; Hard: number }[]; NanoCpus: number };
  const args = ['run', '--rm', '--label', `${BENCH_LABEL}=${benchId}`, '--network', 'none', '--dns', '127.0.0.1', '--read-only', '--cap-drop', 'ALL'];
  args.push('--security-opt', 'no-new-privileges', '--security-opt', `seccomp=${seccompFile}`, '--init', '--ipc', 'private', '--cgroupns', 'private');
  args.push('--pids-limit', String(hc['PidsLimit']), '--memory', String(hc['Memory']), '--memory-swap', String(hc['MemorySwap']), '--cpus', String(hc['NanoCpus'] / 1e9));
  args.push('--shm-size', String(hc['ShmSize']), '--oom-score-adj', String(hc['OomScoreAdj']), '--log-driver', 'none', '--user', o.User);
  for (const [path, opts] of Object.entries(hc.Tmpfs)) args.push('--tmpfs', `${path}:${opts}`);
  for (const u of hc.Ulimits) args.push('--ulimit', `${u.Name}=${u.Soft}:${u.Hard}`);
  return [...args, '--entrypoint', 'python3', imageId, '-c', HELLO];
}

export async function cliRun(args: string[]): Promise<number> {
  const t0 = performance.now();
  const { stdout } = await run('docker', args);
  if (stdout !== 'hello\n') throw new Error(`docker run printed ${JSON.stringify(stdout)}`);
  return performance.now() - t0;
}

/** The program, exec'd as the job's user into a started container, its output checked (for (d), (e)). */
async function execHello(c: Docker.Container): Promise<void> {
  const exec = await c.exec({ Cmd: ['python3', '-c', HELLO], User: createOptions().User, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString('latin1')));
  await new Promise((r) => stream.on('end', r));
  if (!out.includes('hello')) throw new Error(`raw exec printed ${JSON.stringify(out)}`);
}

/** (d): create → start → exec (the program) → remove, straight on dockerode, with the same create options. */
export async function rawRun(): Promise<number> {
  const t0 = performance.now();
  const c = await docker.createContainer(createOptions());
  try {
    await c.start();
    await execHello(c);
  } finally {
    await c.remove({ force: true, v: true });
  }
  return performance.now() - t0;
}

/** (e): the exec alone, into a container created and started before the timer; (f): its removal after the exec. */
export async function execOnly(): Promise<{ execMs: number; removeMs: number }> {
  const c = await docker.createContainer(createOptions());
  let execMs: number;
  try {
    await c.start();
    const t0 = performance.now();
    await execHello(c);
    execMs = performance.now() - t0;
  } catch (err) {
    await c.remove({ force: true, v: true });
    throw err;
  }
  const t1 = performance.now();
  await c.remove({ force: true, v: true });
  return { execMs, removeMs: performance.now() - t1 };
}

/** `p`'s value, or a failure naming `what` after 10 s (a step that hangs fails the bench, never stalls it). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  const value = await withTimeout(p, 10_000);
  if (value === undefined) throw new Error(`(g): ${what} took over 10 s`);
  return value;
}

/**
 * (g): the engine's floor for a job with no exec at all: a container started beforehand (outside
 * the timer) whose main process, a shell as the job's ids, waits on a FIFO in a bind-mounted host
 * folder and then replaces itself with the program, attached before the start. Timed from the
 * host's write into the FIFO to the output seen, to the engine reporting the stop (its wait), and
 * to the container removed. Nothing of Airlock's launcher, input or tripwire is in it.
 */
export async function exitOnly(): Promise<{ outMs: number; stoppedMs: number; removedMs: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'airlock-bench-g-'));
  await chmod(dir, 0o755);
  const fifo = join(dir, 'go');
  await run('mkfifo', ['-m', '0666', fifo]);
  const ids = jobIds();
  const o = createOptions();
  const hc = o.HostConfig as { Binds: string[] };
  const c = await docker.createContainer({
    ...o,
    User: `${ids.uid}:${ids.gid}`,
    Entrypoint: ['sh', '-c', `read go < /run/bench/go; exec python3 -c '${HELLO}'`],
    Cmd: [],
    AttachStdout: true,
    AttachStderr: true,
    HostConfig: { ...o.HostConfig, Binds: [...hc.Binds, `${dir}:/run/bench:ro`] },
  });
  let removed = false;
  try {
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    let out = '';
    const seen = new Promise<true>((resolve) =>
      stream.on('data', (d: Buffer) => {
        out += d.toString('latin1');
        if (out.includes('hello')) resolve(true);
      }),
    );
    await c.start();
    const stopped = c.wait() as Promise<{ StatusCode: number }>;
    const t0 = performance.now();
    const w = await within(open(fifo, 'w'), 'the FIFO open');
    await w.write('go\n');
    await w.close();
    await within(seen, 'the output');
    const outMs = performance.now() - t0;
    const { StatusCode } = await within(stopped, 'the stop');
    const stoppedMs = performance.now() - t0;
    if (StatusCode !== 0) throw new Error(`(g) exited ${StatusCode}: ${JSON.stringify(out)}`);
    await c.remove({ v: true });
    removed = true;
    return { outMs, stoppedMs, removedMs: performance.now() - t0 };
  } finally {
    if (!removed) await c.remove({ force: true, v: true });
    await rm(dir, { recursive: true, force: true });
  }
}

/** One clock tick of /proc/stat in ms, asked once. */
const tickMs = run('getconf', ['CLK_TCK']).then(({ stdout }) => 1000 / Number(stdout.trim()));

/** CPU time spent while `work` runs (ms): this process's own, and the whole machine's (/proc/stat). */
export async function cpuOf<T>(work: () => Promise<T>): Promise<{ result: T; processMs: number; machineMs: number }> {
  const tick = await tickMs;
  const busy = async () => {
    const [, ...f] = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal: all but idle and iowait
    return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!) * tick;
  };
  const [p0, m0] = [process.cpuUsage(), await busy()];
  const result = await work();
  const p = process.cpuUsage(p0);
  return { result, processMs: (p.user + p.system) / 1000, machineMs: (await busy()) - m0 };
}
