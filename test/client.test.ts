/**
 * The typed client against a loopback HTTP server that answers as the API does (an outside
 * service we own in the test): error envelopes become typed errors with the API's codes, 503/429
 * are retried after Retry-After (seconds or an HTTP date), a POST that got no answer is not
 * repeated, a request that hangs ends at the timeout, and the key never appears in an error.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Airlock, AirlockApiError, ApiUnreachableError, readEventStream } from '../src/client/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

describe('the TypeScript client', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_req, res) => res.end('{}');
  const seen: { method: string; path: string; auth: string | undefined; at: number }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push({ method: req.method ?? '', path: req.url ?? '', auth: req.headers.authorization, at: Date.now() });
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const envelope = (status: number, code: string, message: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Handler => {
    return (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { code, message, ...extra } }));
    };
  };
  const client = (opts: Partial<ConstructorParameters<typeof Airlock>[0]> = {}) => new Airlock({ url, key: 'ak_secret_value', retries: 0, ...opts });

  async function failure(p: Promise<unknown>): Promise<AirlockApiError> {
    try {
      await p;
    } catch (e) {
      if (e instanceof AirlockApiError) return e;
      throw e;
    }
    throw new Error('expected the call to fail');
  }

  it.each([
    [401, 'UNAUTHORIZED'],
    [404, 'JOB_NOT_FOUND'],
    [413, 'FILE_TOO_LARGE'],
    [429, 'RATE_LIMITED'],
    [503, 'SANDBOX_UNAVAILABLE'],
  ] as const)('HTTP %i carries the API code %s as a typed error', async (status, code) => {
    handler = envelope(status, code, `refused ${code}`, {}, { cap: 'fileBytes' });
    const e = await failure(client().getJob('job_0123456789abcdef'));
    expect(e.code).toBe(code);
    expect(e.status).toBe(status);
    expect(e.message).toBe(`refused ${code}`);
    expect(e.details).toEqual({ cap: 'fileBytes' });
    expect(e.retryable).toBe(status === 429 || status === 503);
    expect(seen.at(-1)?.auth).toBe('Bearer ak_secret_value');
  });

  it('a code it does not know is INTERNAL, with the server code kept', async () => {
    handler = envelope(409, 'SOMETHING_NEW', 'newer server');
    const e = await failure(client().getJob('job_0123456789abcdef'));
    expect([e.code, e.serverCode, e.status]).toEqual(['INTERNAL', 'SOMETHING_NEW', 409]);
  });

  it('retries a 503 after Retry-After seconds, then returns the answer', async () => {
    let calls = 0;
    handler = (req, res) => {
      if (++calls === 1) return envelope(503, 'REDIS_UNAVAILABLE', 'busy', { 'retry-after': '1' })(req, res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ profiles: [{ name: 'python' }] }));
    };
    const retries: number[] = [];
    const before = seen.length;
    const profiles = await client({ retries: 2, onRetry: (r) => retries.push(r.delayMs) }).listProfiles();
    expect(profiles.map((p) => p.name)).toEqual(['python']);
    expect(retries).toEqual([1000]);
    const [first, second] = seen.slice(before);
    // honoured: never earlier than the server asked
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
  });

  it('retries a 429 after a Retry-After date, and gives up after `retries`', async () => {
    handler = envelope(429, 'RATE_LIMITED', 'slow down', { 'retry-after': new Date(Date.now() + 1500).toUTCString() });
    const retries: number[] = [];
    const before = seen.length;
    const e = await failure(client({ retries: 1, onRetry: (r) => retries.push(r.delayMs) }).submitJob({ runtime: 'python' }));
    expect(e.code).toBe('RATE_LIMITED');
    expect(seen.length - before).toBe(2);
    expect(retries[0]).toBeGreaterThan(0);
    expect(retries[0]).toBeLessThanOrEqual(1500);
  });

  it('does not repeat a POST that got no answer; a read is repeated', async () => {
    handler = (req) => req.socket.destroy();
    let before = seen.length;
    const e = await failure(client({ retries: 2, maxRetryDelayMs: 10 }).submitJob({ runtime: 'python' }));
    expect(e).toBeInstanceOf(ApiUnreachableError);
    expect(e.status).toBe(0);
    expect(seen.length - before).toBe(1);
    before = seen.length;
    await failure(client({ retries: 2, maxRetryDelayMs: 10 }).getJob('job_0123456789abcdef'));
    expect(seen.length - before).toBe(3);
  });

  it('ends a request that gets no answer at its timeout, naming it and never the key', async () => {
    handler = () => undefined; // never answers
    const e = await failure(client({ timeoutMs: 300 }).getJob('job_0123456789abcdef'));
    expect(e).toBeInstanceOf(ApiUnreachableError);
    expect(e.message).toMatch(/no answer within 0\.3 s/);
    expect(e.message).not.toContain('ak_secret_value');
  });

  it('refuses a URL that is not http(s) and an empty key before sending', () => {
    expect(() => new Airlock({ url: 'ftp://x', key: 'k' })).toThrow(/http\(s\)/);
    expect(() => new Airlock({ url, key: ' ' })).toThrow(AirlockApiError);
  });

  it('reads an event stream split anywhere, multi-line data and ids included', async () => {
    const text = 'event: state\ndata: {"a":1}\nid: 1-0\n\n: comment\n\nevent: output\r\ndata: line1\r\ndata: liné2\r\n\r\n';
    const bytes = Buffer.from(text);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 3) yield await Promise.resolve(bytes.subarray(i, i + 3));
    }
    const events = [];
    for await (const e of readEventStream(chunks())) events.push(e);
    expect(events).toEqual([
      { event: 'state', data: '{"a":1}', id: '1-0' },
      { event: 'output', data: 'line1\nliné2', id: undefined },
    ]);
  });
});
