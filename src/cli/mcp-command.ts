/**
 * `airlock mcp`: the MCP server on stdin/stdout for a local agent (Claude Code, Cursor, any MCP
 * client), a client of a running Airlock API (AIRLOCK_URL, AIRLOCK_KEY or --url/--key): it needs
 * no Redis or Docker access. stdout carries only the protocol; diagnostics go to stderr.
 */
import type { Config } from '../config.js';
import { Airlock, AirlockApiError } from '../client/index.js';
import { serveStdio } from '../mcp/index.js';
import { AppError, REST_SCHEMAS } from '../root/index.js';

type Flags = ReadonlyMap<string, string>;

export async function mcpCommand(flags: Flags, config: Config, err: (line: string) => void): Promise<number> {
  const url = flags.get('url') ?? config.client.url;
  const key = (flags.get('key') ?? config.client.key ?? '').trim();
  if (key === '' || key === 'true') throw new AppError('UNAUTHORIZED', 'no API key: set AIRLOCK_KEY or pass --key KEY (an agent key to run code)');
  const role = await roleOf(new Airlock({ url, key, retries: 0 }), err);
  await serveStdio({ url, key, schemas: REST_SCHEMAS, ...(role !== undefined ? { role } : {}) });
  return 0;
}

/** The key's role, so the tools it may not use are not listed; an API without GET /v1/whoami lists them all (the API still refuses). */
async function roleOf(client: Airlock, err: (line: string) => void): Promise<string | undefined> {
  try {
    return (await client.json<{ role: string }>({ method: 'GET', path: '/v1/whoami' })).role;
  } catch (e) {
    if (e instanceof AirlockApiError && e.serverCode === 'UNAUTHORIZED') throw e;
    err(`airlock mcp: cannot learn the key's role (${e instanceof Error ? e.message : String(e)}); listing every tool`);
    return undefined;
  }
}
