/**
 * Seccomp tripwire evidence that a flood cannot hide. The kernel log is rate-limited host-wide
 * (10 records per 5 s), so it is not the source: a helper process (tripwire-listener.py, as
 * root) reads every seccomp kill record from the audit netlink multicast group, which the
 * kernel feeds before its rate limit, and reports those of the gids the worker watches. Every
 * job runs with ids of its own, so a record with the job's gid is this job's, whichever of its
 * processes tripped, whatever the run's outcome.
 *
 * A run is settled once all of its processes are gone: a barrier record, queued by the kernel
 * behind every earlier record, proves the job's records have all been seen. A channel that is
 * down, lost records, or a barrier that does not come back make the evidence `incomplete`:
 * the caller must not report such a run as clean.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { AppError, type Logger } from '../shared/index.js';
import type { SandboxBehaviour, SandboxIsolation, SandboxResult } from './sandbox-spec.js';
import { syscallName } from './tripwire-syscall.js';

export type TripwireEvidence =
  { readonly complete: true; readonly syscalls: readonly string[]; readonly behaviour?: SandboxBehaviour } | { readonly complete: false; readonly reason: string };

export interface TripwireWatch {
  /** Call once every process of the run is gone. */
  settle(): Promise<TripwireEvidence>;
  /** Stops watching (always, in finally). */
  close(): void;
  /**
   * The job starts now (a pooled container was watched long before its job existed): losses
   * before this moment cannot have hidden a record of this gid, which no process had yet. False
   * when the channel this watch is on has died: the watch can no longer settle.
   */
  rebase(): boolean;
}

export interface TripwireMonitorOptions {
  readonly logger: Logger;
  /** The interpreter that runs the listener (default `python3` on PATH). */
  readonly python?: string;
  readonly startTimeoutMs?: number;
  readonly barrierTimeoutMs?: number;
}

const LISTENER = fileURLToPath(new URL('./tripwire-listener.py', import.meta.url));
/** Syscall names kept per run: the first is reported, the rest only make it look worse. */
const MAX_KEPT = 16;

interface Channel {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Bumped on every `L` (possible loss) and when the channel dies. */
  losses: number;
  dead: string | undefined;
  readonly acks: Map<string, (ok: boolean) => void>;
  readonly barriers: Map<string, (losses: number | undefined) => void>;
  readonly runs: Map<string, string[]>;
  /** The behaviour watch's record counts per watched gid, by `<syscall> <code>` (listener `D` lines). */
  readonly observed: Map<string, Map<string, number>>;
  /** Why the kernel records none of them (listener `N`), if so. */
  behaviourOff: string | undefined;
}

export class TripwireMonitor {
  private channel: Promise<Channel> | undefined;
  private nextBarrier = 0;

  constructor(private readonly opts: TripwireMonitorOptions) {}

  /** Resolves when the channel is up; throws SANDBOX_UNAVAILABLE (with the reason) when it cannot be. */
  async ready(): Promise<void> {
    await this.open();
  }

  /** Starts collecting the records of processes with `gid`; resolves once the listener has it. */
  async watch(gid: number): Promise<TripwireWatch> {
    const ch = await this.open();
    const key = String(gid);
    const syscalls: string[] = [];
    ch.runs.set(key, syscalls);
    let lossesAtStart = ch.losses;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(unavailable('the tripwire channel did not acknowledge a watch')), this.opts.startTimeoutMs ?? 10_000);
      ch.acks.set(key, (ok) => {
        clearTimeout(timer);
        if (ok) resolve();
        else reject(unavailable(`the tripwire channel died: ${ch.dead ?? 'unknown'}`));
      });
      ch.proc.stdin.write(`W ${key}\n`);
    }).catch((err: unknown) => {
      ch.runs.delete(key);
      throw err;
    });
    return {
      settle: () => this.settle(ch, syscalls, lossesAtStart, key),
      rebase: () => {
        if (ch.dead !== undefined || ch.runs.get(key) !== syscalls) return false;
        lossesAtStart = ch.losses;
        return true;
      },
      close: () => {
        ch.acks.delete(key);
        if (ch.runs.get(key) !== syscalls) return;
        ch.runs.delete(key);
        ch.observed.delete(key);
        if (ch.dead === undefined) ch.proc.stdin.write(`F ${key}\n`);
      },
    };
  }

  /** Ends the listener (it also ends by itself when this process goes away). */
  close(): void {
    void this.channel?.then(
      (ch) => ch.proc.kill(),
      () => undefined,
    );
    this.channel = undefined;
  }

  private async settle(ch: Channel, syscalls: string[], lossesAtStart: number, key: string): Promise<TripwireEvidence> {
    if (ch.dead !== undefined) return { complete: false, reason: `the tripwire channel died: ${ch.dead}` };
    const token = String(this.nextBarrier++);
    const losses = await new Promise<number | undefined>((resolve) => {
      const timer = setTimeout(() => {
        ch.barriers.delete(token);
        resolve(undefined);
      }, this.opts.barrierTimeoutMs ?? 5_000);
      ch.barriers.set(token, (n) => {
        clearTimeout(timer);
        resolve(n);
      });
      ch.proc.stdin.write(`B ${token}\n`);
    });
    // (the channel may have died while we waited)
    const dead = ch.dead as string | undefined;
    if (losses === undefined)
      return { complete: false, reason: dead !== undefined ? `the tripwire channel died: ${dead}` : 'the kernel did not deliver the barrier record in time' };
    if (losses !== lossesAtStart) return { complete: false, reason: 'seccomp records may have been lost while the job ran' };
    return { complete: true, syscalls: [...syscalls], behaviour: behaviourOf(ch, key) };
  }

  private open(): Promise<Channel> {
    const current = this.channel;
    if (current !== undefined) {
      return current.then((ch) => (ch.dead === undefined ? ch : this.restart()));
    }
    return this.restart();
  }

  private restart(): Promise<Channel> {
    const started = this.start();
    this.channel = started;
    // a failed start is retried by the next call, not cached
    started.catch(() => {
      if (this.channel === started) this.channel = undefined;
    });
    return started;
  }

  private start(): Promise<Channel> {
    const log = this.opts.logger;
    const proc = spawn(this.opts.python ?? 'python3', ['-I', '-u', LISTENER], { stdio: ['pipe', 'pipe', 'pipe'] });
    // the worker's lifetime decides, not this pipe: EOF on its stdin ends the listener
    proc.unref();
    for (const s of [proc.stdin, proc.stdout, proc.stderr] as unknown as { unref?: () => void }[]) s.unref?.();
    const ch: Channel = { proc, losses: 0, dead: undefined, acks: new Map(), barriers: new Map(), runs: new Map(), observed: new Map(), behaviourOff: undefined };
    let stderr = '';
    proc.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
    proc.stdin.on('error', () => undefined);
    return new Promise<Channel>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill();
        reject(unavailable('the tripwire channel did not start in time'));
      }, this.opts.startTimeoutMs ?? 10_000);
      const die = (why: string) => {
        if (ch.dead !== undefined) return;
        ch.dead = why;
        ch.losses += 1;
        clearTimeout(timer);
        for (const b of ch.barriers.values()) b(undefined);
        ch.barriers.clear();
        for (const a of ch.acks.values()) a(false);
        ch.acks.clear();
        reject(unavailable(`the tripwire channel is not available: ${why}`));
      };
      proc.on('error', (err) => die(err.message));
      proc.on('exit', (code, signal) => {
        const why = `listener exited (${signal ?? code})${stderr ? `: ${stderr.trim().split('\n').pop()}` : ''}`;
        if (ch.dead === undefined) log.error({ why }, 'tripwire channel lost');
        die(why);
      });
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const [kind, a, b] = line.split(' ');
        if (kind === 'R') {
          clearTimeout(timer);
          resolve(ch);
        } else if (kind === 'E') die(line.slice(2));
        else if (kind === 'S' && a !== undefined) {
          const run = ch.runs.get(a);
          if (run !== undefined && run.length < MAX_KEPT) run.push(b !== undefined && /^\d+$/.test(b) ? syscallName(Number(b)) : `syscall ${b}`);
        } else if (kind === 'D' && a !== undefined && ch.runs.has(a)) {
          const [, , syscall, code, count] = line.split(' ');
          let counts = ch.observed.get(a);
          if (counts === undefined) ch.observed.set(a, (counts = new Map<string, number>()));
          counts.set(`${syscall} ${code}`, Number(count));
        } else if (kind === 'N') {
          ch.behaviourOff = line.slice(2);
        } else if (kind === 'L') {
          ch.losses += 1;
          log.warn({ why: line.slice(2) }, 'tripwire records may have been lost');
        } else if (kind === 'w' && a !== undefined) {
          ch.acks.get(a)?.(true);
          ch.acks.delete(a);
        } else if (kind === 'B' && a !== undefined) {
          ch.barriers.get(a)?.(ch.losses);
          ch.barriers.delete(a);
        }
      });
    });
  }
}

/** SECCOMP_RET_LOG's `code`: the watch's allow-and-record action (named pipes); its refusals are errno records. */
const LOG_CODE = '0x7ffc0000';
const SOCKET = ['41'];
const MKNOD = ['133', '259'];

/** The behaviour watch's counts for a gid (see images/airlock-watch), by what its filter records. */
function behaviourOf(ch: Channel, key: string): SandboxBehaviour {
  if (ch.behaviourOff !== undefined) return { observed: false, reason: ch.behaviourOff };
  const counts = [...(ch.observed.get(key) ?? [])].map(([k, n]) => ({ syscall: k.split(' ')[0]!, logged: k.split(' ')[1] === LOG_CODE, n }));
  const sum = (syscalls: readonly string[], logged: boolean) => counts.filter((c) => syscalls.includes(c.syscall) && c.logged === logged).reduce((a, c) => a + c.n, 0);
  return { observed: true, socketAttempts: sum(SOCKET, false), deviceNodeAttempts: sum(MKNOD, false), fifosMade: sum(MKNOD, true) };
}

function unavailable(message: string): AppError {
  return new AppError('SANDBOX_UNAVAILABLE', message, { retryable: true });
}

/** 128 + SIGSYS: the seccomp policy's tripwires kill with SIGSYS. */
const SIGSYS_EXIT = 159;

/**
 * The run's result with its tripwire verdict. A kernel record for the job's gid counts whatever
 * the exit code (a child's violation is not hidden by its parent) and whatever the outcome; exit
 * 159 without one still counts, unverified (faking it only makes a job look worse). `exited`
 * becomes policy_violation; an outcome the host decided (timeout, output_limit, oom, killed)
 * stays, and carries `violation` (the monitor makes it a high finding either way). Evidence
 * that is incomplete is no clean bill: the run fails as SANDBOX_UNAVAILABLE (retried, then `error`).
 */
export function withTripwires(run: SandboxResult, evidence: TripwireEvidence, isolation: SandboxIsolation = 'container'): SandboxResult {
  if (!evidence.complete) throw unavailable(`no complete seccomp evidence for this run (${evidence.reason}); it is not reported as clean`);
  // the behaviour watch's records: none reach the host from gVisor's kernel
  const behaviour: SandboxBehaviour =
    isolation === 'gvisor'
      ? { observed: false, reason: 'gVisor records nothing on the host kernel' }
      : (evidence.behaviour ?? { observed: false, reason: 'the tripwire channel reported no behaviour' });
  const result: SandboxResult = { ...run, behaviour };
  const first = evidence.syscalls[0];
  const violation =
    first !== undefined ? { syscall: first, verified: true } : result.outcome === 'exited' && result.exitCode === SIGSYS_EXIT ? { syscall: null, verified: false } : undefined;
  if (violation === undefined) return result;
  return { ...result, outcome: result.outcome === 'exited' ? 'policy_violation' : result.outcome, violation };
}
