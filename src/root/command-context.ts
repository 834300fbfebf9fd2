/** What a command-line operation runs with: the real clock, and a log on stderr (stdout is the command's own output). */
import type { Config } from '../config.js';
import { createLogger, systemClock } from '../shared/index.js';
import type { RootContext } from './context.js';

export function commandContext(config: Config): RootContext {
  return { config, clock: systemClock, logger: createLogger({ level: config.logLevel === 'info' ? 'warn' : config.logLevel, destination: process.stderr }) };
}
