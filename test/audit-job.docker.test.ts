/**
 * A job's life through the real API, worker and engine leaves job.submit (the agent's key),
 * job.start and job.finish (the worker) in that order, linked by the same code digest; the
 * job's audit route shows them to its submitter, and the chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../src/audit/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';

describe('audit of a job through the worker', () => {
  let t: TestAirlock;
  let agent: CreatedApiKey;
  let admin: CreatedApiKey;

  beforeAll(async () => {
    t = await startTestAirlock('audit-job');
    agent = await t.key('agent');
    admin = await t.key('admin');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('job.submit, job.start, job.finish in order, with one code digest', async () => {
    const job = await runJob(t, agent.key, { runtime: 'python', files: [{ path: 'main.py', content: 'print("audited")' }] });
    expect(job.status, JSON.stringify(job)).toBe('succeeded');

    const res = await t.request('GET', `/v1/jobs/${job.id as string}/audit?limit=500`, agent.key);
    expect(res.status).toBe(200);
    const records = res.body.records as AuditRecord[];
    const seqs = records.map((r) => r.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    const lifecycle = records.filter((r) => ['job.submit', 'job.start', 'job.finish'].includes(r.action));
    expect(lifecycle.map((r) => r.action)).toEqual(['job.submit', 'job.start', 'job.finish']);
    const [submit, start, finish] = lifecycle as [AuditRecord, AuditRecord, AuditRecord];
    expect(submit).toMatchObject({ actor: { type: 'key', keyId: agent.id, role: 'agent' }, target: job.id, outcome: { status: expect.any(Number) } });
    expect(start).toMatchObject({ actor: { type: 'worker', workerId: expect.any(String) }, target: job.id, details: { containerId: expect.any(String) } });
    expect(finish).toMatchObject({ actor: start.actor, target: job.id, outcome: { result: 'succeeded' } });
    // what the API accepted is what the worker ran
    expect(submit.request?.codeDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(start.request?.codeDigest).toBe(submit.request?.codeDigest);
    // the polls in between are reads of the job by its submitter
    for (const r of records.filter((x) => x.action === 'job.read')) expect(r.actor).toMatchObject({ keyId: agent.id });

    const verify = await t.request('GET', '/v1/audit/verify', admin.key);
    expect(verify.body).toMatchObject({ ok: true });
  });
});
