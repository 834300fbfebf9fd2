/**
 * Issue 11's budget: a job's whole life (submit → start → finish) costs the worker at most 3
 * Redis round trips of its own, outside BullMQ's and the audit log's: the start (one script that
 * also returns the record and the input), the last look at the job's API key before its program
 * runs, the finish (one script with its TTLs). Measured on a redis-server of this suite's own
 * (the audit log on the shared test Redis), with INFO commandstats deltas for the totals and
 * SLOWLOG (CommandLog) to tell whose each command was. One job first makes Redis learn the
 * scripts, as any deployment's first job does (a script's first run is EVALSHA, NOSCRIPT, EVAL).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatedApiKey } from '../src/credentials/index.js';
import { START_SCRIPT, TRANSITION_SCRIPT } from '../src/queue/job-scripts.js';
import { runJob, startTestAirlock, type TestAirlock } from './helpers/airlock.js';
import { callDelta, CommandLog, commandCalls, startPrivateRedis, TEST_REDIS_URL, type PrivateRedis } from './helpers/redis.js';

const JOB = { runtime: 'shell', files: [{ path: 'main.sh', content: 'echo hi' }] };
const WORKER_BUDGET = 3;

describe('Redis round trips of one job', () => {
  let server: PrivateRedis;
  let redis: Redis;
  let log: CommandLog;
  let t: TestAirlock;
  let agent: CreatedApiKey;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    log = await CommandLog.open(server.url);
    t = await startTestAirlock('round-trips', { AIRLOCK_REDIS_URL: server.url, AIRLOCK_AUDIT_REDIS_URL: TEST_REDIS_URL, AIRLOCK_WORKER_CONCURRENCY: '1' });
    agent = await t.key('agent');
    expect((await runJob(t, agent.key, JOB)).status).toBe('succeeded');
  });
  afterAll(async () => {
    await t?.stop();
    log?.close();
    redis?.disconnect();
    await server?.stop();
  });

  it(`the worker's own: at most ${WORKER_BUDGET} (start, key check, finish)`, async () => {
    await log.take();
    const before = await commandCalls(redis);
    const job = await runJob(t, agent.key, JOB);
    expect(job.status).toBe('succeeded');
    const totals = callDelta(before, await commandCalls(redis));
    const sent = await log.take();

    const root = `{${t.prefix}}:`;
    const ours = new Set([START_SCRIPT.sha1, TRANSITION_SCRIPT.sha1]);
    const isScript = (c: string[]) => c[0] === 'evalsha' || c[0] === 'eval';
    /** The first key a command names (a script's first KEYS entry). */
    const keyOf = (c: string[]) => (isScript(c) ? c[3] : c[1]) ?? '';
    // BullMQ's: its scripts (any sha not ours) and whatever names no key of ours or one of its
    // `{prefix}:jobs:…`; heartbeats (`{prefix}:worker:…`, `{prefix}:images`) are per worker, not per job
    const isBullmq = (c: string[]) => (isScript(c) && !ours.has(c[1] ?? '')) || !keyOf(c).startsWith(root) || keyOf(c).startsWith(`${root}jobs:`);
    const isHeartbeat = (c: string[]) => keyOf(c).startsWith(`${root}worker:`) || keyOf(c) === `${root}images`;
    // the worker's connection is the one that started the job; the API has its own
    const workerClient = sent.find((s) => s.command[0] === 'evalsha' && s.command[1] === START_SCRIPT.sha1)?.client;
    expect(workerClient).toBeDefined();
    const own = sent.filter((s) => !isBullmq(s.command) && !isHeartbeat(s.command));
    // the live events of GET /v1/jobs/:id/events (issue 13) are the output feature's cost, counted
    // on their own: one pipelined append (XADD… EXPIRE) per batch, never part of the bookkeeping
    const eventsKey = `${root}job:${job.id as string}:events`;
    const workerSent = own.filter((s) => s.client === workerClient).map((s) => s.command);
    const workerOwn = workerSent.filter((c) => keyOf(c) !== eventsKey);
    const eventAppends = workerSent.filter((c) => keyOf(c) === eventsKey);
    const detail = JSON.stringify({
      totals,
      workerOwn: workerOwn.map((c) => c.slice(0, 4)),
      apiOwn: own.filter((s) => s.client !== workerClient).map((s) => s.command.slice(0, 2)),
    });

    expect(workerOwn.length, detail).toBeLessThanOrEqual(WORKER_BUDGET);
    const jobKey = `${root}job:${job.id as string}`;
    expect(
      workerOwn.map((c) => [c[0], keyOf(c)]),
      detail,
    ).toEqual([
      ['evalsha', jobKey],
      ['hmget', `${root}apikey:${agent.id}`],
      ['evalsha', jobKey],
    ]);
    expect(workerOwn.filter(isScript).map((c) => c[1])).toEqual([START_SCRIPT.sha1, TRANSITION_SCRIPT.sha1]);
    // a one-line program: the `running` event and one output batch, each one round trip
    expect(new Set(eventAppends.map((c) => c[0])), detail).toEqual(new Set(['xadd', 'expire']));
    expect(eventAppends.filter((c) => c[0] === 'expire').length, detail).toBeLessThanOrEqual(2);
    // nothing of ours went as EVAL: Redis knew every script
    expect(totals['eval'], detail).toBeUndefined();
  });
});
