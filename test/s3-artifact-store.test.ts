/**
 * The S3 adapter of the ArtifactStore port against a local S3-compatible store (s3rver behind a
 * recording front, test/helpers/s3-stand-in.ts): content-addressed keys, written once with
 * If-None-Match: * and x-amz-checksum-sha256, re-verified on read, failures translated.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openArtifactStore, S3ArtifactStore, type OpenedArtifactStore } from '../src/artifacts/index.js';
import { loadConfig } from '../src/config.js';
import { sha256Hex } from '../src/shared/index.js';
import { startS3StandIn, type S3StandIn } from './helpers/s3-stand-in.js';

let spool: string;
beforeAll(async () => {
  spool = await mkdtemp(join(tmpdir(), 'airlock-s3-spool-'));
});
afterAll(() => rm(spool, { recursive: true, force: true }));

function open(s3: S3StandIn, over: { bucket?: string; accessKeyId?: string } = {}): Promise<OpenedArtifactStore> {
  return openArtifactStore({
    kind: 's3',
    bucket: over.bucket ?? s3.bucket,
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    accessKeyId: over.accessKeyId ?? s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    spoolDir: spool,
    requestTimeoutMs: 5000,
  });
}

const objectPuts = (s3: S3StandIn, sha: string) => s3.requests.filter((r) => r.method === 'PUT' && r.path.startsWith(`/${s3.bucket}/cas/sha256/${sha}`));

describe('S3ArtifactStore (with a store that honours If-None-Match and x-amz-checksum-sha256)', () => {
  let s3: S3StandIn;
  let store: OpenedArtifactStore;
  beforeAll(async () => {
    s3 = await startS3StandIn();
    store = await open(s3);
  });
  afterAll(async () => {
    await store.close();
    await s3.stop();
  });

  it('put stores the bytes under cas/sha256/<hex>, once, with If-None-Match: * and the sha256 as x-amz-checksum-sha256; read and has find them', async () => {
    const content = Buffer.from('hello from a worker host');
    const sha = await store.put(content);
    expect(sha).toBe(sha256Hex(content));
    expect(S3ArtifactStore.keyOf(sha)).toBe(`cas/sha256/${sha}`);
    const [put] = objectPuts(s3, sha);
    expect(put?.headers['if-none-match']).toBe('*');
    expect(put?.headers['x-amz-checksum-sha256']).toBe(Buffer.from(sha, 'hex').toString('base64'));
    expect((await store.read(sha)).toString()).toBe('hello from a worker host');
    expect(await store.has(sha)).toBe(true);
    expect(await store.has(sha256Hex('never stored'))).toBe(false);
    expect(await store.has('not-a-digest')).toBe(false);
  });

  it('"already there" is success: a second put of the same bytes gets 412 and nothing is written again', async () => {
    const content = Buffer.from('stored once');
    const sha = await store.put(content);
    expect(await store.put(content)).toBe(sha);
    const puts = objectPuts(s3, sha);
    expect(puts.map((p) => p.answeredByFront)).toEqual([undefined, 412]);
    expect((await store.read(sha)).toString()).toBe('stored once');
  });

  it('putParts hashes the parts as it spools them (sync or async source, 3 MiB) and leaves no spool file', async () => {
    const parts = [Buffer.alloc(1024 * 1024, 1), Buffer.alloc(0), Buffer.alloc(2 * 1024 * 1024, 2)];
    const expected = createHash('sha256').update(Buffer.concat(parts)).digest('hex');
    expect(await store.putParts(parts)).toBe(expected);
    expect(await store.putParts(Readable.from(parts))).toBe(expected);
    expect((await store.read(expected)).equals(Buffer.concat(parts))).toBe(true);
    expect(objectPuts(s3, expected).map((p) => [p.bodyBytes, p.answeredByFront])).toEqual([
      [3 * 1024 * 1024, undefined],
      [3 * 1024 * 1024, 412],
    ]);
    expect(await readdir(spool)).toEqual([]);
  });

  it('bytes changed in transit are refused by the store (400 BadDigest): a retryable ARTIFACT_STORE_UNAVAILABLE, nothing stored', async () => {
    const content = Buffer.from('changed on the wire');
    s3.corruptNextPut();
    await expect(store.put(content)).rejects.toMatchObject({ code: 'ARTIFACT_STORE_UNAVAILABLE', retryable: true, message: expect.stringContaining('400 BadDigest') });
    expect(await store.has(sha256Hex(content))).toBe(false);
    // the next try goes through
    expect(await store.put(content)).toBe(sha256Hex(content));
  });

  it('a blob changed in the bucket is ARTIFACT_CORRUPT, never served; an unknown or malformed name is ARTIFACT_NOT_FOUND', async () => {
    const sha = await store.put(Buffer.from('original bytes'));
    await writeFile(s3.objectFile(S3ArtifactStore.keyOf(sha)), 'tampered bytes');
    await expect(store.read(sha)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    await expect(store.read(sha256Hex('never stored'))).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    const before = s3.requests.length;
    await expect(store.read('../../etc/passwd')).rejects.toMatchObject({ code: 'ARTIFACT_NOT_FOUND' });
    expect(s3.requests.length).toBe(before);
  });

  it('a racing writer of the same key (409 ConditionalRequestConflict) is waited out; 503s past the SDK retries are a retryable ARTIFACT_STORE_UNAVAILABLE', async () => {
    const content = Buffer.from('raced');
    s3.answerNext(1, 409, 'ConditionalRequestConflict');
    expect(await store.put(content)).toBe(sha256Hex(content));
    expect(await store.has(sha256Hex(content))).toBe(true);
    // one 503 is retried by the SDK; more than its 3 attempts reach the caller
    s3.answerNext(1, 503, 'SlowDown');
    expect((await store.read(sha256Hex(content))).toString()).toBe('raced');
    s3.answerNext(10, 503, 'SlowDown');
    await expect(store.read(sha256Hex(content))).rejects.toMatchObject({ code: 'ARTIFACT_STORE_UNAVAILABLE', retryable: true, message: expect.stringContaining('503') });
    s3.answerNext(0, 503, 'SlowDown');
  });

  it('start-up checks the bucket: a missing bucket or refused credentials is CONFIG_INVALID naming it', async () => {
    await expect(open(s3, { bucket: 'no-such-bucket' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: 'artifact bucket no-such-bucket does not exist' });
    await expect(open(s3, { accessKeyId: 'NOBODY' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining(`artifact bucket ${s3.bucket} refuses these credentials`),
    });
  });

  it('a store that does not answer is a retryable ARTIFACT_STORE_UNAVAILABLE ("no answer")', async () => {
    const gone = await startS3StandIn();
    const s = await open(gone);
    await gone.stop();
    await expect(s.put(Buffer.from('x'))).rejects.toMatchObject({ code: 'ARTIFACT_STORE_UNAVAILABLE', retryable: true, message: expect.stringContaining('no answer') });
    await s.close();
  });
});

describe('S3ArtifactStore on the bare stand-in (s3rver ignores If-None-Match and x-amz-checksum-sha256)', () => {
  it('a second put of the same bytes overwrites them with the same bytes (harmless: the name is the content); bytes changed in transit are stored and then refused on read', async () => {
    const s3 = await startS3StandIn({ conformance: false });
    const store = await open(s3);
    try {
      const content = Buffer.from('content-addressed');
      const sha = await store.put(content);
      await store.put(content);
      expect(objectPuts(s3, sha).map((p) => p.answeredByFront)).toEqual([undefined, undefined]);
      expect((await store.read(sha)).toString()).toBe('content-addressed');
      // what a checking store would have refused at the PUT, this one keeps: the read re-check catches it
      const other = Buffer.from('changed in transit, stored anyway');
      s3.corruptNextPut();
      const otherSha = await store.put(other);
      await expect(store.read(otherSha)).rejects.toMatchObject({ code: 'ARTIFACT_CORRUPT' });
    } finally {
      await store.close();
      await s3.stop();
    }
  });
});

describe('configuration', () => {
  const base = { AIRLOCK_DATA_DIR: '/var/lib/airlock' };

  it('without a bucket artifacts live in <data dir>/artifacts; a bucket selects S3 with the schema defaults', () => {
    expect(loadConfig(base).artifacts).toEqual({ kind: 'file', dir: '/var/lib/airlock/artifacts' });
    expect(loadConfig({ ...base, AIRLOCK_ARTIFACTS_S3_BUCKET: 'my-artifacts' }).artifacts).toEqual({
      kind: 's3',
      bucket: 'my-artifacts',
      region: 'us-east-1',
      forcePathStyle: false,
      spoolDir: '/var/lib/airlock/artifact-spool',
      requestTimeoutMs: 30_000,
    });
    expect(
      loadConfig({
        ...base,
        AIRLOCK_ARTIFACTS_S3_BUCKET: 'my-artifacts',
        AIRLOCK_ARTIFACTS_S3_ENDPOINT: 'http://127.0.0.1:9000',
        AIRLOCK_ARTIFACTS_S3_FORCE_PATH_STYLE: 'true',
        AIRLOCK_ARTIFACTS_S3_REGION: 'eu-west-1',
        AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID: 'id',
        AIRLOCK_ARTIFACTS_S3_SECRET_ACCESS_KEY: 'secret',
      }).artifacts,
    ).toMatchObject({ endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, region: 'eu-west-1', accessKeyId: 'id', secretAccessKey: 'secret' });
  });

  it('problems are named by variable: a bad bucket name, half a credential pair, a timeout out of range', () => {
    expect(() => loadConfig({ ...base, AIRLOCK_ARTIFACTS_S3_BUCKET: 'Bad_Bucket', AIRLOCK_ARTIFACTS_S3_TIMEOUT_MS: '5' })).toThrow(
      /AIRLOCK_ARTIFACTS_S3_BUCKET: must be an S3 bucket name[\s\S]*AIRLOCK_ARTIFACTS_S3_TIMEOUT_MS/,
    );
    expect(() => loadConfig({ ...base, AIRLOCK_ARTIFACTS_S3_BUCKET: 'ok-bucket', AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID: 'id' })).toThrow(
      /AIRLOCK_ARTIFACTS_S3_ACCESS_KEY_ID: give both/,
    );
  });
});
