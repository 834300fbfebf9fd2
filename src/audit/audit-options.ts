/**
 * The audit module's settings, validated once at start-up with defaults in this one place.
 * config.ts maps AIRLOCK_AUDIT_* variables onto this shape and hands over the slice.
 */
import { join } from 'node:path';
import { z } from 'zod';
import { AppError } from '../shared/index.js';
import { DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS } from './retention.js';

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
    retentionDays: z.number().int().min(MIN_RETENTION_DAYS).default(DEFAULT_RETENTION_DAYS),
    segmentMaxRecords: z.number().int().min(1).max(1_000_000).default(10_000),
    appendMaxAttempts: z.number().int().min(1).max(1000).default(50),
    appendTimeoutMs: z.number().int().min(100).default(5000),
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
  if (!parsed.success) {
    throw new AppError('CONFIG_INVALID', `invalid audit configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  return Object.freeze(parsed.data);
}
