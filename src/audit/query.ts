/**
 * Query the records still in Redis by actor, action, target and time, newest first by
 * default, paginated by seq with an opaque cursor. The smallest matching index drives the
 * scan; the other filters are checked on the records themselves.
 */
import { z } from 'zod';
import { AppError } from '../shared/index.js';
import { AUDIT_ACTIONS } from './audit-actions.js';
import { actorIndexId, type ActorFilter } from './audit-keys.js';
import type { AuditRecord } from './audit-record.js';
import { toMs } from './export-range.js';
import type { RedisAuditStore } from './redis-audit-store.js';

export const QUERY_DEFAULT_LIMIT = 50;
export const QUERY_MAX_LIMIT = 500;
/** Candidates examined per call at most: a very selective filter returns fewer rows and a cursor. */
const SCAN_BUDGET = 10_000;

export const AuditQuerySchema = z.strictObject({
  actor: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('key'), keyId: z.string().min(1) }),
      z.strictObject({ type: z.literal('system') }),
      z.strictObject({ type: z.literal('worker'), workerId: z.string().min(1) }),
    ])
    .optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  target: z.string().min(1).optional(),
  since: z.union([z.date(), z.string(), z.number()]).optional(),
  until: z.union([z.date(), z.string(), z.number()]).optional(),
  limit: z.number().int().min(1).max(QUERY_MAX_LIMIT).default(QUERY_DEFAULT_LIMIT),
  order: z.enum(['asc', 'desc']).default('desc'),
  cursor: z.string().optional(),
});
export type AuditQuery = z.input<typeof AuditQuerySchema>;

export interface AuditPage {
  readonly records: AuditRecord[];
  /** Pass back as `cursor` for the next page; null when there is none. */
  readonly nextCursor: string | null;
}

const CursorSchema = z.strictObject({ v: z.literal(1), seq: z.number().int().nonnegative(), order: z.enum(['asc', 'desc']) });

/**
 * `visible`: a further condition on each record (who may see it), checked like the filters, so
 * pages stay full and cursors stay right.
 */
export async function queryAudit(store: RedisAuditStore, input: AuditQuery, visible?: (record: AuditRecord) => boolean): Promise<AuditPage> {
  const parsed = AuditQuerySchema.safeParse(input);
  if (!parsed.success) throw new AppError('INVALID_REQUEST', `invalid audit query: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const q = parsed.data;
  const [base, head] = [await store.base(), await store.head()];
  let lo = base.seq + 1;
  let hi = head.seq;
  if (q.since !== undefined) lo = Math.max(lo, (await store.firstSeqFrom(toMs(q.since, 'since'))) ?? Infinity);
  if (q.until !== undefined) hi = Math.min(hi, await store.lastSeqBefore(toMs(q.until, 'until')));
  if (q.cursor !== undefined) {
    const after = decodeCursor(q.cursor, q.order);
    if (q.order === 'asc') lo = Math.max(lo, after + 1);
    else hi = Math.min(hi, after - 1);
  }

  const matches = (r: AuditRecord) =>
    (q.action === undefined || r.action === q.action) &&
    (q.target === undefined || r.target === q.target) &&
    (q.actor === undefined || actorIndexId(r.actor) === actorIndexId(q.actor)) &&
    (visible === undefined || visible(r));
  const driver = await pickDriver(store, q.actor, q.action, q.target);
  const batch = Math.max(q.limit + 1, 100);
  const found: AuditRecord[] = [];
  let scanned = 0;
  let lastScanned: number | null = null;
  while (lo <= hi && found.length <= q.limit && scanned < SCAN_BUDGET) {
    const seqs = await candidates(store, driver, q.order, lo, hi, batch);
    if (seqs.length === 0) break;
    scanned += seqs.length;
    for (const record of await store.readRecords(seqs)) if (matches(record)) found.push(record);
    lastScanned = seqs.at(-1) ?? null;
    if (lastScanned === null) break;
    if (q.order === 'asc') lo = lastScanned + 1;
    else hi = lastScanned - 1;
  }
  if (found.length > q.limit) {
    const page = found.slice(0, q.limit);
    return { records: page, nextCursor: encodeCursor(page.at(-1)?.seq ?? 0, q.order) };
  }
  // Budget spent before the range was exhausted: more may match past what we scanned.
  const more = lo <= hi && scanned >= SCAN_BUDGET && lastScanned !== null;
  return { records: found, nextCursor: more && lastScanned !== null ? encodeCursor(lastScanned, q.order) : null };
}

/** The smallest index among the filters, or null to walk seqs directly. */
async function pickDriver(store: RedisAuditStore, actor: ActorFilter | undefined, action: string | undefined, target: string | undefined): Promise<string | null> {
  const keys: string[] = [];
  if (actor !== undefined) keys.push(store.keys.actor(actor));
  if (action !== undefined) keys.push(store.keys.action(action));
  if (target !== undefined) keys.push(store.keys.target(target));
  if (keys.length === 0) return null;
  const sizes = await store.indexSizes(keys);
  let best = 0;
  for (const [i, size] of sizes.entries()) if (size < (sizes[best] ?? Infinity)) best = i;
  return keys[best] ?? null;
}

async function candidates(store: RedisAuditStore, driver: string | null, order: 'asc' | 'desc', lo: number, hi: number, count: number): Promise<number[]> {
  if (driver === null) {
    const n = Math.min(count, hi - lo + 1);
    return Array.from({ length: n }, (_, i) => (order === 'asc' ? lo + i : hi - i));
  }
  return store.indexRange(driver, order, lo, hi, count);
}

function encodeCursor(seq: number, order: 'asc' | 'desc'): string {
  return Buffer.from(JSON.stringify({ v: 1, seq, order })).toString('base64url');
}

function decodeCursor(cursor: string, order: 'asc' | 'desc'): number {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    value = undefined;
  }
  const parsed = CursorSchema.safeParse(value);
  if (!parsed.success || parsed.data.order !== order) throw new AppError('INVALID_REQUEST', 'invalid audit cursor');
  return parsed.data.seq;
}
