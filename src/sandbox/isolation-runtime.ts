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
