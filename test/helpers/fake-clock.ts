/** The tests' clock: time moves only when a test moves it, and a sleep advances it instead of waiting. */
import type { Clock } from '../../src/shared/index.js';

export class FakeClock implements Clock {
  constructor(public ms: number = Date.now()) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }

  /** Resolves at once, with the clock `ms` later: what waits on this clock never really waits. */
  sleep(ms: number): Promise<void> {
    this.advance(ms);
    return Promise.resolve();
  }
}

/** The system clock shifted by `offsetMs()` (read at each call); sleeps are real. */
export function offsetClock(offsetMs: () => number): Clock {
  return { now: () => Date.now() + offsetMs(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };
}
