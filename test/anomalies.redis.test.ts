/**
 * Behavioural baselines and anomalies (issue 15 item 2), on a fake clock: weeks of a key's
 * seasonal traffic are replayed through the real detector in a second or two (its Lua on the
 * real Redis, under the deployment's prefix), then the live API (API role) meets a 10× burst.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryAudit, RedisAuditStore } from '../src/audit/index.js';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { AnomalyDetector, BASELINE_DEFAULTS, LIMIT_DEFAULTS, RateLimiter, type Anomaly } from '../src/monitor/index.js';
import { verifyWebhookSignature } from '../src/review/index.js';
import { createLogger } from '../src/shared/index.js';
import { EPOCH_MS, HOUR_MS, replaySteps, SHAPES, STEP_MS, WEEK_MS } from '../scripts/anomaly-traffic.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { FakeClock } from './helpers/fake-clock.js';
import { testRedis } from './helpers/redis.js';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.js';

const SECRET = 'anomaly-hook-secret-0123456789';
const OFFICE = SHAPES.find((s) => s.name === 'office-hours agent')!;
const redis = testRedis();
const clock = new FakeClock(EPOCH_MS);
let t: TestAirlock;
let hook: WebhookReceiver;
let admin: CreatedApiKey;
let agent: CreatedApiKey;
/** A second detector on the deployment's prefix: replays history into the same baselines the API reads. */
let history: AnomalyDetector;

async function call(method: string, path: string, key: string) {
  const res = await fetch(`${t.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as any };
}

/** Replays `weeks` of the shape for a key from the clock's time, in 5-minute steps; the anomalies it raised. */
async function replay(keyId: string, fromWeek: number, weeks: number): Promise<Anomaly[]> {
  const steps = replaySteps(OFFICE, 7, fromWeek + weeks);
  const raised: Anomaly[] = [];
  for (let s = (fromWeek * WEEK_MS) / STEP_MS; s < steps.length; s++) {
    clock.ms = EPOCH_MS + s * STEP_MS;
    const a = await history.record(keyId, 'requests', steps[s]);
    if (a !== undefined) raised.push(a);
  }
  return raised;
}

beforeAll(async () => {
  hook = await startWebhookReceiver();
  t = await startTestAirlock(
    'anomalies',
    {
      AIRLOCK_ROLE: 'api',
      AIRLOCK_ANOMALY_WEBHOOK_URL: `${hook.url}/anomaly`,
      AIRLOCK_ANOMALY_WEBHOOK_SECRET: 'ANOMALY_HOOK',
      AIRLOCK_SECRET_ANOMALY_HOOK: SECRET,
    },
    { clock },
  );
  admin = await t.key('admin');
  agent = await t.key('agent');
  const limiter = new RateLimiter({ redis, prefix: t.prefix, options: LIMIT_DEFAULTS, clock });
  const audit = new RedisAuditStore({ redis, prefix: t.prefix, clock });
  history = new AnomalyDetector({ redis, prefix: t.prefix, options: BASELINE_DEFAULTS, limiter, clock, logger: createLogger({ level: 'silent' }), append: (e) => audit.append(e) });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await hook?.close();
  redis.disconnect();
});

describe('anomalies', () => {
  it('two weeks of warm-up, then a week of seasonal traffic raises none', async () => {
    expect(await replay(agent.id, 0, 2)).toEqual([]);
    expect(await replay(agent.id, 2, 1)).toEqual([]);
  }, 60_000);

  it('a 10× burst raises one within the hour: audited, the key throttled to its baseline, a signed alert, listed; an admin lifts it', async () => {
    // Monday of week 3, 10:05 UTC: the office's busy hours (a mean of ~45 requests in this hour)
    clock.ms = EPOCH_MS + 3 * WEEK_MS + 10 * HOUR_MS + STEP_MS;
    let served = 0;
    let refused: { status: number; body: any } | undefined;
    // 10× the hour's traffic, as fast as the API takes it, until the key is throttled
    for (let i = 0; i < 500 && refused === undefined; i++) {
      const r = await call('GET', '/v1/profiles', agent.key);
      if (r.status === 429) refused = r;
      else served++;
    }
    expect(refused?.body.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'requestsPerMinute', throttled: true });
    // detected well before the hour's 10× was through (the baseline's 3σ is a few dozen requests over the mean)
    expect(served).toBeLessThan(200);

    const listed = (await call('GET', `/v1/anomalies?keyId=${agent.id}`, admin.key)).body.anomalies as Anomaly[];
    expect(listed).toHaveLength(1);
    const a = listed[0]!;
    expect(a).toMatchObject({ keyId: agent.id, metric: 'requests', level: 'hour' });
    expect(a.z).toBeGreaterThanOrEqual(3);
    expect(a.observed - a.mean).toBeGreaterThanOrEqual(BASELINE_DEFAULTS.minExcess);
    expect(a.throttle.requestsPerMinute).toBeLessThan(LIMIT_DEFAULTS.roles.agent.requestsPerMinute);
    expect(Date.parse(a.throttle.until) - clock.ms).toBe(BASELINE_DEFAULTS.throttleMs);

    const audit = new RedisAuditStore({ redis, prefix: t.prefix, clock });
    const records = (await queryAudit(audit, { target: agent.id, order: 'asc', limit: 500 })).records;
    const detected = records.find((r) => r.action === 'anomaly.detected');
    expect(detected?.details).toMatchObject({ anomalyId: a.id, metric: 'requests', observed: a.observed });
    expect(detected?.details).toHaveProperty('z');
    expect(detected?.details).toHaveProperty('sigma');
    expect(records.find((r) => r.action === 'anomaly.throttled')?.details).toMatchObject({ anomalyId: a.id, requestsPerMinute: a.throttle.requestsPerMinute });

    // the alert: signed like the promotion webhooks, verifiable with the shared secret
    const alerts = hook.at('/anomaly');
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.json).toMatchObject({ type: 'anomaly.detected', anomaly: { id: a.id, keyId: agent.id } });
    expect(verifyWebhookSignature(SECRET, alerts[0]!.body, alerts[0]!.headers['x-airlock-signature'] as string, clock.ms / 1000)).toBe(true);
    expect(verifyWebhookSignature('another secret', alerts[0]!.body, alerts[0]!.headers['x-airlock-signature'] as string, clock.ms / 1000)).toBe(false);

    // an admin lifts it (audited): the key is served again
    const lifted = await call('DELETE', `/v1/keys/${agent.id}/throttle`, admin.key);
    expect(lifted.status).toBe(200);
    expect(lifted.body.lifted).toMatchObject({ anomalyId: a.id });
    clock.advance(60_000);
    expect((await call('GET', '/v1/profiles', agent.key)).status).toBe(200);
    const unthrottled = (await queryAudit(audit, { target: agent.id, action: 'key.unthrottle' })).records;
    expect(unthrottled).toHaveLength(1);
    expect(unthrottled[0]!.actor).toMatchObject({ type: 'key', keyId: admin.id });
    // and the same burst again within the hour does not raise a second anomaly (one per metric and hour)
    expect((await call('GET', `/v1/anomalies?keyId=${agent.id}`, admin.key)).body.anomalies).toHaveLength(1);
  }, 60_000);

  it('a new key in its warm-up raises none, whatever it does', async () => {
    const fresh = await t.key('agent');
    for (let i = 0; i < 300; i++) expect((await call('GET', '/v1/profiles', fresh.key)).status).toBe(200);
    expect((await call('GET', `/v1/anomalies?keyId=${fresh.id}`, admin.key)).body.anomalies).toEqual([]);
  }, 60_000);

  it('only an admin lists anomalies', async () => {
    expect((await call('GET', '/v1/anomalies', agent.key)).status).toBe(403);
  });
});
