/**
 * GET /v1/jobs/:id/events against a real API, worker, Redis and Docker, read with the client:
 * output arrives while the job runs, in order, with byte offsets; a reconnect with Last-Event-ID
 * repeats nothing and loses nothing; another key's job is a 404; an output_limit job's stream
 * carries only the kept bytes and ends with the truncated flag; opening the stream is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airlock, AirlockApiError, type JobEvent } from '../src/client/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

describe('live job events (SSE)', () => {
  let t: TestAirlock;
  let alice: Airlock;
  let bob: Airlock;

  beforeAll(async () => {
    t = await startTestAirlock('job-events', { AIRLOCK_POOL_SIZE: '0' });
    alice = new Airlock({ url: t.baseUrl, key: (await t.key('agent', 'alice')).key });
    bob = new Airlock({ url: t.baseUrl, key: (await t.key('agent', 'bob')).key });
  }, 60_000);
  afterAll(async () => t?.stop());

  const ticker = { runtime: 'shell' as const, command: 'for i in 1 2 3 4 5 6 7 8 9 10; do echo "line $i"; sleep 0.2; done; echo done >&2' };

  it('delivers each line while the job runs, in order, then the final job', async () => {
    const job = await alice.submitJob(ticker);
    const received: { event: JobEvent; atMs: number }[] = [];
    for await (const event of alice.jobEvents(job.id)) received.push({ event, atMs: Date.now() });
    const last = received.at(-1)!.event;
    expect(last.type).toBe('finished');
    if (last.type !== 'finished') return;
    expect(last.job.status).toBe('succeeded');
    expect(received[0]!.event).toMatchObject({ type: 'state', status: 'queued' });
    expect(received.some((r) => r.event.type === 'state' && r.event.status === 'running')).toBe(true);
    const out = received.filter((r) => r.event.type === 'output' && r.event.stream === 'stdout');
    // the first line reached the client before the job ended (not all at once at the end)
    expect(out[0]!.atMs).toBeLessThan(Date.parse(last.job.finishedAt!));
    expect(out.length).toBeGreaterThan(1);
    const text = Buffer.concat(out.map((r) => (r.event.type === 'output' ? r.event.data : Buffer.alloc(0)))).toString();
    expect(text).toBe(Array.from({ length: 10 }, (_, i) => `line ${i + 1}\n`).join(''));
    expect(text).toBe(last.job.stdout);
    // offsets are each chunk's place in the stream
    let offset = 0;
    for (const r of out) {
      if (r.event.type !== 'output') continue;
      expect(r.event.offset).toBe(offset);
      offset += r.event.data.length;
    }
    const err = received.filter((r) => r.event.type === 'output' && r.event.stream === 'stderr');
    expect(Buffer.concat(err.map((r) => (r.event.type === 'output' ? r.event.data : Buffer.alloc(0)))).toString()).toBe('done\n');
  }, 60_000);

  it('resumes after Last-Event-ID without a duplicate or a gap', async () => {
    const job = await alice.submitJob(ticker);
    const first: JobEvent[] = [];
    const abort = new AbortController();
    // read until two output chunks arrived, then drop the connection
    await (async () => {
      for await (const e of alice.jobEvents(job.id, { signal: abort.signal })) {
        first.push(e);
        if (first.filter((x) => x.type === 'output').length === 2) return abort.abort();
      }
    })().catch((e: unknown) => {
      if (!abort.signal.aborted) throw e;
    });
    const lastId = [...first].reverse().find((e) => e.type === 'output')!;
    const rest: JobEvent[] = [];
    for await (const e of alice.jobEvents(job.id, { lastEventId: lastId.type === 'output' ? lastId.id : '' })) rest.push(e);
    const ids = [...first, ...rest].flatMap((e) => (e.type === 'output' ? [e.id] : []));
    expect(new Set(ids).size).toBe(ids.length);
    expect(rest.some((e) => e.type === 'state' && e.status === 'queued')).toBe(false);
    const stdout = Buffer.concat([...first, ...rest].flatMap((e) => (e.type === 'output' && e.stream === 'stdout' ? [e.data] : []))).toString();
    const final = rest.at(-1);
    expect(final?.type).toBe('finished');
    expect(stdout).toBe(final?.type === 'finished' ? final.job.stdout : 'no final event');
  }, 60_000);

  it("is a 404 for another key's job, and the opening is in the job's audit trail", async () => {
    const job = await alice.submitJob({ runtime: 'shell', command: 'echo hi' });
    let refused: unknown;
    try {
      for await (const _ of bob.jobEvents(job.id)) break;
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(AirlockApiError);
    expect((refused as AirlockApiError).status).toBe(404);
    expect((refused as AirlockApiError).code).toBe('JOB_NOT_FOUND');
    for await (const e of alice.jobEvents(job.id)) if (e.type === 'finished') break;
    const trail = await alice.jobAudit(job.id);
    expect(trail.records.some((r) => r.action === 'job.read' && JSON.stringify(r).includes('/events'))).toBe(true);
  }, 60_000);

  it('an output_limit job streams only the kept bytes and ends with the truncated flag', async () => {
    const job = await alice.submitJob({ runtime: 'shell', command: 'yes airlock | head -c 200000', limits: { stdoutBytes: 4096 } });
    const events: JobEvent[] = [];
    for await (const e of alice.jobEvents(job.id)) events.push(e);
    const final = events.at(-1);
    expect(final?.type === 'finished' && final.job.status).toBe('output_limit');
    expect(final?.type === 'finished' && final.job.stdoutTruncated).toBe(true);
    const bytes = events.reduce((n, e) => n + (e.type === 'output' && e.stream === 'stdout' ? e.data.length : 0), 0);
    expect(bytes).toBe(4096);
  }, 60_000);
});
