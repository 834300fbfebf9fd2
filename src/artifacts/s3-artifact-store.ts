/**
 * The ArtifactStore on an S3-compatible bucket: what API and worker hosts share when they share
 * no folder. Keys are content addresses (`cas/sha256/<hex>`), each written once: a PUT carries
 * `If-None-Match: *` (a 412 "already there" is success: the same name is the same bytes) and
 * `x-amz-checksum-sha256`, so a store that checks it refuses bytes changed in transit. Reading
 * re-checks the digest whatever the store said (ARTIFACT_CORRUPT).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, sha256Hex } from '../shared/index.js';
import type { CollectableArtifactStore, StoredBlob } from './artifact-store.js';
import { s3Failure, s3Status } from './s3-errors.js';

const SHA256 = /^[0-9a-f]{64}$/;
/** A concurrent conditional write of the same key (S3's 409 ConditionalRequestConflict) is retried this often. */
const CONFLICT_ATTEMPTS = 3;

export interface S3ArtifactStoreOptions {
  readonly bucket: string;
  /** An S3-compatible endpoint (MinIO, Ceph, R2, a local stand-in); none: AWS's for the region. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (most S3-compatible stores want this). */
  readonly forcePathStyle: boolean;
  /** Static credentials; none: the SDK's default chain (instance role, web identity, shared files). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string } | undefined;
  /** Where putParts writes a blob while hashing it (the key is its digest, known only at the end). */
  readonly spoolDir: string;
  readonly requestTimeoutMs: number;
}

export class S3ArtifactStore implements CollectableArtifactStore {
  private readonly client: S3Client;

  constructor(private readonly opts: S3ArtifactStoreOptions) {
    const config: S3ClientConfig = {
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      // we send our own sha256 and re-check every read; the SDK's default CRC32 trailers
      // (aws-chunked bodies) are what S3-compatible stores most often mishandle
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: { requestTimeout: opts.requestTimeoutMs, connectionTimeout: Math.min(opts.requestTimeoutMs, 5000) },
      ...(opts.endpoint !== undefined ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials !== undefined ? { credentials: { ...opts.credentials } } : {}),
    };
    this.client = new S3Client(config);
  }

  /** The object key of a digest: `cas/sha256/<hex>`. */
  static keyOf(sha256: string): string {
    if (!SHA256.test(sha256)) throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact');
    return `cas/sha256/${sha256}`;
  }

  /** Start-up check: the bucket exists and these credentials reach it (CONFIG_INVALID names what failed). */
  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }));
    } catch (err) {
      const status = s3Status(err);
      const why = status === 404 ? 'does not exist' : status === 403 ? 'refuses these credentials' : `did not answer (${s3Failure(err, 'head').message})`;
      throw new AppError('CONFIG_INVALID', `artifact bucket ${this.opts.bucket} ${why}`, { cause: err });
    }
  }

  async put(content: Uint8Array): Promise<string> {
    const sha256 = sha256Hex(content);
    await this.putOnce(sha256, () => content, content.byteLength);
    return sha256;
  }

  async putParts(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<string> {
    await mkdir(this.opts.spoolDir, { recursive: true, mode: 0o700 });
    const tmp = join(this.opts.spoolDir, `.put-${randomBytes(8).toString('hex')}.tmp`);
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      const file = await open(tmp, 'wx', 0o600);
      try {
        for await (const part of parts) {
          hash.update(part);
          bytes += part.byteLength;
          await file.write(part);
        }
      } finally {
        await file.close();
      }
      const sha256 = hash.digest('hex');
      await this.putOnce(sha256, () => createReadStream(tmp), bytes);
      return sha256;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async read(sha256: string): Promise<Buffer> {
    const key = S3ArtifactStore.keyOf(sha256);
    let content: Buffer;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key: key }));
      if (res.Body === undefined) throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact in the store');
      content = Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      if (s3Status(err) === 404) throw new AppError('ARTIFACT_NOT_FOUND', 'no such artifact in the store', { cause: err });
      throw s3Failure(err, `read ${key}`);
    }
    const actual = sha256Hex(content);
    if (actual !== sha256) throw new AppError('ARTIFACT_CORRUPT', `artifact ${sha256} does not match its digest (store holds ${actual})`);
    return content;
  }

  async has(sha256: string): Promise<boolean> {
    if (!SHA256.test(sha256)) return false;
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key: S3ArtifactStore.keyOf(sha256) }));
      return true;
    } catch (err) {
      if (s3Status(err) === 404) return false;
      throw s3Failure(err, `look up ${sha256}`);
    }
  }

  async *list(): AsyncIterable<StoredBlob> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: 'cas/sha256/', ...(token !== undefined ? { ContinuationToken: token } : {}) }));
      } catch (err) {
        throw s3Failure(err, 'list blobs');
      }
      for (const o of page.Contents ?? []) {
        const sha256 = o.Key?.slice('cas/sha256/'.length) ?? '';
        if (SHA256.test(sha256)) yield { sha256, bytes: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async remove(sha256: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key: S3ArtifactStore.keyOf(sha256) }));
    } catch (err) {
      if (s3Status(err) !== 404) throw s3Failure(err, `remove ${sha256}`);
    }
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  /** One conditional PUT; "already there" (412) is success; a racing writer of the same key (409) is waited out. */
  private async putOnce(sha256: string, body: () => Uint8Array | NodeJS.ReadableStream, bytes: number): Promise<void> {
    const key = S3ArtifactStore.keyOf(sha256);
    const checksum = Buffer.from(sha256, 'hex').toString('base64');
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: this.opts.bucket,
            Key: key,
            Body: body() as PutObjectCommand['input']['Body'],
            ContentLength: bytes,
            ContentType: 'application/octet-stream',
            IfNoneMatch: '*',
            ChecksumSHA256: checksum,
          }),
        );
        return;
      } catch (err) {
        const status = s3Status(err);
        if (status === 412) return;
        if (status === 409 && attempt < CONFLICT_ATTEMPTS) {
          if (await this.has(sha256)) return;
          continue;
        }
        throw s3Failure(err, `store ${key}`);
      }
    }
  }
}
