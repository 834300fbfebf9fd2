/**
 * GET /metrics against a real Airlock (API and worker, real Redis and engine): a service or admin
 * key reads it, others are refused; it parses (promtool's parser and a strict one of ours) and its
 * counters move as jobs run.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { promtoolPath } from './helpers/promtool.js';
import { parseExposition, type Exposition } from './helpers/prom-text.js';

describe('GET /metrics', () => {
  let t: TestAirlock;
  let service: CreatedApiKey;
  let agent: CreatedApiKey;

  beforeAll(async () => {
    // no warm pool: every job's sandbox is a cold start, timed
    t = await startTestAirlock('metrics', { AIRLOCK_POOL_SIZE: '0' });
    service = await t.key('service', 'prometheus');
    agent = await t.key('agent', 'alice');
  });
  afterAll(async () => {
    await t?.stop();
  });

  async function scrape(): Promise<{ text: string; exposition: Exposition }> {
    const res = await fetch(`${t.baseUrl}/metrics`, { headers: { authorization: `Bearer ${service.key}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    return { text, exposition: parseExposition(text) };
  }

  it('is for service and admin keys only', async () => {
    expect((await t.request('GET', '/metrics', undefined)).status).toBe(401);
    expect((await t.request('GET', '/metrics', agent.key)).body.error.code).toBe('FORBIDDEN');
    expect((await t.request('GET', '/metrics', (await t.key('admin', 'root')).key)).status).toBe(200);
  });

  it('parses with promtool and counts jobs, their durations, waits and sandboxes, audit appends and requests as they happen', async () => {
    const before = (await scrape()).exposition;
    const finished = (status: string, m: Exposition) => m.value('airlock_jobs_finished_total', { profile: 'python', status }) ?? 0;
    await runJob(t, agent.key, { runtime: 'python', files: [{ path: 'main.py', content: 'print(1)' }] });
    await runJob(t, agent.key, { runtime: 'python', files: [{ path: 'main.py', content: 'import sys; sys.exit(3)' }] });
    const { text, exposition: after } = await scrape();

    const check = spawnSync(promtoolPath(), ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);

    expect(finished('succeeded', after) - finished('succeeded', before)).toBe(1);
    expect(finished('failed', after) - finished('failed', before)).toBe(1);
    const count = (name: string, labels: Record<string, string>, m: Exposition) => m.value(name, labels) ?? 0;
    expect(count('airlock_jobs_started_total', { profile: 'python' }, after) - count('airlock_jobs_started_total', { profile: 'python' }, before)).toBe(2);
    expect(count('airlock_job_duration_seconds_count', { profile: 'python', status: 'succeeded' }, after)).toBeGreaterThanOrEqual(1);
    expect(count('airlock_job_queue_wait_seconds_count', { profile: 'python' }, after) - count('airlock_job_queue_wait_seconds_count', { profile: 'python' }, before)).toBe(2);
    expect(count('airlock_sandbox_start_seconds_count', {}, after) - count('airlock_sandbox_start_seconds_count', {}, before)).toBe(2);
    expect(count('airlock_audit_records_total', { action: 'job.finish' }, after) - count('airlock_audit_records_total', { action: 'job.finish' }, before)).toBe(2);
    expect(count('airlock_audit_append_seconds_count', { outcome: 'ok' }, after)).toBeGreaterThan(count('airlock_audit_append_seconds_count', { outcome: 'ok' }, before));
    expect(
      count('airlock_http_requests_total', { method: 'POST', route: '/v1/jobs', status: '200' }, after) +
        count('airlock_http_requests_total', { method: 'POST', route: '/v1/jobs', status: '202' }, after),
    ).toBe(2);
    expect(count('airlock_http_requests_total', { method: 'GET', route: '/metrics', status: '403' }, after)).toBe(1);
    // read at scrape from the deployment
    expect(after.value('airlock_queue_jobs', { state: 'waiting' })).toBe(0);
    expect(after.value('airlock_workers', { engine: 'ok' })).toBe(1);
    expect(after.types.get('airlock_job_duration_seconds')).toBe('histogram');
    expect(after.types.get('airlock_tool_calls_total') ?? after.types.get('airlock_tool_calls')).toBe('counter');
  });

  it('verifies the audit chain in the background and reports it', async () => {
    const deadline = Date.now() + 20_000;
    let m: Exposition;
    do {
      m = (await scrape()).exposition;
      if (m.value('airlock_audit_verify_ok') !== undefined) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    expect(m.value('airlock_audit_verify_ok')).toBe(1);
    expect(m.value('airlock_audit_verify_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000 - 60);
  });
});
