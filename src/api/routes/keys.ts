import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ROLES } from '../../credentials/index.js';
import { KeyRevocation, type KeyRevocationDeps } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { GROUP_NAME } from '../../review/index.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { KEY_ID } from '../route-actions.js';

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
});

/** `?killRunning=true`: also kill the key's running jobs (default: they finish, without credentials). */
const RevokeQuerySchema = z.strictObject({ killRunning: z.stringbool().optional() });

export function keyRoutes(app: FastifyInstance, deps: KeyRevocationDeps): void {
  const { keys } = deps;
  const revocation = new KeyRevocation(deps);
  app.post('/v1/keys', async (req, reply) => {
    requireRole(req, 'admin');
    const created = await keys.create(parseWith(CreateKeySchema, req.body));
    return reply.status(201).send(created);
  });

  app.get('/v1/keys', async (req) => {
    requireRole(req, 'admin');
    return { keys: await keys.list() };
  });

  // revoking cancels the key's queued jobs and ends its running jobs' credentials (see KeyRevocation)
  app.delete('/v1/keys/:id', async (req) => {
    const admin = requireRole(req, 'admin');
    const id = (req.params as { id?: string }).id ?? '';
    if (!KEY_ID.test(id)) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    const killRunning = parseWith(RevokeQuerySchema, req.query).killRunning ?? false;
    const r = await revocation.revoke(id, { killRunning, actor: { type: 'key', keyId: admin.id, role: admin.role } });
    // the key.revoke record (written by the audit hook) says what the revocation did; each job has its own record
    const note = { killRunning, cancelled: r.cancelled.length, killing: r.killing.length, running: r.running.length, revokedTokenCount: r.tokensRevoked };
    if (req.auditState !== null) req.auditState.note = note;
    return { ...r.key, jobs: { cancelled: r.cancelled, killing: r.killing, running: r.running } };
  });
}
