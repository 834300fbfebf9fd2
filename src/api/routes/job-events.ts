/**
 * GET /v1/jobs/:id/events: a job's life as Server-Sent Events, for the owner (or an admin; another
 * key's job is a 404, as on GET /v1/jobs/:id). Opening the stream is recorded like any read.
 *
 *   event: state     data: {"status":"queued","at":…}                  (no id: not a resume point)
 *   event: state     data: {"status":"running","at":…,"attempt":1,"containerId":…}   id: <stream id>
 *   event: output    data: {"stream":"stdout","offset":0,"bytes":6,"encoding":"utf8","data":"hello\n","attempt":1}   id: <stream id>
 *   event: finished  data: <the job as GET /v1/jobs/:id shows it>       (the last event; the stream ends)
 *
 * The worker appends the start and the output to the job's event log (queue/job-event-log.ts)
 * before it writes the final status, so once the record is final the log is complete: the route
 * sends what is left of it, then `finished`. `Last-Event-ID` (or `?lastEventId=`) resumes after
 * that event: nothing lost, nothing twice. A client that goes away stops the loop at its next
 * turn; nothing is held for it.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { z } from 'zod';
import { isTerminal, JOB_EVENT_ID, type JobProducer, type JobRecord, type LoggedJobEvent } from '../../queue/index.js';
import { AppError } from '../../shared/index.js';
import { audited } from '../route-audit.js';
import { ownedJob, view } from './jobs.js';

export interface JobEventRoutesDeps {
  producer: JobProducer;
  /** How long one turn waits for the job's end before it reads the log again; default 200. */
  pollMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream; default 15 000. */
  keepAliveMs?: number;
}

const EventsQuery = z.strictObject({ lastEventId: z.string().max(64).optional() });

export function jobEventRoutes(app: FastifyInstance, deps: JobEventRoutesDeps): void {
  app.get('/v1/jobs/:id/events', audited('job.read', { target: 'job' }), async (req, reply) => {
    const rec = await ownedJob(req, deps.producer);
    const after = lastEventIdOf(req);
    const body = new PassThrough();
    let open = true;
    reply.raw.on('close', () => {
      open = false;
    });
    const write = (text: string): void => {
      if (open) body.write(text);
    };
    void pump(deps, rec, after, write, () => open)
      .catch((err: unknown) => {
        const e = err instanceof AppError ? err : new AppError('INTERNAL', 'the event stream failed');
        if (!(err instanceof AppError) || e.code === 'INTERNAL') req.log.error({ err, jobId: rec.id }, 'job event stream failed');
        write(frame('error', { code: e.code, message: e.message }));
      })
      .finally(() => body.end());
    return reply.header('content-type', 'text/event-stream; charset=utf-8').header('cache-control', 'no-cache, no-transform').header('x-accel-buffering', 'no').send(body);
  });
}

async function pump(deps: JobEventRoutesDeps, rec: JobRecord, lastId: string | undefined, write: (text: string) => void, open: () => boolean): Promise<void> {
  const log = deps.producer.store.eventLog;
  const pollMs = deps.pollMs ?? 200;
  const keepAliveMs = deps.keepAliveMs ?? 15_000;
  let after = lastId;
  if (after === undefined) write(frame('state', { status: 'queued', at: rec.createdAt }));
  let final: JobRecord | undefined = isTerminal(rec.status) ? rec : undefined;
  let quietSince = Date.now();
  while (open()) {
    const events = await log.read(rec.id, after);
    for (const e of events) {
      write(frame(e.event.type, wireOf(e), e.id));
      after = e.id;
    }
    if (events.length > 0) quietSince = Date.now();
    if (events.length === 500) continue; // more to read now
    if (final !== undefined) {
      // the worker logs every event before the final status: nothing can follow it
      write(frame('finished', view(final)));
      return;
    }
    if (Date.now() - quietSince >= keepAliveMs) {
      write(': keep-alive\n\n');
      quietSince = Date.now();
    }
    // wakes at once when the job ends (the producer's subscription), else after pollMs
    const now = await deps.producer.waitForResult(rec.id, pollMs);
    if (now === undefined) throw new AppError('JOB_NOT_FOUND', 'the job expired while it was watched');
    if (isTerminal(now.status)) final = now;
  }
}

/** An output chunk as text when it is valid UTF-8, else base64 (the client decodes either to the same bytes). */
function wireOf(e: LoggedJobEvent): Record<string, unknown> {
  if (e.event.type !== 'output') return e.event;
  const { type: _type, data, ...rest } = e.event;
  const bytes = Buffer.from(data, 'base64');
  const text = bytes.toString('utf8');
  const utf8 = Buffer.byteLength(text) === bytes.length && !text.includes('\uFFFD');
  return { ...rest, bytes: bytes.length, encoding: utf8 ? 'utf8' : 'base64', data: utf8 ? text : data };
}

function frame(event: string, data: unknown, id?: string): string {
  return `event: ${event}\n${id !== undefined ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

/** Last-Event-ID (what EventSource sends on reconnect) or ?lastEventId=: a stream id this route gave out. */
function lastEventIdOf(req: FastifyRequest): string | undefined {
  const header = req.headers['last-event-id'];
  const value = (typeof header === 'string' ? header : undefined) ?? EventsQuery.safeParse(req.query).data?.lastEventId;
  if (value === undefined || value === '') return undefined;
  if (!JOB_EVENT_ID.test(value)) throw new AppError('INVALID_REQUEST', 'Last-Event-ID is not an event id of this stream', { details: { field: 'lastEventId' } });
  return value;
}
