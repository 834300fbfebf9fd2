/**
 * `airlock/client`: the typed client of Airlock's REST API (used by the CLI, the stdio MCP server,
 * the examples and the tests). It imports only shared's error vocabulary and input caps.
 */
export { Airlock, type AirlockOptions } from './airlock-client.js';
export { AirlockApiError, ApiUnreachableError, errorFromResponse, retryAfterMsOf } from './api-error.js';
export { readEventStream, type ServerSentEvent } from './sse-parser.js';
export * from './wire-types.js';
export { AppError, ERROR_CODES, type ErrorCode } from '../shared/errors.js';
export { INPUT_CAPS } from '../shared/input-caps.js';
