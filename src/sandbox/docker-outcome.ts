/** How a run in a container ended, as the engine tells it (the job cannot forge any of it). */
import type Docker from 'dockerode';
import type { Readable } from 'node:stream';
import { withTimeout } from '../shared/index.js';
import { delay, statusOf } from './docker-errors.js';
import type { LauncherStatus } from './output-capture.js';
import type { SandboxIsolation, SandboxOutcome } from './sandbox-spec.js';

/**
 * The engine's record of the exec's exit; it may lag the stream's end by a few ms. Null when
 * there is none: the engine drops an exec whose container died (under runsc, the host's OOM
 * killer ends the whole sandbox), and the container's state tells the rest.
 */
export async function execExitCode(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    let info: { Running: boolean; ExitCode: number | null };
    try {
      info = await exec.inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
    if (!info.Running) return info.ExitCode;
    await delay(20);
  }
  return null;
}

/** runsc exec's own exit code when its wait on the command fails: the sandbox's kernel died under it. */
const RUNSC_EXEC_FAILED = 128;
/** How long the engine may take to see a gVisor sandbox stopped once its kernel died (ms when quiet). */
const SANDBOX_DEATH_GRACE_MS = 3000;

/**
 * The command's exit code, or null when the sandbox died under it. Under gVisor the exec can end
 * before the engine sees the death: runsc exec reports its failed wait (exit 128, measured) while
 * the container still reads running. A program may exit 128 itself, so the container's stop
 * decides, never the code or the stderr (both the program's to forge); only that case waits.
 */
export async function commandExitCode(stopped: Promise<boolean>, isolation: SandboxIsolation, exitCode: number | null): Promise<number | null> {
  if (isolation !== 'gvisor' || exitCode !== RUNSC_EXEC_FAILED) return exitCode;
  // the run's own wait on the container (asked before the run); a failed wait means it is gone, stopped too
  const stops = await withTimeout(
    stopped.then(() => true),
    SANDBOX_DEATH_GRACE_MS,
  );
  return stops === true ? null : exitCode;
}

export interface OutcomeFacts {
  /** Our own kill (timeout, output_limit, killed), if any. */
  readonly killReason: SandboxOutcome | undefined;
  readonly exitCode: number | null;
  readonly launcher: LauncherStatus | undefined;
  readonly startedAtMs: number;
}

export async function decideOutcome(docker: Docker, containerId: string, facts: OutcomeFacts): Promise<'exited' | SandboxOutcome | 'input_failed'> {
  // our own kill explains the exit first
  if (facts.killReason !== undefined) return facts.killReason;
  if (facts.launcher === 'patch_failed') return 'patch_failed';
  // an OOM kill: exit code alone lies (sandbox-facts), so ask the engine
  if ((facts.exitCode === 137 || facts.exitCode === null) && (await oomSince(docker, containerId, facts.startedAtMs))) return 'oom';
  if (facts.launcher !== 'ok') return 'input_failed';
  // a tripwire turns `exited` into policy_violation once its evidence is in (withTripwires)
  return 'exited';
}

/** Whether the engine saw an OOM kill in this container since the run started. */
async function oomSince(docker: Docker, containerId: string, sinceMs: number): Promise<boolean> {
  if (await engineEventSince(docker, containerId, sinceMs, ['oom'])) return true;
  const state = ((await docker.getContainer(containerId).inspect()) as { State: { OOMKilled: boolean } }).State;
  return state.OOMKilled;
}

/**
 * Whether something outside the program stopped this container during the run: it is no longer
 * running, or the engine itself killed it (its shutdown kills every container; the kill event is
 * logged before the processes die, while the container's state may still read `running`).
 * Asked only when the command died of a signal that was not our own kill.
 */
export async function stoppedFromOutside(docker: Docker, containerId: string, sinceMs: number): Promise<boolean> {
  if (!(await isRunning(docker, containerId))) return true;
  return engineEventSince(docker, containerId, sinceMs, ['kill', 'die', 'stop']);
}

async function engineEventSince(docker: Docker, containerId: string, sinceMs: number, kinds: string[]): Promise<boolean> {
  const events = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000) - 1,
    until: Date.now() / 1000,
    filters: { container: [containerId], event: kinds },
  })) as unknown as Readable;
  let text = '';
  for await (const chunk of events) text += String(chunk);
  return kinds.some((k) => text.includes(`"${k}"`));
}

export async function isRunning(docker: Docker, containerId: string): Promise<boolean> {
  try {
    return ((await docker.getContainer(containerId).inspect()) as { State: { Running: boolean } }).State.Running;
  } catch {
    return false;
  }
}
