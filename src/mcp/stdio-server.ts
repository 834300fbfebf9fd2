/**
 * `airlock mcp`: the MCP server on stdin/stdout for a local agent, talking to a running Airlock
 * API with the client (AIRLOCK_URL, AIRLOCK_KEY): no Redis or Docker access of its own.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { Airlock } from '../client/index.js';
import { clientBackend } from './mcp-backend.js';
import { createMcpServer } from './mcp-server.js';
import type { RestSchemas } from './mcp-tools.js';

export interface StdioOptions {
  readonly url: string;
  readonly key: string;
  readonly schemas: RestSchemas;
  /** The key's role if known (the tools it may not use are then not listed). */
  readonly role?: string;
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
}

/** Serves until stdin ends; resolves then. */
export async function serveStdio(opts: StdioOptions): Promise<void> {
  const client = new Airlock({ url: opts.url, key: opts.key, headers: { 'x-airlock-via': 'mcp' } });
  const server = createMcpServer({ backend: clientBackend(client), schemas: opts.schemas, role: opts.role });
  const transport = new StdioServerTransport(opts.input as NodeJS.ReadStream | undefined, opts.output as NodeJS.WriteStream | undefined);
  const closed = new Promise<void>((resolve) => {
    server.onclose = resolve;
  });
  await server.connect(transport);
  await closed;
}
