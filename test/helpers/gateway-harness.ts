/**
 * A real gateway for one job on a Unix socket in a temp dir, real Redis for its credential
 * (minted for a live API key), and the call a sandboxed program makes (HTTP over the socket).
 * `close()` stops the gateway and removes every key and file it made.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { ApiKeyStore, JobCredentialIssuer, parseJobCredentialOptions } from '../../src/credentials/index.js';
import { ToolGateway, parseTools, type GatewayCallReport, type RunningToolGateway, type ToolGatewayOptions } from '../../src/gateway/index.js';
import { deletePrefix, testRedis, uniquePrefix } from './redis.js';
import { systemClock } from '../../src/shared/index.js';

export interface GatewayReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body as UTF-8. */
  text: string;
}

/** A call from inside the sandbox: HTTP over the gateway's Unix socket. */
export function callGateway(
  socketPath: string,
  path: string,
  opts: { method?: string; token?: string; headers?: Record<string, string>; body?: Buffer | string; timeoutMs?: number } = {},
): Promise<GatewayReply> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const headers: Record<string, string> = { ...(opts.token === undefined ? {} : { authorization: `Bearer ${opts.token}` }), ...opts.headers };
    const req = request({ socketPath, path, method: opts.method ?? 'GET', headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    // a gateway that never answers fails the call instead of hanging the test
    req.setTimeout(opts.timeoutMs ?? 15_000, () => req.destroy(new Error('the gateway did not answer')));
    req.end(opts.body);
  });
}

export function errorCodeOf(reply: GatewayReply): string | undefined {
  try {
    return (JSON.parse(reply.text) as { error?: { code?: string } }).error?.code;
  } catch {
    return undefined;
  }
}

export interface GatewayHarness {
  readonly jobId: string;
  readonly socketPath: string;
  /** A live token of this job, granted every tool given. */
  readonly token: string;
  readonly reports: GatewayCallReport[];
  readonly errors: unknown[];
  readonly redis: Redis;
  readonly prefix: string;
  call(path: string, opts?: Parameters<typeof callGateway>[2]): Promise<GatewayReply>;
  close(): Promise<void>;
}

type ExtraOptions = Partial<Omit<ToolGatewayOptions, 'jobId' | 'verifier' | 'tools' | 'resolveSecret'>>;

export async function startGatewayHarness(name: string, tools: unknown[], secrets: Record<string, string> = {}, extra: ExtraOptions = {}): Promise<GatewayHarness> {
  const redis = testRedis();
  const prefix = uniquePrefix(name);
  const dir = await mkdtemp(join(tmpdir(), 'airlock-gw-'));
  const jobId = `job_${name.replace(/[^a-z0-9]/g, '').slice(0, 12)}01`;
  const reports: GatewayCallReport[] = [];
  const errors: unknown[] = [];
  let running: RunningToolGateway | undefined;
  const close = async (): Promise<void> => {
    try {
      await running?.close();
      await deletePrefix(redis, prefix);
    } finally {
      redis.disconnect();
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    const parsed = parseTools(tools);
    const issuer = await JobCredentialIssuer.open({ redis, prefix, clock: systemClock, keyDir: join(dir, 'keys'), options: parseJobCredentialOptions() });
    const key = await new ApiKeyStore(redis, prefix, systemClock).create({ role: 'agent', tools: parsed.map((t) => t.name) });
    const minted = await issuer.mint({ jobId, keyId: key.id, profile: 'python', tools: parsed.map((t) => t.name), deadlineMs: Date.now() + 10 * 60_000 });
    const gateway = new ToolGateway({
      jobId,
      verifier: issuer,
      tools: parsed,
      resolveSecret: (n) => secrets[n],
      onCall: (r) => {
        reports.push(r);
      },
      onError: (err) => errors.push(err),
      ...extra,
    });
    const socketPath = join(dir, 'gateway.sock');
    running = await gateway.start(socketPath);
    return {
      jobId,
      socketPath,
      token: minted.token,
      reports,
      errors,
      redis,
      prefix,
      call: (path, opts = {}) => callGateway(socketPath, path, { token: minted.token, ...opts }),
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
