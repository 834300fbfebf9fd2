/**
 * The fastify app factory: the composition root (src/root) builds it over the services and
 * listens. Each route carries its audit metadata (route-audit.ts); mutations are service
 * methods that record themselves, the audit hook records everything else.
 */
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import type { RedisAuditStore, VerifyResult } from '../audit/index.js';
import type { ApiKeyInfo, ApiKeyStore } from '../credentials/index.js';
import type { LoadedProfile } from '../profiles/index.js';
import type { JobProducer, JobService, KeyService, WorkerRegistry } from '../queue/index.js';
import { AppError, systemClock, type Logger } from '../shared/index.js';
import { registerAuditHook } from './audit-hook.js';
import { authenticate } from './auth.js';
import { requestLimits, type RequestLimitDeps } from './rate-limit-hook.js';
import { anomalyRoutes } from './routes/anomalies.js';
import { errorBody, HTTP_STATUS, makeErrorHandler, toAppError } from './error-handler.js';
import { registerJsonParser } from './json-body-parser.js';
import type { AuditTarget } from './route-audit.js';
import { auditRoutes } from './routes/audit.js';
import { healthRoutes } from './routes/health.js';
import { jobEventRoutes } from './routes/job-events.js';
import { jobRoutes, mayReadJob } from './routes/jobs.js';
import type { ArtifactStore } from '../artifacts/index.js';
import type { Tool } from '../gateway/index.js';
import type { JobCredentialVerifier } from '../credentials/index.js';
import { credentialRoutes } from './routes/credentials.js';
import { keyRoutes } from './routes/keys.js';
import { profileRoutes } from './routes/profiles.js';
import { SECURITY_TXT_PATH, securityTxtRoutes } from './routes/security-txt.js';
import { CONSOLE_PATHS } from './routes/console.js';
import { observabilityRoutes } from './routes/observability.js';
import { rememberVerify } from './routes/operations.js';
import type { PromMetrics } from './metrics/prom-metrics.js';
import { promotionRoutes, reviewerKey } from './routes/promotions.js';
import { isInnerMcpRequest, mcpRoutes } from './routes/mcp.js';
import { REST_SCHEMAS } from './rest-schemas.js';
import { DOCS_PREFIX, OPENAPI_PATH, openApiRoutes } from './routes/openapi.js';
import type { PromotionService } from '../review/index.js';
import type { AnomalyDetector } from '../monitor/index.js';

export interface AppDeps {
  /** Verifies job credentials and serves the JWKS (no private key in the API). */
  credentials: JobCredentialVerifier;
  /** The configured tools (no secrets): for grants, and the capability matrix. */
  tools: readonly Tool[];
  /** Read-only use: serves collected artifacts. */
  artifacts: ArtifactStore;
  redis: Redis;
  /** Job reads and waits; submit and cancel go through `jobs`. */
  producer: JobProducer;
  /** Submit and cancel, each recording itself. */
  jobs: JobService;
  /** Authentication and key reads; create and revoke go through `keyService`. */
  keys: ApiKeyStore;
  /** Create, list and revoke, each mutation recording itself. */
  keyService: KeyService;
  workers: WorkerRegistry;
  profiles: ReadonlyMap<string, LoadedProfile>;
  logger: Logger;
  bodyLimitBytes: number;
  maxWaitS: number;
  audit: ApiAudit;
  /** Promotions to staging (requests, decisions, the approval policy's targets). */
  review: PromotionService;
  /** This process's metrics, served at GET /metrics (absent: no such route). */
  metrics?: PromMetrics;
  /** Per-key and per-address request limits, their refusal records, and the keys' baselines and anomalies. */
  limits: RequestLimitDeps & { readonly anomalies: AnomalyDetector };
  /** POST /mcp's DNS-rebinding allowances (Host names, browser Origins); default loopback and IP literals, no Origin. */
  mcp?: { readonly allowedHosts?: readonly string[]; readonly allowedOrigins?: readonly string[] };
  /**
   * Benchmarks only (scripts/bench-audit.ts, through Config.http.unauditedForBenchmark): build
   * the app without the audit hook to measure what the hook costs. No configuration variable
   * sets it: a deployment cannot turn auditing off.
   */
  unauditedForBenchmark?: boolean;
  /** Benchmarks only (scripts/bench-limits.ts, Config.http.unlimitedForBenchmark): no request limits nor baseline updates. */
  unlimitedForBenchmark?: boolean;
}

export interface ApiAudit {
  /** Every request's record goes here; the audit routes read from it. */
  store: RedisAuditStore;
  /** verifyChain with this deployment's checkpoints, keys and segments. */
  verify: () => Promise<VerifyResult>;
}

const PUBLIC_ROUTES = new Set(['/healthz', '/readyz', '/.well-known/jwks.json', SECURITY_TXT_PATH, ...CONSOLE_PATHS]);
/** Probes: neither audited nor limited (an orchestrator asks them all the time). */
const PROBES = new Set(['/healthz', '/readyz']);

export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; the cast keeps the instance's default generic type
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    // the router's own refusals (a malformed percent-escape, an over-long path parameter) run no
    // hook: they are recorded and answered here, once the audit hook exists
    frameworkErrors: (err, req, reply) => {
      void refuseUnrouted(err, req, reply);
    },
  });
  app.decorateRequest('apiKey', undefined);
  registerJsonParser(app);
  app.setErrorHandler(makeErrorHandler(deps.logger));
  app.setNotFoundHandler((req, reply) => {
    return reply.status(404).send(errorBody(new AppError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`)));
  });
  // first: every request below, refused ones included, leaves exactly one audit record
  // unaudited, a request still has its (empty) audit state, as its type says: a rate refusal marks it
  if (deps.unauditedForBenchmark === true) app.decorateRequest('auditState', null);
  const audit =
    deps.unauditedForBenchmark === true
      ? undefined
      : registerAuditHook(app, {
          store: deps.audit.store,
          mayTarget: (key, target) => maySee(deps, key, target),
        });
  async function refuseUnrouted(err: FastifyError, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const error = toAppError(err);
    if (audit === undefined) return void reply.code(HTTP_STATUS[error.code]).send(errorBody(error));
    // attributed to its key when the token verifies; the refusal itself is the router's
    req.apiKey = await authenticate(req, deps.keys).catch(() => undefined);
    await audit.refuseUnrouted(req, reply, error);
  }
  // authenticate and limit before the body is parsed: an anonymous caller learns nothing about validation
  const limits = requestLimits(deps.limits);
  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    if (PROBES.has(path)) return;
    if (PUBLIC_ROUTES.has(path) || path === OPENAPI_PATH || path === DOCS_PREFIX || path.startsWith(`${DOCS_PREFIX}/`)) return limits.anonymous(req, reply);
    let key: ApiKeyInfo;
    try {
      key = await authenticate(req, deps.keys);
    } catch (err) {
      // failed authentication counts against the source address (a 429 once it is over)
      if (err instanceof AppError && err.code === 'UNAUTHORIZED') await limits.anonymous(req, reply);
      throw err;
    }
    req.apiKey = key;
    // an MCP tool call's in-process requests: its POST /mcp was counted
    if (deps.unlimitedForBenchmark !== true && !isInnerMcpRequest(req)) await limits.key(req, reply, key);
  });
  // a role refusal is a refused request of the key's behaviour too
  app.addHook('onResponse', (req, reply, done) => {
    if (reply.statusCode === 403 && req.apiKey !== undefined) deps.limits.anomalies.observe(req.apiKey.id, 'refused');
    done();
  });

  routes(app, deps);
  return app;
}

function routes(app: FastifyInstance, deps: AppDeps): void {
  // first: the document lists every route registered after it
  openApiRoutes(app, (url) => PUBLIC_ROUTES.has(url) || url === OPENAPI_PATH);
  healthRoutes(app, { redis: deps.redis, auditRedis: deps.audit.store.redis, workers: deps.workers, logger: deps.logger });
  const knownTools = new Set(deps.tools.map((t) => t.name));
  jobRoutes(app, { jobs: deps.jobs, producer: deps.producer, profiles: deps.profiles, workers: deps.workers, maxWaitS: deps.maxWaitS, artifacts: deps.artifacts, knownTools });
  jobEventRoutes(app, { producer: deps.producer });
  keyRoutes(app, deps.keyService);
  credentialRoutes(app, { credentials: deps.credentials, keys: deps.keys, profiles: deps.profiles, tools: deps.tools, workers: deps.workers });
  profileRoutes(app, deps.profiles, deps.workers);
  securityTxtRoutes(app);
  // the operations view shows the last verify run through this process
  const verify = rememberVerify(deps.audit.verify, systemClock);
  auditRoutes(app, { store: deps.audit.store, verify: () => verify.run(), producer: deps.producer });
  observabilityRoutes(app, { store: deps.audit.store, producer: deps.producer, workers: deps.workers, review: deps.review, verify, metrics: deps.metrics, logger: deps.logger });
  promotionRoutes(app, { review: deps.review, audit: deps.audit.store, producer: deps.producer, keys: deps.keys, artifacts: deps.artifacts });
  anomalyRoutes(app, deps.limits.anomalies);
  mcpRoutes(app, { schemas: REST_SCHEMAS, producer: deps.producer, maxWaitS: deps.maxWaitS, ...deps.mcp });
}

/** The routes' visibility rules: a refused request's record names an object only if the key may see it. */
async function maySee(deps: AppDeps, key: ApiKeyInfo, target: AuditTarget): Promise<boolean> {
  if (key.role === 'admin') return true;
  if (target.kind === 'job') {
    const rec = await deps.producer.get(target.id);
    return rec !== undefined && mayReadJob(key, rec);
  }
  if (target.kind === 'promotion') return deps.review.get(target.id, reviewerKey(key)).then(() => true);
  return false; // keys are admin business
}
