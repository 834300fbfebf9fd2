/**
 * One Streamable HTTP request (stateless: no session; one server per request): the API mounts
 * it at POST /mcp. What the API needs to know about a request's messages before it is served
 * (which tools it calls, which earlier calls it cancels) is read here too.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { createMcpServer, type McpServerOptions } from './mcp-server.js';

export interface McpHttpAnswer {
  readonly response: Response;
  /** Releases the server and transport (once the answer has been sent, or the caller left). */
  close(): Promise<void>;
}

export async function handleMcpHttp(request: Request, parsedBody: unknown, opts: McpServerOptions): Promise<McpHttpAnswer> {
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  const server = createMcpServer(opts);
  await server.connect(transport);
  const response = await transport.handleRequest(request, { parsedBody });
  return {
    response,
    close: async () => {
      await transport.close();
      await server.close();
    },
  };
}

type RequestId = string | number;

const messagesOf = (body: unknown): unknown[] => (Array.isArray(body) ? body : [body]);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object';

/** The tools/call requests of a body (one JSON-RPC message or a batch): their ids and tool names. */
export function toolCallsIn(body: unknown): { id: RequestId; name: string }[] {
  return messagesOf(body).flatMap((m) =>
    isObject(m) && m['method'] === 'tools/call' && (typeof m['id'] === 'string' || typeof m['id'] === 'number') && isObject(m['params']) && typeof m['params']['name'] === 'string'
      ? [{ id: m['id'], name: m['params']['name'] }]
      : [],
  );
}

/** How many JSON-RPC messages the body holds. */
export const messageCount = (body: unknown): number => messagesOf(body).length;

/** The request ids a body's notifications/cancelled name. */
export function cancelledIn(body: unknown): RequestId[] {
  return messagesOf(body).flatMap((m) => {
    if (!isObject(m) || m['method'] !== 'notifications/cancelled' || !isObject(m['params'])) return [];
    const id = m['params']['requestId'];
    return typeof id === 'string' || typeof id === 'number' ? [id] : [];
  });
}
