/**
 * GET /openapi.json (no key) and the interactive page at GET /docs (@fastify/swagger-ui over the
 * same document, served from its bundled assets). The document is built once every route is
 * registered, from fastify's own route table (openapi-document.ts).
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument, type RouteEntry } from '../openapi/openapi-document.js';
import { audited } from '../route-audit.js';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/** Call before any other route is registered: it sees each one as it is added. */
export function openApiRoutes(app: FastifyInstance, isPublic: (url: string) => boolean): void {
  const routes: RouteEntry[] = [];
  app.addHook('onRoute', (r) => {
    if (r.url.startsWith(DOCS_PREFIX)) return;
    for (const method of [r.method].flat()) routes.push({ method, url: r.url, isPublic: isPublic(r.url) });
  });
  const document: Record<string, unknown> = {};
  app.addHook('onReady', (done) => {
    Object.assign(document, buildOpenApiDocument(routes, '0.1.0'));
    done();
  });
  app.get(OPENAPI_PATH, audited('request'), () => document);
  void app.register(fastifySwagger, { mode: 'static', specification: { document: document as never } });
  void app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX, staticCSP: true });
}
