/** GET /v1/anomalies (admin): the latest anomalies, newest first; `?keyId=` for one key's, `?limit=` (default 100). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { AnomalyDetector } from '../../monitor/index.js';
import { requireRole } from '../auth.js';
import { parseWith } from '../job-request-schema.js';
import { audited, KEY_ID } from '../route-audit.js';

const AnomalyQuerySchema = z.strictObject({
  keyId: z.string().regex(KEY_ID).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
});

export function anomalyRoutes(app: FastifyInstance, anomalies: Pick<AnomalyDetector, 'list'>): void {
  app.get('/v1/anomalies', audited('anomaly.read'), async (req) => {
    requireRole(req, 'admin');
    const q = parseWith(AnomalyQuerySchema, req.query);
    return { anomalies: await anomalies.list({ ...(q.keyId !== undefined ? { keyId: q.keyId } : {}), ...(q.limit !== undefined ? { limit: q.limit } : {}) }) };
  });
}
