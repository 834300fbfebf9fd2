/**
 * A local S3-compatible store for tests: s3rver (on disk, in a temp folder) behind a loopback
 * front that records every request. s3rver ignores two things the S3 adapter relies on:
 * `If-None-Match: *` on PUT (S3 answers 412 PreconditionFailed when the key exists) and
 * `x-amz-checksum-sha256` (S3 answers 400 BadDigest when the body does not match). With
 * `conformance` (the default) the front answers those as S3 documents them before s3rver sees the
 * request; without it, the tests see what a store that ignores them does. The front is a fake of
 * the outside service, not of our code: it only reads and forwards HTTP. s3rver checks the access
 * key id but not SigV4 signatures.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
  /** What the front answered itself (412, 400, 503), or undefined when s3rver answered. */
  readonly answeredByFront: number | undefined;
}

export interface S3StandIn {
  readonly endpoint: string;
  readonly bucket: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly requests: SeenRequest[];
  /** The file s3rver keeps an object's bytes in (a test tampers with it). */
  objectFile(key: string): string;
  /** Flips a byte of the next object PUT's body in transit, after the client computed its checksum. */
  corruptNextPut(): void;
  /** The next `n` requests get this answer from the front (e.g. 503 SlowDown, 409 ConditionalRequestConflict). */
  answerNext(n: number, status: number, code: string): void;
  /** AIRLOCK_ARTIFACTS_S3_* for an Airlock that uses this store. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startS3StandIn(opts: { bucket?: string; conformance?: boolean } = {}): Promise<S3StandIn> {
  const bucket = opts.bucket ?? 'airlock-artifacts';
  const conformance = opts.conformance ?? true;
  const dir = await mkdtemp(join(tmpdir(), 'airlock-s3-'));
  const s3rver = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const upstream = await s3rver.run();
  const requests: SeenRequest[] = [];
  const objectFile = (key: string) => join(dir, bucket, ...key.split('/').slice(0, -1), `${key.split('/').pop()!}._S3rver_object`);
  let corruptNext = false;
  let canned: { left: number; status: number; code: string } = { left: 0, status: 503, code: 'SlowDown' };

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: upstream.port, method, path, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });

  const front: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        let body = Buffer.concat(chunks);
        const method = req.method ?? 'GET';
        const path = req.url ?? '/';
        const objectPut = method === 'PUT' && new URL(path, 'http://x').pathname.split('/').filter(Boolean).length > 1;
        if (objectPut && corruptNext && body.length > 0) {
          corruptNext = false;
          body = Buffer.from(body);
          body[0] = body[0]! ^ 0xff;
        }
        const answer = (status: number, code: string, message: string) => {
          requests.push({ method, path, headers: req.headers, bodyBytes: body.length, answeredByFront: status });
          res.writeHead(status, { 'content-type': 'application/xml' });
          res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
        };
        if (canned.left > 0) {
          canned.left -= 1;
          return answer(canned.status, canned.code, 'canned answer');
        }
        if (conformance && objectPut) {
          const sent = req.headers['x-amz-checksum-sha256'];
          if (typeof sent === 'string' && createHash('sha256').update(body).digest('base64') !== sent) {
            return answer(400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
          }
          const key = decodeURIComponent(new URL(path, 'http://x').pathname).split('/').slice(2).join('/');
          if (req.headers['if-none-match'] === '*' && existsSync(objectFile(key))) {
            return answer(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          }
        }
        const up = await forward(method, path, req.headers, body);
        requests.push({ method, path, headers: req.headers, bodyBytes: body.length, answeredByFront: undefined });
        res.writeHead(up.status, up.headers);
        res.end(up.body);
      })().catch((err: unknown) => {
        res.writeHead(502);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;

  return {
    endpoint,
    bucket,
    ...CREDENTIALS,
    requests,
    objectFile,
    corruptNextPut: () => {
      corruptNext = true;
    },
    answerNext: (n, status, code) => {
      canned = { left: n, status, code };
    },
    env: () => ({
      AIRLOCK_ARTIFACTS_S3_BUCKET: bucket,
      AIRLOCK_ARTIFACTS_S3_ENDPOINT: endpoint,
      AIRLOCK_ARTIFACTS_S3_FORCE_PATH_STYLE: 'true',
      AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      AIRLOCK_ARTIFACTS_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    }),
    async stop() {
      front.closeAllConnections();
      await new Promise<void>((resolve) => front.close(() => resolve()));
      await s3rver.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
