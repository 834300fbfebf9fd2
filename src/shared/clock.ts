/** Time source. Production uses the system clock; tests inject a fake one. */
export interface Clock {
  now(): number;
  /** Resolves once `ms` of this clock's time have passed (a test's fake clock advances instead of waiting). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
