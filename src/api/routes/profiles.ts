import type { FastifyInstance } from 'fastify';
import type { LoadedProfile } from '../../profiles/index.js';
import type { WorkerRegistry } from '../../queue/index.js';
import { requireRole } from '../auth.js';

/** Each profile with its isolation tier and whether a live worker runs that tier now (`available`: false, its jobs are refused with ISOLATION_UNAVAILABLE). */
export function profileRoutes(app: FastifyInstance, profiles: ReadonlyMap<string, LoadedProfile>, workers: Pick<WorkerRegistry, 'isolations'>): void {
  app.get('/v1/profiles', async (req) => {
    requireRole(req, 'agent', 'reviewer', 'admin', 'service');
    const served = await workers.isolations();
    return {
      profiles: [...profiles.values()].map((p) => ({
        name: p.profile.name,
        description: p.profile.description,
        image: p.profile.image,
        command: p.profile.command,
        network: p.profile.network,
        isolation: p.profile.isolation,
        available: served.has(p.profile.isolation),
        limits: p.profile.limits,
        allow: p.profile.allow,
        digest: p.digest,
        seccompDigest: p.seccompDigest,
      })),
    };
  });
}
