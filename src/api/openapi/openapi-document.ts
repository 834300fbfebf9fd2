/**
 * The OpenAPI 3.1 document of the REST API, generated: its paths are fastify's route table (every
 * route registered, as registered), request bodies are the routes' zod schemas in JSON Schema
 * (zod 4's own output), every error answer is the one error envelope with the catalogue's codes
 * that map to that status (HTTP_STATUS), and the security scheme is the bearer API key.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from '../../shared/index.js';
import { HTTP_STATUS } from '../error-handler.js';
import { JobRequestSchema } from '../job-request-schema.js';
import { PromotionRequestBody } from '../routes/promotions.js';

export interface RouteEntry {
  readonly method: string;
  readonly url: string;
  /** Answered without a key (probes, the JWKS, security.txt, the console, this document). */
  readonly isPublic: boolean;
}

/** Request bodies with a schema of their own; other routes that take a body take a JSON object. */
const BODIES: Readonly<Record<string, z.ZodType>> = {
  'POST /v1/jobs': JobRequestSchema,
  'POST /v1/jobs/:id/promotions': PromotionRequestBody,
};

/** An example body per route, used as written by the tests. */
export const EXAMPLES: Readonly<Record<string, unknown>> = {
  'POST /v1/jobs': { runtime: 'python', files: [{ path: 'main.py', content: 'print("hello")' }] },
};

const jsonSchema = (s: z.ZodType) => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
};

/** The catalogue's codes by HTTP status. */
function codesByStatus(): Map<number, ErrorCode[]> {
  const m = new Map<number, ErrorCode[]>();
  for (const code of ERROR_CODES) m.set(HTTP_STATUS[code], [...(m.get(HTTP_STATUS[code]) ?? []), code]);
  return m;
}

const toOpenApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\*$/, '{path}');
const paramsOf = (url: string) => [...url.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]!).concat(url.endsWith('*') ? ['path'] : []);

export function buildOpenApiDocument(routes: readonly RouteEntry[], version: string): Record<string, unknown> {
  const byStatus = codesByStatus();
  const responses: Record<string, unknown> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[`E${status}`] = {
      description: `Refused or failed: one of ${codes.join(', ')}`,
      content: {
        'application/json': {
          schema: {
            type: 'object',
            required: ['error'],
            properties: {
              error: {
                type: 'object',
                required: ['code', 'message'],
                properties: { code: { type: 'string', enum: codes }, message: { type: 'string' } },
                additionalProperties: true,
              },
            },
          },
        },
      },
    };
  }
  const errorRefs = Object.fromEntries([...byStatus.keys()].sort((a, b) => a - b).map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
    const key = `${r.method} ${r.url}`;
    const body = BODIES[key];
    const operation: Record<string, unknown> = {
      operationId: `${r.method.toLowerCase()}${r.url.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      summary: key,
      ...(r.isPublic ? { security: [] } : {}),
      parameters: paramsOf(r.url).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(body !== undefined || (r.method !== 'GET' && r.method !== 'DELETE')
        ? {
            requestBody: {
              required: body !== undefined,
              content: {
                'application/json': { schema: body !== undefined ? jsonSchema(body) : { type: 'object' }, ...(EXAMPLES[key] !== undefined ? { example: EXAMPLES[key] } : {}) },
              },
            },
          }
        : {}),
      responses: { '2XX': { description: 'Success (see docs/api.md for each route)', content: { 'application/json': { schema: {} } } }, ...errorRefs },
    };
    (paths[toOpenApiPath(r.url)] ??= {})[r.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Airlock API', version, description: 'Sandboxed code execution with audit and human review. Reference: docs/api.md.' },
    components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An Airlock API key (ak_…)' } }, responses },
    security: [{ apiKey: [] }],
    paths,
  };
}
