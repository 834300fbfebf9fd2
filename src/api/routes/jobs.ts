import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ArtifactStore } from '../../artifacts/index.js';
import type { ApiKeyInfo } from '../../credentials/index.js';
import { JOB_ROLES, type LoadedProfile } from '../../profiles/index.js';
import { isTerminal, resultView, type CancelledJob, type JobProducer, type JobRecord, type JobService, type WorkerRegistry } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { requireRole } from '../auth.js';
import { checkPatch } from '../check-patch.js';
import { httpOrigin, type HttpAnswer } from '../http-origin.js';
import { parseJobRequest, parseWith } from '../job-request-schema.js';
import { audited, JOB_ID } from '../route-audit.js';

export interface JobRoutesDeps {
  /** Submit and cancel (each records its own audit record). */
  jobs: JobService;
  /** Reads and waits. */
  producer: JobProducer;
  /** Names of the configured tools (from the tools file). */
  knownTools: ReadonlySet<string>;
  artifacts: ArtifactStore;
  profiles: ReadonlyMap<string, LoadedProfile>;
  /** Which isolation tiers live workers run: a job of a tier none runs is refused, never queued. */
  workers: Pick<WorkerRegistry, 'assertServes'>;
  maxWaitS: number;
}

const IdParams = z.object({ id: z.string().regex(JOB_ID) });
const WaitQuery = z.strictObject({ wait: z.coerce.number().min(0).optional() });

export function jobRoutes(app: FastifyInstance, deps: JobRoutesDeps): void {
  app.post('/v1/jobs', audited('job.submit', { mutating: true }), async (req, reply) => {
    // the roles jobGrant grants jobs to (parseJobRequest asks it again, with the profile and tools)
    const key = requireRole(req, ...JOB_ROLES);
    const waitS = parseWait(req, deps.maxWaitS);
    const input = parseJobRequest(req.body, deps.profiles, {
      key,
      knownTools: deps.knownTools,
      // why each tool was refused is for the operators' record; the caller gets one answer
      onToolsRefused: (refused) => {
        if (req.auditState !== null) req.auditState.note = { toolsRefused: refused };
      },
    });
    if (input.patch !== undefined) await checkPatch(input.patch);
    const tier = deps.profiles.get(input.profile)?.profile.isolation ?? 'container';
    // a job is never queued for a tier no worker runs (nor run on a weaker one: the worker refuses that too)
    if (tier !== 'container') await deps.workers.assertServes(tier, input.profile);
    // recorded the moment it is accepted (before any ?wait), as its 202 answer
    let rec: JobRecord | undefined = await deps.jobs.submit(key, input, httpOrigin(req, accepted));
    if (waitS > 0) rec = (await deps.producer.waitForResult(rec.id, waitS * 1000)) ?? rec;
    return reply.status(isTerminal(rec.status) ? 200 : 202).send(view(rec));
  });

  app.get('/v1/jobs/:id', audited('job.read', { target: 'job' }), async (req) => {
    const rec = await ownedJob(req, deps.producer);
    const waitS = parseWait(req, deps.maxWaitS);
    if (waitS > 0 && !isTerminal(rec.status)) return view((await deps.producer.waitForResult(rec.id, waitS * 1000)) ?? rec);
    return view(rec);
  });

  artifactRoutes(app, deps);

  app.delete('/v1/jobs/:id', audited('job.cancel', { mutating: true, target: 'job' }), async (req, reply) => {
    const rec = await ownedJob(req, deps.producer);
    const answer = cancelAnswer(await deps.jobs.cancel(rec.id, httpOrigin(req, cancelAnswer)));
    return reply.status(answer.status).send(answer.body);
  });
}

/** An accepted job: 202 with its view. */
const accepted = (rec: JobRecord): HttpAnswer => ({ status: 202, body: view(rec) });

/** 200 for a queued job cancelled now; 202 for a running one the worker is asked to kill. */
const cancelAnswer = (c: CancelledJob): HttpAnswer => ({ status: c.outcome === 'did_cancel' ? 200 : 202, body: view(c.job) });

export function artifactRoutes(app: FastifyInstance, deps: JobRoutesDeps): void {
  app.get('/v1/jobs/:id/artifacts', audited('job.read', { target: 'job' }), async (req) => {
    const r = (await ownedJob(req, deps.producer)).result;
    return { artifacts: r?.artifacts ?? [], artifactDigest: r?.artifactDigest ?? null, artifactsRejected: r?.artifactsRejected ?? [] };
  });

  app.get('/v1/jobs/:id/artifacts.tar', audited('job.read', { target: 'job' }), async (req, reply) => {
    const r = (await ownedJob(req, deps.producer)).result;
    if (!r?.artifactsTarSha256) throw new AppError('ARTIFACT_NOT_FOUND', 'this job has no artifacts');
    const body = await deps.artifacts.read(r.artifactsTarSha256);
    return reply
      .type('application/x-tar')
      .header('content-disposition', 'attachment; filename="artifacts.tar"')
      .header('x-artifact-digest', r.artifactDigest ?? '')
      .send(body);
  });

  app.get('/v1/jobs/:id/artifacts/*', audited('job.read', { target: 'job' }), async (req, reply) => {
    const rec = await ownedJob(req, deps.producer);
    const path = (req.params as { '*'?: string })['*'] ?? '';
    const entry = rec.result?.artifacts.find((a) => a.path === path);
    if (entry === undefined) throw new AppError('ARTIFACT_NOT_FOUND', `job ${rec.id} has no artifact ${JSON.stringify(path.slice(0, 200))}`);
    // the store re-checks the digest: a blob changed on disk is refused, never served
    const body = await deps.artifacts.read(entry.sha256);
    return reply.type('application/octet-stream').header('x-content-sha256', entry.sha256).send(body);
  });
}

/** Another key's job is a 404, not a 403: ids of others' jobs are not confirmed. */
export async function ownedJob(req: FastifyRequest, producer: JobProducer): Promise<JobRecord> {
  const key = requireRole(req, ...JOB_ROLES);
  const params = IdParams.safeParse(req.params);
  const notFound = () => new AppError('JOB_NOT_FOUND', 'no such job');
  if (!params.success) throw notFound();
  const rec = await producer.get(params.data.id);
  if (rec === undefined || !mayReadJob(key, rec)) throw notFound();
  return rec;
}

/** Who may see a job (its routes, its audit trail): the key that submitted it, or an admin. */
export function mayReadJob(key: Pick<ApiKeyInfo, 'id' | 'role'>, rec: Pick<JobRecord, 'ownerKeyId'>): boolean {
  return rec.ownerKeyId === key.id || key.role === 'admin';
}

function parseWait(req: FastifyRequest, maxWaitS: number): number {
  return Math.min(parseWith(WaitQuery, req.query).wait ?? 0, maxWaitS);
}

/** The public shape of a job: status, then the result's shown fields flattened (`resultView`: all but `profile`). */
export function view(rec: JobRecord) {
  return {
    id: rec.id,
    status: rec.status,
    statusUrl: `/v1/jobs/${rec.id}`,
    profile: rec.profile,
    createdAt: rec.createdAt,
    startedAt: rec.startedAt ?? null,
    finishedAt: rec.finishedAt ?? null,
    attempts: rec.attempts,
    cancelRequested: rec.cancelRequested,
    ...(rec.result ? resultView(rec.result) : {}),
    ...(rec.error ? { error: rec.error } : {}),
  };
}
