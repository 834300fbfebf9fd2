/** What every factory of the composition root is given: the configuration, the log and the clock. */
import type { Config } from '../config.js';
import type { Clock, Logger } from '../shared/index.js';

export interface RootContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: Clock;
}
