/**
 * The Redis seam (src/shared/redis): a typed LuaScript runs with EVALSHA once Redis knows it
 * and falls back to EVAL after SCRIPT FLUSH; one translation of Redis failures (a dead
 * connection and a server out of memory are a retryable REDIS_UNAVAILABLE, a refused command
 * is INTERNAL); MULTI replies are checked entry by entry; stored JSON is parsed with its schema.
 * Command counts come from INFO commandstats on a redis-server of this suite's own.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppError, execChecked, keyRoot, LuaScript, parseStoredJson, redisCall, RedisFailure } from '../src/shared/index.js';
import { callDelta, commandCalls, startPrivateRedis, type PrivateRedis } from './helpers/redis.js';

const ECHO = new LuaScript({
  name: 'test-echo',
  doc: 'Sets a key and echoes what it was given.',
  keys: { target: 'string: written with the value' },
  args: { value: 'what to write', tag: 'echoed back' },
  restArgs: 'echoed back after the tag',
  reply: z.tuple([z.string(), z.string()]).rest(z.string()),
  body: `
redis.call('SET', KEY.target, ARG.value)
local out = {redis.call('GET', KEY.target), ARG.tag}
for i = ARG_REST, #ARGV do out[#out + 1] = ARGV[i] end
return out
`,
});

const BYTES = new LuaScript({
  name: 'test-bytes',
  doc: 'Returns a stored binary value as it is.',
  keys: { source: 'string: binary' },
  args: {},
  binaryReply: true,
  reply: z.tuple([z.instanceof(Buffer)]),
  body: `return {redis.call('GET', KEY.source)}`,
});

const LIAR = new LuaScript({ name: 'test-liar', doc: 'Replies with a string where a number is declared.', keys: {}, args: {}, reply: z.number(), body: `return 'nope'` });

/** Rejects with the error `p` rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe('the Redis seam', () => {
  let server: PrivateRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startPrivateRedis();
    redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('writes a header listing every KEYS and ARGV slot, bound to names the body uses', () => {
    const header = ECHO.source.split('\n').slice(0, 9);
    expect(header).toEqual([
      '-- test-echo',
      '-- Sets a key and echoes what it was given.',
      '-- KEYS[1] target: string: written with the value',
      '-- ARGV[1] value: what to write',
      '-- ARGV[2] tag: echoed back',
      '-- ARGV[3..] echoed back after the tag',
      'local KEY = {target = KEYS[1]}',
      'local ARG = {value = ARGV[1], tag = ARGV[2]}',
      'local KEY_REST, ARG_REST = 2, 3',
    ]);
    expect(() => new LuaScript({ name: 'bad', doc: '', keys: { 'not-lua': 'x' }, args: {}, reply: z.unknown(), body: '' })).toThrow(/not a Lua name/);
  });

  it('sends the body once: EVALSHA from then on, EVAL again only after SCRIPT FLUSH (NOSCRIPT)', async () => {
    await redis.script('FLUSH');
    const before = await commandCalls(redis);
    expect(await ECHO.run(redis, { target: 'echo' }, { value: 'v1', tag: 't' }, { args: ['a', 'b'] })).toEqual(['v1', 't', 'a', 'b']);
    // first call: EVALSHA answered NOSCRIPT, EVAL loaded it
    expect(callDelta(before, await commandCalls(redis))).toMatchObject({ evalsha: 1, eval: 1 });
    expect(await redis.script('EXISTS', ECHO.sha1)).toEqual([1]);

    const warm = await commandCalls(redis);
    for (let i = 0; i < 5; i += 1) expect(await ECHO.run(redis, { target: 'echo' }, { value: `v${i}`, tag: 't' })).toEqual([`v${i}`, 't']);
    const delta = callDelta(warm, await commandCalls(redis));
    expect(delta['evalsha']).toBe(5);
    expect(delta['eval']).toBeUndefined();

    await redis.script('FLUSH');
    const flushed = await commandCalls(redis);
    expect(await ECHO.run(redis, { target: 'echo' }, { value: 'again', tag: 't' })).toEqual(['again', 't']);
    expect(callDelta(flushed, await commandCalls(redis))).toMatchObject({ evalsha: 1, eval: 1 });
  });

  it('returns binary values as Buffers when the script says so', async () => {
    const bytes = Buffer.from([0x1f, 0x8b, 0x00, 0xff, 0xfe, 0x80]);
    await redis.set('bytes', bytes);
    const [back] = await BYTES.run(redis, { source: 'bytes' }, {});
    expect(back.equals(bytes)).toBe(true);
  });

  it('refuses a reply of the wrong shape as INTERNAL, naming the script', async () => {
    const err = await failure(LIAR.run(redis, {}, {}));
    expect(err).toBeInstanceOf(RedisFailure);
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toMatch(/test-liar replied with an unexpected shape/);
  });

  it('translates a refused command (WRONGTYPE) to INTERNAL, not retryable', async () => {
    await redis.set('a-string', 'x');
    const err = await failure(redisCall('push onto a string', () => redis.lpush('a-string', 'y')));
    expect(err).toMatchObject({ code: 'INTERNAL', retryable: false });
    expect(err.message).toMatch(/push onto a string.*WRONGTYPE/);
  });

  it('checks every MULTI entry: a failed command inside a transaction that ran is an error', async () => {
    expect(await execChecked(redis.multi().set('m1', 'a').get('m1'), 'ok batch')).toEqual(['OK', 'a']);
    await redis.set('m2', 'x');
    const err = await failure(execChecked(redis.multi().set('m3', 'b').lpush('m2', 'y'), 'mixed batch'));
    expect(err).toMatchObject({ code: 'INTERNAL' });
    expect(err.message).toMatch(/mixed batch.*WRONGTYPE/);
    // the transaction ran: the first command's write stands (MULTI is not a rollback)
    expect(await redis.get('m3')).toBe('b');
  });

  it('an aborted MULTI (exec() resolving null) is an error too', async () => {
    const other = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      await redis.watch('watched');
      await other.set('watched', 'changed');
      const err = await failure(execChecked(redis.multi().set('watched', 'mine'), 'watched batch'));
      expect(err).toMatchObject({ code: 'REDIS_UNAVAILABLE', retryable: true });
      expect(await redis.get('watched')).toBe('changed');
    } finally {
      other.disconnect();
    }
  });

  it('parses stored JSON with its schema: a corrupt record is a clear INTERNAL error naming it', () => {
    const Schema = z.object({ id: z.string(), n: z.number() });
    expect(parseStoredJson(Schema, '{"id":"x","n":1}', 'thing x')).toEqual({ id: 'x', n: 1 });
    expect(() => parseStoredJson(Schema, '{"id":"x","n":"1"}', 'thing x')).toThrow(/stored thing x is corrupt: n: /);
    expect(() => parseStoredJson(Schema, '{"id":', 'thing x')).toThrow(/stored thing x is corrupt: .*not valid JSON/);
  });

  it('roots every key of a deployment at one hash tag', () => {
    expect(keyRoot('airlock')).toBe('{airlock}');
    expect(keyRoot('a:b')).toBe('{a:b}');
    expect(() => keyRoot('{x}')).toThrow(/without braces/);
    expect(() => keyRoot('')).toThrow(/non-empty/);
  });
});

describe('Redis failures become REDIS_UNAVAILABLE', () => {
  it('a dead connection: plain commands, scripts and MULTI', async () => {
    const server = await startPrivateRedis();
    // like the API's command connection: no offline queue, so an outage fails fast
    const redis = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      expect(await redis.ping()).toBe('PONG');
      await server.stop();
      for (const p of [
        redisCall('read a thing', () => redis.get('x')),
        ECHO.run(redis, { target: 'x' }, { value: 'v', tag: 't' }),
        execChecked(redis.multi().set('x', 'y'), 'write a batch'),
      ]) {
        const err = await failure(p);
        expect(err).toBeInstanceOf(RedisFailure);
        expect(err).toMatchObject({ code: 'REDIS_UNAVAILABLE', retryable: true });
      }
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });

  it('a server out of memory ("OOM command not allowed when used memory > \'maxmemory\'"): writes, scripts and MULTI', async () => {
    const server = await startPrivateRedis(['--maxmemory', String(4 * 1024 * 1024), '--maxmemory-policy', 'noeviction']);
    const redis = new Redis(server.url, { maxRetriesPerRequest: 1 });
    try {
      const value = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 200; i += 1) {
        const full = await redis.set(`fill:${i}`, value).then(
          () => false,
          (err: Error) => /OOM/.test(err.message) || Promise.reject(err),
        );
        if (full) break;
      }
      const results = await Promise.all(
        [
          redisCall('write a thing', () => redis.set('one-more', value)),
          ECHO.run(redis, { target: 'one-more' }, { value, tag: 't' }),
          execChecked(redis.multi().set('one-more', value).set('and-another', value), 'write a batch'),
        ].map(failure),
      );
      for (const err of results) {
        expect(err).toMatchObject({ code: 'REDIS_UNAVAILABLE', retryable: true });
        expect(err.message).toMatch(/OOM command not allowed/);
      }
      // reads still work: an OOM refuses writes only
      expect(await redisCall('read a thing', () => redis.exists('fill:0'))).toBe(1);
    } finally {
      redis.disconnect();
      await server.stop();
    }
  });
});
