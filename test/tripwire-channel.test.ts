/**
 * The tripwire channel against the real kernel (no engine needed): host processes with a gid of
 * the test's choosing die in seccomp strict mode, which the kernel records exactly like a
 * sandbox's tripwire (audit type 1326, with the process's gid). A flood of such kills must not
 * hide one, a channel that cannot be opened must say so, and a verdict on incomplete evidence
 * is never "clean". Needs root on the host, like the worker.
 */
import { execFile, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { SandboxResult } from '../src/sandbox/index.js';
import { TripwireMonitor, withTripwires } from '../src/sandbox/tripwire-monitor.js';
import { AppError, createLogger } from '../src/shared/index.js';

const run = promisify(execFile);
const logger = createLogger({ level: 'silent' });
const monitor = new TripwireMonitor({ logger });
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  monitor.close();
  for (const c of cleanups) await c();
});

// forks `count` children with gid/uid `id` that each die in seccomp strict mode (getppid: syscall 110)
const TRIP = `
import ctypes, os, sys
libc = ctypes.CDLL(None)
gid, count = int(sys.argv[1]), int(sys.argv[2])
print("go", flush=True)
for _ in range(count):
    pid = os.fork()
    if pid == 0:
        os.setgid(gid); os.setuid(gid)
        libc.prctl(22, 1, 0, 0, 0)
        os.getppid()
        os._exit(0)
    os.waitpid(pid, 0)
`;
const trip = (gid: number, count = 1) => run('python3', ['-c', TRIP, String(gid), String(count)], { timeout: 60_000 });
/** Starts a flood of kills and resolves once it is under way, with a promise of its end. */
async function flood(gid: number, count: number): Promise<{ ended: Promise<void> }> {
  const p = spawn('python3', ['-c', TRIP, String(gid), String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ended = new Promise<void>((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`flood exited ${code}`)))));
  await new Promise<void>((resolve) => p.stdout.once('data', () => resolve()));
  // let the kernel log's budget (10 per 5 s) run out first
  await new Promise((r) => setTimeout(r, 200));
  return { ended };
}
const freshGid = () => 300_000_000 + randomInt(100_000_000);
/** A kill is a tripwire, never behaviour (test/detectors-behaviour.test.ts has the behaviour watch's records). */
const NO_BEHAVIOUR = { observed: true, socketAttempts: 0, deviceNodeAttempts: 0, fifosMade: 0 };

describe('tripwire channel (audit multicast)', () => {
  /** Two gids watched on `m`, one trips: its kill is reported, nothing for the other. */
  async function tripOneOfTwo(m: TripwireMonitor): Promise<void> {
    const [a, b] = [freshGid(), freshGid()];
    const wa = await m.watch(a);
    const wb = await m.watch(b);
    try {
      await trip(a);
      expect(await wa.settle()).toEqual({ complete: true, syscalls: ['syscall 110'], behaviour: NO_BEHAVIOUR });
      expect(await wb.settle()).toEqual({ complete: true, syscalls: [], behaviour: NO_BEHAVIOUR });
    } finally {
      wa.close();
      wb.close();
    }
  }

  it("reports a watched gid's seccomp kill, and nothing of other gids", async () => {
    await tripOneOfTwo(monitor);
  });

  it('a flood of kills by another gid does not hide a single one (the kernel log would)', async () => {
    const [flooder, victim] = [freshGid(), freshGid()];
    const wv = await monitor.watch(victim);
    try {
      const flooding = await flood(flooder, 300);
      await trip(victim);
      await flooding.ended;
      expect(await wv.settle()).toEqual({ complete: true, syscalls: ['syscall 110'], behaviour: NO_BEHAVIOUR });
    } finally {
      wv.close();
    }
  });

  it('a channel that cannot be opened fails visibly (SANDBOX_UNAVAILABLE), never "clean"', async () => {
    const missing = new TripwireMonitor({ logger, python: '/nonexistent/python3' });
    await expect(missing.watch(freshGid())).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE' });
    await expect(missing.ready()).rejects.toMatchObject({ code: 'SANDBOX_UNAVAILABLE', retryable: true });

    // without CAP_AUDIT_READ (not root) the multicast group refuses the listener
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tripwire-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const unprivileged = join(dir, 'python-as-nobody');
    await writeFile(unprivileged, '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$@"\n');
    await chmod(unprivileged, 0o755);
    const nobody = new TripwireMonitor({ logger, python: unprivileged });
    await expect(nobody.ready()).rejects.toThrow(/tripwire channel is not available: .*Operation not permitted/);
  });

  /** A monitor whose listener tells the test its pid; `extra` goes after the listener's own arguments. */
  async function listenerWithPid(extra = ''): Promise<{ m: TripwireMonitor; seccompMode: () => Promise<string | undefined> }> {
    const dir = await mkdtemp(join(tmpdir(), 'airlock-tripwire-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const python = join(dir, 'python-with-pid');
    await writeFile(python, `#!/bin/sh\necho $$ > ${dir}/pid\nexec /usr/bin/python3 "$@" ${extra}\n`);
    await chmod(python, 0o755);
    const m = new TripwireMonitor({ logger, python });
    await m.ready();
    const listener = (await readFile(join(dir, 'pid'), 'utf8')).trim();
    // 0: none, 2: a filter (the log barrier's, the only one it ever adds)
    const seccompMode = async () => /^Seccomp:\s+(\d)$/m.exec(await readFile(`/proc/${listener}/status`, 'utf8'))?.[1];
    return { m, seccompMode };
  }

  it.each([
    ['a barrier is one logged syscall of the listener itself (its own filter), no process made for it', '', '2'],
    ['where the kernel would not log that call (--fork-barrier), a child dying in strict mode is the barrier', '--fork-barrier', '0'],
  ])('%s', async (_name, extra, mode) => {
    const { m, seccompMode } = await listenerWithPid(extra);
    try {
      await tripOneOfTwo(m);
      expect(await seccompMode()).toBe(mode);
    } finally {
      m.close();
    }
  });

  it('a channel that dies during a run leaves its evidence incomplete', async () => {
    const m = new TripwireMonitor({ logger });
    const w = await m.watch(freshGid());
    m.close();
    expect(await w.settle()).toMatchObject({ complete: false });
    w.close();
    // and the next run gets a fresh channel
    const again = await m.watch(freshGid());
    expect(await again.settle()).toEqual({ complete: true, syscalls: [], behaviour: NO_BEHAVIOUR });
    again.close();
    m.close();
  });
});

describe('withTripwires: the verdict on a run', () => {
  const result = (over: Partial<SandboxResult>): SandboxResult => ({
    outcome: 'exited',
    exitCode: 0,
    stdout: Buffer.alloc(0),
    stderr: Buffer.alloc(0),
    stdoutBytes: 0,
    stderrBytes: 0,
    stdoutTruncated: false,
    stderrTruncated: false,
    durationMs: 1,
    containerId: 'c',
    startedAt: '',
    finishedAt: '',
    artifacts: [],
    artifactsRejected: [],
    ...over,
  });
  const none = { complete: true as const, syscalls: [] };
  const ptrace = { complete: true as const, syscalls: ['ptrace', 'bpf'] };

  it('a kernel record makes a clean exit a verified policy_violation', () => {
    expect(withTripwires(result({}), ptrace)).toMatchObject({ outcome: 'policy_violation', exitCode: 0, violation: { syscall: 'ptrace', verified: true } });
    expect(withTripwires(result({}), none)).not.toHaveProperty('violation');
  });

  it('an outcome the host decided stays, and carries the violation', () => {
    for (const outcome of ['timeout', 'output_limit', 'oom', 'killed'] as const) {
      expect(withTripwires(result({ outcome, exitCode: 137 }), ptrace)).toMatchObject({ outcome, violation: { syscall: 'ptrace', verified: true } });
    }
  });

  it('exit 159 without a record counts, unverified', () => {
    expect(withTripwires(result({ exitCode: 159 }), none)).toMatchObject({ outcome: 'policy_violation', violation: { syscall: null, verified: false } });
  });

  it('incomplete evidence is an infrastructure failure, not a clean run', () => {
    expect(() => withTripwires(result({}), { complete: false, reason: 'lost' })).toThrow(AppError);
    expect(() => withTripwires(result({}), { complete: false, reason: 'lost' })).toThrow(/not reported as clean/);
  });
});
