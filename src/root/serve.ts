/**
 * `airlock serve` (and `npm start`, src/main.ts): start the roles the configuration names, print
 * what an operator needs, and drain on SIGTERM/SIGINT (no new jobs; running jobs finish).
 */
import type { Config } from '../config.js';
import { containProcessErrors, createLogger } from '../shared/index.js';
import { openAirlock, type Airlock } from './airlock.js';

export async function serve(config: Config, out: (line: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<void> {
  const logger = createLogger({ level: config.logLevel });
  // an error escaping one job's gateway is logged and contained; any other uncaught error still ends the process
  containProcessErrors({ logger });
  // handlers first: a SIGTERM that arrives while we start up still drains
  let airlock: Airlock | undefined;
  let stopSignal: string | undefined;
  const stop = (signal: string) => {
    if (stopSignal !== undefined && airlock === undefined) return;
    stopSignal ??= signal;
    if (airlock === undefined) return; // drained once start-up completes
    const a = airlock;
    airlock = undefined;
    logger.info({ signal }, 'draining: no new jobs, running jobs finish');
    a.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  airlock = await openAirlock(config, { logger });
  out(banner(airlock, config));
  if (stopSignal !== undefined) stop(stopSignal);
}

function banner(a: Airlock, config: Config): string {
  const lines = [`airlock ${config.role === 'all' ? 'API + worker' : config.role} ready`];
  if (a.url !== undefined) {
    const base = a.url.replace('0.0.0.0', '127.0.0.1');
    lines.push(`  listening on ${a.url}`);
    if (a.bootstrapKey) {
      lines.push('', '  First start: an admin API key was created. It is shown ONCE; store it now:', `    ${a.bootstrapKey.key}`, '');
      lines.push('  Create a key for an agent:  npx airlock keys create --role agent');
    }
    lines.push(
      '  Submit a first job (with an agent or admin key):',
      `    curl -s -X POST '${base}/v1/jobs?wait=30' -H "Authorization: Bearer $AIRLOCK_KEY" \\`,
      `      -H 'content-type: application/json' \\`,
      `      -d '{"runtime":"python","files":[{"path":"main.py","content":"print(\\"hello from the sandbox\\")"}]}'`,
    );
  }
  if (a.worker) lines.push(`  worker ${a.worker.workerId}: concurrency ${config.worker.concurrency}`);
  return lines.join('\n');
}
