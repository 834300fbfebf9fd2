/**
 * Which engine runtime runs each isolation tier, and which tiers an engine offers. The tier is
 * fixed at create (`HostConfig.Runtime`); a tier the engine does not have is refused, never run
 * on another: a gVisor profile on a host without runsc is ISOLATION_UNAVAILABLE, not runc.
 * scripts/setup-gvisor.sh registers runsc (and leaves it unregistered where it cannot run).
 */
import { AppError } from '../shared/index.js';
import type { SandboxIsolation } from './sandbox-spec.js';

/** The engine runtime per tier (undefined: the engine's default, runc). */
export const RUNTIME_OF: Readonly<Record<SandboxIsolation, string | undefined>> = { container: undefined, gvisor: 'runsc' };

const TIERS = Object.keys(RUNTIME_OF) as SandboxIsolation[];

/**
 * The host pids cgroup of a gVisor sandbox: a backstop for the host, not the job's limit. Under
 * runsc the cgroup holds gVisor's own kernel (the Sentry: ~55 host threads idle) and, on the
 * ptrace platform, stub processes it makes per address space and keeps: measured, a fork bomb
 * held at 16 / 32 / 128 tasks cost 808 / 1636 / 3451 host pids in 8 s, and 2675 at 32 after 25 s.
 * When the cgroup refuses a thread, the Sentry exits 2 (the whole sandbox dies: a job walking the
 * file system under pids 64 did). So the job's `pids` binds the job's own tasks inside gVisor's
 * kernel (RLIMIT_NPROC: the job has a uid of its own, and gVisor refuses fork and clone past it
 * with EAGAIN, as Linux does), and the host cgroup only keeps a runaway Sentry from the host's pid
 * space (32768 here): a sandbox that reaches it dies, SANDBOX_UNAVAILABLE, never a result.
 */
export const GVISOR_HOST_PIDS = 8192;

/** How a tier holds the job to `pids` tasks: runc by the container's pids cgroup; gVisor by RLIMIT_NPROC in its kernel, the cgroup a backstop. */
export function pidsBounds(isolation: SandboxIsolation, pids: number): { hostPids: number; nproc?: number } {
  return isolation === 'gvisor' ? { hostPids: GVISOR_HOST_PIDS, nproc: pids } : { hostPids: pids };
}

/** The tiers an engine with these runtimes (`docker info` Runtimes) can run. */
export function isolationsOf(engineRuntimes: readonly string[]): SandboxIsolation[] {
  return TIERS.filter((tier) => {
    const runtime = RUNTIME_OF[tier];
    return runtime === undefined || engineRuntimes.includes(runtime);
  });
}

/** Throws ISOLATION_UNAVAILABLE (retryable: another worker's engine may have it) when the engine cannot run `isolation`. */
export function assertIsolation(isolation: SandboxIsolation, engineRuntimes: readonly string[]): void {
  if (isolationsOf(engineRuntimes).includes(isolation)) return;
  throw new AppError(
    'ISOLATION_UNAVAILABLE',
    `the ${isolation} isolation tier needs the engine runtime ${RUNTIME_OF[isolation] ?? 'runc'}, which this engine does not have (it has ${engineRuntimes.join(', ') || 'none'}); run: npm run setup`,
    { retryable: true, details: { isolation } },
  );
}
