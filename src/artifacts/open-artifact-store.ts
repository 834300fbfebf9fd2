/**
 * Which ArtifactStore a deployment runs on, chosen once from its options: a folder (one host, or
 * hosts sharing it) or an S3-compatible bucket (API and workers on many hosts share nothing but
 * Redis and the bucket). The ranges and defaults live here, in the option schema.
 */
import { z } from 'zod';
import type { CollectableArtifactStore } from './artifact-store.js';
import { FileArtifactStore } from './file-artifact-store.js';
import { S3ArtifactStore } from './s3-artifact-store.js';

/** S3's bucket naming rule (general purpose buckets): 3–63 of a-z 0-9 . -, starting and ending with a letter or digit. */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export const S3StoreOptionsSchema = z.object({
  kind: z.literal('s3'),
  bucket: z.string().regex(BUCKET, 'must be an S3 bucket name (3-63 characters: a-z, 0-9, dots and hyphens)'),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  region: z.string().min(1).default('us-east-1'),
  forcePathStyle: z.boolean().default(false),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
  spoolDir: z.string().min(1),
  requestTimeoutMs: z.number().int().min(1000).max(600_000).default(30_000),
});

export const ArtifactStoreOptionsSchema = z
  .discriminatedUnion('kind', [z.object({ kind: z.literal('file'), dir: z.string().min(1) }), S3StoreOptionsSchema])
  .refine((o) => o.kind === 'file' || (o.accessKeyId === undefined) === (o.secretAccessKey === undefined), {
    message: 'give both the access key id and the secret access key, or neither (the SDK default chain)',
    path: ['accessKeyId'],
  });
export type ArtifactStoreOptions = z.infer<typeof ArtifactStoreOptionsSchema>;

/** A store and how to let go of it (the S3 client's sockets). */
export type OpenedArtifactStore = CollectableArtifactStore & { close(): Promise<void> };

/** Builds the store; an S3 bucket is checked first (missing or refusing these credentials: CONFIG_INVALID). */
export async function openArtifactStore(options: ArtifactStoreOptions): Promise<OpenedArtifactStore> {
  if (options.kind === 'file') {
    const store = new FileArtifactStore(options.dir);
    return Object.assign(store, { close: () => Promise.resolve() });
  }
  const store = new S3ArtifactStore({
    bucket: options.bucket,
    endpoint: options.endpoint,
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    credentials:
      options.accessKeyId !== undefined && options.secretAccessKey !== undefined ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey } : undefined,
    spoolDir: options.spoolDir,
    requestTimeoutMs: options.requestTimeoutMs,
  });
  try {
    await store.check();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}
