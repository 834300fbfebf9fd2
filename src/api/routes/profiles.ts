import type { FastifyInstance } from 'fastify';
import type { LoadedProfile } from '../../profiles/index.js';
import { requireRole } from '../auth.js';

export function profileRoutes(app: FastifyInstance, profiles: ReadonlyMap<string, LoadedProfile>): void {
  app.get('/v1/profiles', (req) => {
    requireRole(req, 'agent', 'reviewer', 'admin', 'service');
    return {
      profiles: [...profiles.values()].map((p) => ({
        name: p.profile.name,
        description: p.profile.description,
        image: p.profile.image,
        command: p.profile.command,
        network: p.profile.network,
        limits: p.profile.limits,
        allow: p.profile.allow,
        digest: p.digest,
        seccompDigest: p.seccompDigest,
      })),
    };
  });
}
