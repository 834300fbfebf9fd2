/**
 * The audit module's settings, validated once at start-up with defaults in this one place.
 * config.ts maps AIRLOCK_AUDIT_* variables onto this shape and hands over the slice.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../shared/index.js';

/** Retention shorter than this is refused: what an investigation must still find online. */
export const MIN_RETENTION_DAYS = 90;

export const AuditOptionsSchema = z
  .strictObject({
    /** PKCS8 PEM of the Ed25519 checkpoint key; created (0600) if missing. */
    signingKeyFile: z.string().min(1),
    /** Append-only JSONL of signed checkpoints: what verify trusts. */
    checkpointFile: z.string().min(1),
    /** Where retention writes gzip segments. */
    segmentsDir: z.string().min(1),
    checkpointEveryRecords: z.number().int().min(1).default(1000),
    checkpointEveryMs: z.number().int().min(1000).default(60_000),
    checkpointPollMs: z.number().int().min(100).default(1000),
    staleAfterRecords: z.number().int().min(1).default(10_000),
    staleAfterMs: z
      .number()
      .int()
      .min(1000)
      .default(15 * 60_000),
    retentionDays: z.number().int().min(MIN_RETENTION_DAYS, `audit retention must be at least ${MIN_RETENTION_DAYS} days`).default(180),
    segmentMaxRecords: z.number().int().min(1).max(1_000_000).default(10_000),
    appendMaxAttempts: z.number().int().min(1).max(1000).default(50),
    appendTimeoutMs: z.number().int().min(100).default(5000),
    /** Replicas that must hold a record before its append returns (Redis WAIT); 0: the primary's word is enough. */
    waitReplicas: z.number().int().min(0).max(16).default(0),
    /** How long an append waits for them (below the audit connection's 2 s command timeout). */
    waitTimeoutMs: z.number().int().min(10).max(1900).default(1000),
  })
  .refine((o) => o.staleAfterRecords > o.checkpointEveryRecords, {
    message: 'staleAfterRecords must exceed checkpointEveryRecords',
    path: ['staleAfterRecords'],
  })
  .refine((o) => o.staleAfterMs > o.checkpointEveryMs + o.checkpointPollMs, {
    message: 'staleAfterMs must exceed checkpointEveryMs + checkpointPollMs',
    path: ['staleAfterMs'],
  });
export type AuditOptions = z.infer<typeof AuditOptionsSchema>;

/**
 * The options' defaults, read from the schema: what a part of the audit module built without
 * config (a test, a CLI command) falls back to, so no constructor writes a default of its own.
 */
const { signingKeyFile: _key, checkpointFile: _checkpoints, segmentsDir: _segments, ...defaulted } = AuditOptionsSchema.shape;
const DefaultedOptionsSchema = z.strictObject(defaulted);
type DefaultedOptions = z.infer<typeof DefaultedOptionsSchema>;
export const AUDIT_DEFAULTS: Readonly<DefaultedOptions> = Object.freeze(DefaultedOptionsSchema.parse({}));

/** Some of the options, checked against the schema's ranges, the unset ones at their defaults (CONFIG_INVALID otherwise). */
export function withAuditDefaults(input: { readonly [K in keyof DefaultedOptions]?: number | undefined }): DefaultedOptions {
  const parsed = DefaultedOptionsSchema.safeParse(input);
  if (!parsed.success) throw configInvalid(parsed.error);
  return parsed.data;
}

/** Default file locations under the data dir (AIRLOCK_DATA_DIR). */
export function defaultAuditPaths(dataDir: string): Pick<AuditOptions, 'signingKeyFile' | 'checkpointFile' | 'segmentsDir'> {
  return {
    signingKeyFile: join(dataDir, 'audit', 'signing-key.pem'),
    checkpointFile: join(dataDir, 'audit', 'checkpoints.jsonl'),
    segmentsDir: join(dataDir, 'audit', 'segments'),
  };
}

/** Validates the slice; every problem is reported at once as CONFIG_INVALID. */
export function parseAuditOptions(input: z.input<typeof AuditOptionsSchema>): AuditOptions {
  const parsed = AuditOptionsSchema.safeParse(input);
  if (!parsed.success) throw configInvalid(parsed.error);
  return Object.freeze(parsed.data);
}

function configInvalid(err: z.ZodError): AppError {
  return new AppError('CONFIG_INVALID', `invalid audit configuration:\n${err.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
}
