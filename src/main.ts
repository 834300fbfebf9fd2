/**
 * The process entry of `airlock serve` (`npm start`): the configuration from the environment,
 * then the composition root (src/root) starts the roles it names. The command line's `serve`
 * reaches the same root through src/cli.
 */
import { pathToFileURL } from 'node:url';
import { loadConfig } from './config.js';
import { serve } from './root/index.js';

export async function main(): Promise<void> {
  await serve(loadConfig());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`airlock: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
