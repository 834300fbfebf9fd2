/**
 * The OpenAPI document: valid OpenAPI 3.1 (@seriousme/openapi-schema-validator), served without a
 * key; it lists every route fastify has (each route the route files declare, and each of its
 * operations is one fastify routes), every code of the error catalogue appears in some response
 * with its status, and the example of POST /v1/jobs is accepted by the API as written.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTP_STATUS } from '../src/api/index.js';
import { ERROR_CODES } from '../src/shared/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

const ROUTES_DIR = resolve(import.meta.dirname, '../src/api/routes');

/** Routes as the route files declare them: app.get('/path' …) and app.route({ method, url: CONST }). */
function declaredRoutes(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(ROUTES_DIR)) {
    const text = readFileSync(join(ROUTES_DIR, f), 'utf8');
    for (const m of text.matchAll(/app\.(get|post|delete|patch|put)\(\s*'([^']+)'/g)) out.push(`${m[1]!.toUpperCase()} ${m[2]}`);
  }
  return out;
}

describe('OpenAPI document', () => {
  let t: TestAirlock;
  let doc: any;
  beforeAll(async () => {
    t = await startTestAirlock('openapi', { AIRLOCK_ROLE: 'api' });
    const res = await fetch(`${t.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = await res.json();
  }, 60_000);
  afterAll(async () => t?.stop());

  it('is valid OpenAPI 3.1 with the bearer key as its security scheme', async () => {
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('lists every route fastify has, and only those', () => {
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{path\}$/, '*').replace(/\{([A-Za-z_]+)\}/g, ':$1')}`),
    );
    const app = t.airlock.app!;
    for (const op of ops) {
      const [method, url] = op.split(' ') as [string, string];
      expect(app.hasRoute({ method: method, url }), op).toBe(true);
    }
    const declared = declaredRoutes();
    expect(declared.length).toBeGreaterThan(30);
    expect(ops).toEqual(expect.arrayContaining(declared));
    expect(ops).toEqual(expect.arrayContaining(['POST /mcp', 'GET /openapi.json']));
  });

  it('every error code of the catalogue appears in a response of its status', () => {
    const responses = doc.components.responses as Record<string, any>;
    for (const code of ERROR_CODES) {
      const r = responses[`E${HTTP_STATUS[code]}`];
      expect(r?.content['application/json'].schema.properties.error.properties.code.enum, code).toContain(code);
    }
    expect(doc.paths['/v1/jobs'].post.responses['400']).toEqual({ $ref: '#/components/responses/E400' });
  });

  it('the example of POST /v1/jobs is accepted as written', async () => {
    const op = doc.paths['/v1/jobs'].post;
    const example = op.requestBody.content['application/json'].example;
    expect(op.requestBody.content['application/json'].schema.properties).toHaveProperty('runtime');
    const key = (await t.key('agent')).key;
    const res = await t.request('POST', '/v1/jobs', key, example);
    expect(res.status).toBe(202);
    expect(res.body.id).toMatch(/^job_/);
  });

  it('/docs renders its page without a key', async () => {
    const res = await fetch(`${t.baseUrl}/docs/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('swagger-ui');
  });
});
