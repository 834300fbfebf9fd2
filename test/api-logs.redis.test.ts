/**
 * One redaction policy for both sinks: what the audit log masks, the service log masks too.
 * A key sent in a query string (or echoed in an error) never appears in a log line.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { createLogger } from '../src/shared/index.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

describe('secrets in logs', () => {
  const lines: string[] = [];
  let t: TestAirlock;
  let agent: CreatedApiKey;

  beforeAll(async () => {
    t = await startTestAirlock('api-logs', { AIRLOCK_ROLE: 'api' }, { logLines: lines });
    agent = await t.key('agent');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('an API key or a token in a query string never reaches a log line', async () => {
    const other = await t.key('agent');
    const token = `tok${randomBytes(12).toString('hex')}`;
    const secretOf = (k: CreatedApiKey) => k.key.slice(20); // ak_<16 hex id>_: the id part is not secret
    lines.length = 0;
    // a known route, an unknown one and a refused one, each with secrets in the query string
    await t.request('GET', `/v1/profiles?key=${other.key}&token=${token}`, agent.key);
    await t.request('GET', `/v1/nothing?api_key=${other.key}`, agent.key);
    await t.request('GET', `/v1/jobs/job_doesnotexist0?access_token=${token}&k=${agent.key}`, undefined);
    const log = lines.join('\n');
    // the requests were logged (with their route and the parameter names), not dropped
    expect(log).toContain('/v1/profiles?key=');
    expect(log).toContain('/v1/nothing?api_key=');
    for (const secret of [secretOf(other), secretOf(agent), token]) expect(log, `found ${secret.slice(0, 8)}…`).not.toContain(secret);
  });

  it('the logger masks secrets in request URLs and error messages wherever it is used', () => {
    const out: string[] = [];
    const logger = createLogger({ level: 'info', destination: { write: (line: string) => void out.push(line) } });
    const key = `ak_0123456789abcdef_${randomBytes(32).toString('base64url')}`;
    logger.info({ req: { method: 'GET', url: `/x?token=${key}` } }, 'incoming');
    logger.error({ err: new Error(`upstream said password=hunter2secret and ${key}`) }, 'failed');
    const text = out.join('\n');
    expect(text).toContain('ak_0123456789abcdef_[redacted]');
    expect(text).toContain('"type":"Error"');
    expect(text).not.toContain(key.slice(20));
    expect(text).not.toContain('hunter2secret');
  });
});
