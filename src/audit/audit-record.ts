/**
 * One audit record per event, hash-chained: hash = sha256hex(prevHash + canonicalJson(record
 * without `hash`)). Everything here is pure; stores and verifiers build on these functions.
 */
import { z } from 'zod';
import { AppError, canonicalJson, sha256Hex } from '../shared/index.js';
import { AUDIT_ACTIONS } from './audit-actions.js';
import { redact } from './redact.js';

/** prevHash of record 1. */
export const GENESIS_HASH = '0'.repeat(64);

const HashSchema = z.string().regex(/^[0-9a-f]{64}$/);

export const ActorSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('key'), keyId: z.string().min(1), role: z.string().min(1) }),
  // `via`: the operator's command line (`cli`) or a process's own start-up (`startup`); absent: the system itself
  z.strictObject({ type: z.literal('system'), via: z.enum(['cli', 'startup']).optional() }),
  z.strictObject({ type: z.literal('worker'), workerId: z.string().min(1) }),
]);
export type Actor = z.infer<typeof ActorSchema>;

export const AuditEventSchema = z.strictObject({
  actor: ActorSchema,
  action: z.enum(AUDIT_ACTIONS),
  target: z.string().min(1).nullable(),
  request: z
    .strictObject({
      method: z.string().min(1),
      route: z.string(),
      ip: z.string().optional(),
      params: z.record(z.string(), z.unknown()).optional(),
      codeDigest: z.string().optional(),
      // the client's front door when not plain REST: `mcp` (the MCP server's tool calls; declared by the caller, the key is still the actor)
      via: z.enum(['mcp']).optional(),
    })
    .optional(),
  outcome: z.strictObject({ status: z.number().int().optional(), result: z.string().optional(), error: z.string().optional() }).optional(),
  bytes: z.strictObject({ request: z.number().int().nonnegative(), response: z.number().int().nonnegative() }).optional(),
  durationMs: z.number().nonnegative().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});
/** What producers hand to `AuditStore.append`; the store adds seq, time and the hashes. */
export type AuditEvent = z.input<typeof AuditEventSchema>;

export const AuditRecordSchema = AuditEventSchema.extend({
  seq: z.number().int().positive(),
  time: z.iso.datetime(),
  prevHash: HashSchema,
  hash: HashSchema,
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;
export type UnhashedRecord = Omit<AuditRecord, 'hash'>;

/** The last record of a chain (or the genesis): what the next record links to. */
export const ChainHeadSchema = z.strictObject({ seq: z.number().int().nonnegative(), hash: HashSchema, time: z.iso.datetime() });
export type ChainHead = z.infer<typeof ChainHeadSchema>;

export const GENESIS_HEAD: ChainHead = Object.freeze({ seq: 0, hash: GENESIS_HASH, time: new Date(0).toISOString() });

export function computeHash(record: UnhashedRecord): string {
  return sha256Hex(record.prevHash + canonicalJson(record));
}

/**
 * Builds the record that follows `prev`. The event is redacted first (the one place every
 * event passes), then validated; time never goes backwards (max of `timeMs` and prev.time).
 */
export function nextRecord(prev: ChainHead, event: AuditEvent, timeMs: number): AuditRecord {
  const parsed = AuditEventSchema.safeParse(redact(event));
  if (!parsed.success) {
    throw new AppError('INTERNAL', `invalid audit event: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  if (!Number.isFinite(timeMs)) throw new AppError('INTERNAL', 'audit time must be a finite number of ms');
  const time = new Date(Math.max(timeMs, Date.parse(prev.time))).toISOString();
  const unhashed: UnhashedRecord = { ...parsed.data, seq: prev.seq + 1, time, prevHash: prev.hash };
  return { ...unhashed, hash: computeHash(unhashed) };
}

export function headOf(record: AuditRecord): ChainHead {
  return { seq: record.seq, hash: record.hash, time: record.time };
}

/** Parses a stored record; null when it is not a well-formed record (verify reports it). */
export function parseRecord(json: string): AuditRecord | null {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return null;
  }
  const parsed = AuditRecordSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}

/** True when the record's stored hash matches its content. */
export function hashMatches(record: AuditRecord): boolean {
  const { hash, ...unhashed } = record;
  return computeHash(unhashed) === hash;
}
