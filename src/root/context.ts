/** What every factory of the composition root is given: the configuration, the log and the clock. */
import type { Config } from '../config.js';
import type { PromMetrics } from '../api/index.js';
import type { Clock, Logger } from '../shared/index.js';

export interface RootContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
  /** This process's metrics (openAirlock's; absent for command-line operations: nothing is counted). */
  readonly metrics?: PromMetrics;
}
