/**
 * The gateway's own catalogue: what a job sees when a tool call is refused, as
 * `{ error: { code, message } }` with the status below. Stable codes, asserted by tests; the
 * same code is the `outcome` of the call's audit report. (Separate from shared ErrorCode:
 * these answer the sandboxed program, not an API client.)
 */
export const GATEWAY_ERROR_CODES = [
  'credential_invalid',
  'route_not_found',
  'tool_not_granted',
  'tool_unknown',
  'method_not_allowed',
  'path_not_allowed',
  'request_too_large',
  'too_many_calls',
  'rate_limited',
  'upstream_timeout',
  'upstream_unreachable',
  'upstream_bad_response',
  'response_too_large',
  'redirect_refused',
  'gateway_unavailable',
] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

export const GATEWAY_STATUS: Readonly<Record<GatewayErrorCode, number>> = Object.freeze({
  credential_invalid: 401,
  route_not_found: 404,
  tool_not_granted: 403,
  tool_unknown: 404,
  method_not_allowed: 405,
  path_not_allowed: 403,
  request_too_large: 413,
  too_many_calls: 429,
  rate_limited: 429,
  upstream_timeout: 504,
  upstream_unreachable: 502,
  upstream_bad_response: 502,
  response_too_large: 502,
  redirect_refused: 502,
  gateway_unavailable: 503,
});

/** A refused call. `reason` is for our records only and never reaches the job. */
export class GatewayRefusal extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly reason?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }

  get status(): number {
    return GATEWAY_STATUS[this.code];
  }
}
