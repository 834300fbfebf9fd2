import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ROLES } from '../../credentials/index.js';
import { KeyLimitOverridesSchema } from '../../monitor/index.js';
import type { KeyRevocationResult, KeyService } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { GROUP_NAME } from '../../review/index.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { httpOrigin, type HttpAnswer } from '../http-origin.js';
import { audited, KEY_ID } from '../route-audit.js';

const CreateKeySchema = z.strictObject({
  role: z.enum(ROLES),
  name: z.string().max(100).optional(),
  owner: z
    .string()
    .regex(/^[A-Za-z0-9_.@-]{1,100}$/)
    .optional(),
  profiles: z
    .array(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/))
    .max(64)
    .optional(),
  tools: z
    .array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/))
    .max(64)
    .optional(),
  groups: z.array(z.string().regex(GROUP_NAME)).max(32).optional(),
  /** The key's own limits over its role's defaults. */
  limits: KeyLimitOverridesSchema.optional(),
});

const UpdateKeySchema = z.strictObject({ limits: KeyLimitOverridesSchema });

/** `?killRunning=true`: also kill the key's running jobs (default: they finish, without credentials). */
const RevokeQuerySchema = z.strictObject({ killRunning: z.stringbool().optional() });

export function keyRoutes(app: FastifyInstance, keys: KeyService): void {
  // the key is shown once, in this answer; its record names only its id
  app.post('/v1/keys', audited('key.create', { mutating: true }), async (req, reply) => {
    requireRole(req, 'admin');
    const { limits, ...input } = parseWith(CreateKeySchema, req.body);
    const created = await keys.create(
      input,
      httpOrigin(req, (k) => ({ status: 201, body: k })),
      limits,
    );
    return reply.status(201).send(created);
  });

  app.get('/v1/keys', audited('key.list'), async (req) => {
    requireRole(req, 'admin');
    return { keys: await keys.list() };
  });

  app.get('/v1/keys/:id/limits', audited('key.list', { target: 'key' }), async (req) => {
    requireRole(req, 'admin');
    return keys.limits(keyIdOf(req));
  });

  app.patch('/v1/keys/:id', audited('key.update', { mutating: true, target: 'key' }), async (req) => {
    requireRole(req, 'admin');
    const { limits } = parseWith(UpdateKeySchema, req.body);
    return keys.updateLimits(
      keyIdOf(req),
      limits,
      httpOrigin(req, (v) => ({ status: 200, body: v })),
    );
  });

  // lifts an anomaly's throttle before it ends by itself
  app.delete('/v1/keys/:id/throttle', audited('key.unthrottle', { mutating: true, target: 'key' }), async (req) => {
    requireRole(req, 'admin');
    return keys.unthrottle(
      keyIdOf(req),
      httpOrigin(req, (v) => ({ status: 200, body: v })),
    );
  });

  // revoking cancels the key's queued jobs and ends its running jobs' credentials (KeyService.revoke: a record per job, then key.revoke)
  app.delete('/v1/keys/:id', audited('key.revoke', { mutating: true, target: 'key' }), async (req) => {
    requireRole(req, 'admin');
    const id = (req.params as { id?: string }).id ?? '';
    if (!KEY_ID.test(id)) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    const killRunning = parseWith(RevokeQuerySchema, req.query).killRunning ?? false;
    return revokedAnswer(await keys.revoke(id, killRunning, httpOrigin(req, revokedAnswer))).body;
  });
}

const revokedAnswer = (r: KeyRevocationResult): HttpAnswer => ({ status: 200, body: { ...r.key, jobs: { cancelled: r.cancelled, killing: r.killing, running: r.running } } });

function keyIdOf(req: FastifyRequest): string {
  const id = (req.params as { id?: string }).id ?? '';
  if (!KEY_ID.test(id)) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
  return id;
}
