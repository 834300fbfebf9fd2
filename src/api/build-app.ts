/**
 * The fastify app factory. Tests build it with real Redis-backed dependencies and call
 * inject(); main.ts builds the same app and listens.
 */
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { ApiKeyStore } from '../credentials/index.js';
import type { LoadedProfile } from '../profiles/index.js';
import type { JobProducer, WorkerRegistry } from '../queue/index.js';
import { AppError, type Logger } from '../shared/index.js';
import { authenticate } from './auth.js';
import { errorBody, makeErrorHandler } from './error-handler.js';
import { registerJsonParser } from './json-body-parser.js';
import { healthRoutes } from './routes/health.js';
import { jobRoutes } from './routes/jobs.js';
import type { FileArtifactStore } from '../artifacts/index.js';
import { keyRoutes } from './routes/keys.js';
import { profileRoutes } from './routes/profiles.js';

export interface AppDeps {
  /** Read-only use: serves collected artifacts. */
  artifacts: FileArtifactStore;
  redis: Redis;
  producer: JobProducer;
  keys: ApiKeyStore;
  workers: WorkerRegistry;
  profiles: ReadonlyMap<string, LoadedProfile>;
  logger: Logger;
  bodyLimitBytes: number;
  maxWaitS: number;
}

const PUBLIC_ROUTES = new Set(['/healthz', '/readyz']);

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic type
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
  });
  app.decorateRequest('apiKey', undefined);
  registerJsonParser(app);
  app.setErrorHandler(makeErrorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send(errorBody(new AppError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`)));
  });
  // authenticate before the body is parsed: an anonymous caller learns nothing about validation
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0] ?? '';
    if (PUBLIC_ROUTES.has(path)) return;
    req.apiKey = await authenticate(req, deps.keys);
  });

  healthRoutes(app, { redis: deps.redis, workers: deps.workers });
  jobRoutes(app, { producer: deps.producer, profiles: deps.profiles, maxWaitS: deps.maxWaitS, artifacts: deps.artifacts });
  keyRoutes(app, deps.keys);
  profileRoutes(app, deps.profiles);
  return app;
}
