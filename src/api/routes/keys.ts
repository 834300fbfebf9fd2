import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ROLES, type ApiKeyStore } from '../../credentials/index.js';
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

export function keyRoutes(app: FastifyInstance, keys: ApiKeyStore): void {
  app.post('/v1/keys', async (req, reply) => {
    requireRole(req, 'admin');
    const created = await keys.create(parseWith(CreateKeySchema, req.body));
    return reply.status(201).send(created);
  });

  app.get('/v1/keys', async (req) => {
    requireRole(req, 'admin');
    return { keys: await keys.list() };
  });

  app.delete('/v1/keys/:id', async (req) => {
    requireRole(req, 'admin');
    const id = (req.params as { id?: string }).id ?? '';
    if (!KEY_ID.test(id)) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    return keys.revoke(id);
  });
}
