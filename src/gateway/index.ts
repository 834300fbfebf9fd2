/** Public face of the gateway: the per-job, granted-tools HTTP proxy on a Unix socket (the sandbox's only channel out). */
export { ToolGateway, type ToolGatewayOptions, type RunningToolGateway, type GatewayCallReport } from './tool-gateway.js';
export { ToolSchema, InjectHeaderSchema, TOOL_METHODS, MIN_SECRET_CHARS, parseTools, resolveToolSecrets, type Tool, type ToolMethod, type SecretResolver } from './tool-schema.js';
export { GATEWAY_ERROR_CODES, GATEWAY_STATUS, GatewayRefusal, type GatewayErrorCode } from './gateway-errors.js';
export { gatewayCallAuditEvent, refusedCallsAuditEvent, GatewayAuditRecorder, type GatewayAuditEvent, type GatewayAuditRecorderOptions } from './gateway-audit.js';
export { CallRateSchema, DEFAULT_CALL_RATE, type CallRate } from './gateway-options.js';
export { DEFAULT_FORWARD_HEADERS } from './forward-headers.js';
