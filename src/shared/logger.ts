import { pino, type Logger } from 'pino';
import { redact, redactString } from './redact.js';

export type { Logger };

/** Paths that may hold credentials; pino replaces them before anything is written. */
export const REDACT_PATHS = ['req.headers.authorization', 'headers.authorization', 'authorization', 'apiKey', 'token', 'secret', '*.apiKey', '*.token', '*.secret'];

interface LoggedRequest {
  method?: unknown;
  url?: unknown;
  host?: unknown;
  ip?: unknown;
  socket?: { remotePort?: unknown } | null;
}

/**
 * What the log says of a request and of an error, through the same redaction function as the
 * audit log (one policy for both sinks): a key sent in a query string or echoed in an error
 * message is masked in both. Fastify uses these serializers over its own (they log `req.url` raw).
 */
const SERIALIZERS = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: typeof req.url === 'string' ? redactString(req.url) : undefined,
    host: typeof req.host === 'string' ? redactString(req.host) : undefined,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
  err: (err: unknown) => (err instanceof Error ? redact(pino.stdSerializers.err(err)) : redact(err)),
};

export function createLogger(opts: { level: string; name?: string; destination?: { write(line: string): void } }): Logger {
  const options = { level: opts.level, name: opts.name ?? 'airlock', redact: { paths: REDACT_PATHS, censor: '[redacted]' }, serializers: SERIALIZERS };
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination);
}
