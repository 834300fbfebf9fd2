import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CREDENTIAL_START_SLACK_MS, type ApiKeyStore, type JobCredentialVerifier } from '../../credentials/index.js';
import type { Tool } from '../../gateway/index.js';
import { capabilityMatrix, type LoadedProfile } from '../../profiles/index.js';
import type { WorkerRegistry } from '../../queue/index.js';
import { requireRole } from '../auth.js';
import { audited } from '../route-audit.js';
import { parseWith } from '../job-request-schema.js';

const IntrospectSchema = z.strictObject({ token: z.string().min(1).max(8192) });

export interface CredentialRoutesDeps {
  credentials: JobCredentialVerifier;
  keys: ApiKeyStore;
  profiles: ReadonlyMap<string, LoadedProfile>;
  tools: readonly Tool[];
  workers: WorkerRegistry;
}

export function credentialRoutes(app: FastifyInstance, deps: CredentialRoutesDeps): void {
  // public, as JWKS are: a staging service verifies a job's token with these keys alone
  app.get('/.well-known/jwks.json', async (_req, reply) => reply.header('cache-control', 'max-age=60').send(await deps.credentials.jwks()));

  // RFC 7662: `{ active: false }` and nothing else for any token that is not live right now
  app.post('/v1/credentials/introspect', audited('credential.introspect'), async (req) => {
    requireRole(req, 'service', 'admin');
    const { response, reason } = await deps.credentials.introspect(parseWith(IntrospectSchema, req.body).token);
    if (reason !== undefined && req.auditState !== null) req.auditState.note = { introspection: reason };
    return response;
  });

  app.get('/v1/capabilities', audited('capabilities.read'), async (req) => {
    requireRole(req, 'admin', 'reviewer');
    return capabilityMatrix({
      profiles: deps.profiles,
      tools: deps.tools,
      keys: await deps.keys.list(),
      imageDigests: await deps.workers.images(),
      credential: { issuer: deps.credentials.options.issuer, audience: deps.credentials.options.audience, graceMs: deps.credentials.options.graceMs },
      startSlackMs: CREDENTIAL_START_SLACK_MS,
    });
  });
}
