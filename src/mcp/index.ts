/**
 * The MCP server: Airlock's tools for agents (run_code, run_patch, get_job, cancel_job,
 * list_profiles, get_capabilities, request_promotion, get_promotion) over the REST API's own
 * operations. Transports: stdio (`airlock mcp`, over the client) and Streamable HTTP (POST /mcp,
 * mounted by the API over the same routes in-process). Reference: docs/mcp.md.
 */
export { clientBackend, type AirlockCalls, type McpBackend } from './mcp-backend.js';
export { createMcpServer, SERVER_INFO, toolsFor, type McpServerOptions } from './mcp-server.js';
export { toolDefinitions, type RestSchemas, type ToolDefinition } from './mcp-tools.js';
export { serveStdio, type StdioOptions } from './stdio-server.js';
export { boundText, OUTPUT_HEAD_CHARS, OUTPUT_TAIL_CHARS } from './tool-result.js';
export { cancelledIn, handleMcpHttp, messageCount, toolCallsIn, type McpHttpAnswer } from './http-handler.js';
