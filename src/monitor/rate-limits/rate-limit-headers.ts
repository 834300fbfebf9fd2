/**
 * The headers a limited answer carries, in both styles clients know: the IETF draft's
 * `RateLimit-Policy` / `RateLimit` (draft-ietf-httpapi-ratelimit-headers) and the older
 * `X-RateLimit-Limit/Remaining/Reset` (reset in seconds from now), and `Retry-After` (seconds)
 * on a refusal.
 */
import type { RateDecision } from './rate-limiter.js';

export function rateLimitHeaders(d: RateDecision): Record<string, string> {
  const windowS = Math.max(1, Math.round(d.windowMs / 1000));
  const resetS = Math.max(0, Math.ceil(d.resetMs / 1000));
  const remaining = Math.max(0, d.remaining);
  const name = d.limitName;
  const headers: Record<string, string> = {
    'ratelimit-policy': `"${name}";q=${d.limit};w=${windowS}`,
    ratelimit: `"${name}";r=${remaining};t=${resetS}`,
    'x-ratelimit-limit': String(d.limit),
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-reset': String(resetS),
  };
  if (!d.allowed) headers['retry-after'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
  return headers;
}
