/** Bearer API keys. Missing, malformed, unknown or revoked keys all get 401. */
import type { FastifyRequest } from 'fastify';
import type { ApiKeyInfo, ApiKeyStore, Role } from '../credentials/index.js';
import { AppError } from '../shared/index.js';

declare module 'fastify' {
  interface FastifyRequest {
    apiKey: ApiKeyInfo | undefined;
  }
}

export async function authenticate(req: FastifyRequest, keys: ApiKeyStore): Promise<ApiKeyInfo> {
  const header = req.headers.authorization;
  if (header === undefined) throw new AppError('UNAUTHORIZED', 'missing Authorization header; send "Authorization: Bearer <api key>"');
  const m = /^Bearer ([^\s]+)$/.exec(header);
  if (m?.[1] === undefined) throw new AppError('UNAUTHORIZED', 'malformed Authorization header; expected "Bearer <api key>"');
  // a Redis failure leaves the key store as REDIS_UNAVAILABLE (503), like every other Redis read
  const info = await keys.verify(m[1]);
  if (info === undefined) throw new AppError('UNAUTHORIZED', 'unknown or revoked API key');
  return info;
}

/**
 * The key's role may not use the route (403 FORBIDDEN). Its own class so the audit hook can
 * tell an access-control refusal (`auth.denied`) from a 403 about the request's content.
 */
export class RoleDeniedError extends AppError {
  constructor(message: string) {
    super('FORBIDDEN', message);
  }
}

export function requireRole(req: FastifyRequest, ...roles: Role[]): ApiKeyInfo {
  const key = req.apiKey;
  if (key === undefined) throw new AppError('UNAUTHORIZED', 'authentication required');
  if (!roles.includes(key.role)) throw new RoleDeniedError(`this route needs one of the roles: ${roles.join(', ')} (your key has ${key.role})`);
  return key;
}
