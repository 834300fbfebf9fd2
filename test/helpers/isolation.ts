/**
 * The isolation tier a suite runs under. The red-team, compatibility and archive suites run on
 * both: the default vitest project on the plain tier, the `gvisor` project (vitest.config.ts)
 * with AIRLOCK_TEST_ISOLATION=gvisor, where each job names its runtime's `-gvisor` profile. A
 * case whose outcome differs between tiers states both (`byTier`), so each tier's contained
 * outcome is asserted, never skipped.
 */
export type TestTier = 'container' | 'gvisor';

export const TIER: TestTier = process.env['AIRLOCK_TEST_ISOLATION'] === 'gvisor' ? 'gvisor' : 'container';
export const GVISOR = TIER === 'gvisor';

/** The request field that runs a job of `runtime` on this suite's tier. */
export function on(runtime: 'python' | 'node' | 'shell'): { runtime: string } | { profile: string } {
  return GVISOR ? { profile: `${runtime}-gvisor` } : { runtime };
}

/** This tier's value of something that differs between tiers. */
export function byTier<T>(values: Readonly<Record<TestTier, T>>): T {
  return values[TIER];
}
