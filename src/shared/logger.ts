import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths that may hold credentials; pino replaces them before anything is written. */
export const REDACT_PATHS = ['req.headers.authorization', 'headers.authorization', 'authorization', 'apiKey', 'token', 'secret', '*.apiKey', '*.token', '*.secret'];

export function createLogger(opts: { level: string; name?: string; destination?: { write(line: string): void } }): Logger {
  const options = { level: opts.level, name: opts.name ?? 'airlock', redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}
