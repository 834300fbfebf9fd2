/**
 * Promotions in Redis: one hash per promotion (immutable facts as `doc`, the state and its
 * bookkeeping as fields), its decisions, its history, and an outbox of changes still to be
 * audited and announced. All writes go through promotion-scripts.ts; everything read back is
 * parsed with the schemas of promotion-record-schema.ts.
 *
 * Keys, all under the deployment's hash tag `{prefix}`: `promo:<id>` (+ `:history`,
 * `:decisions`, `:decision-order`), `promos` (all, by creation), `promos:pending`,
 * `promos:escalate`, `promos:approved`, `promos:lineage:<lineage>`, `promos:outbox`,
 * `promos:deliveries`, `promos:lock:<name>`.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { digestsIn } from '../artifacts/index.js';
import { execChecked, keyRoot, parseStored, parseStoredJson, redisCall, releaseLock, tryLock } from '../shared/index.js';
import {
  DecisionSchema,
  HistoryEntrySchema,
  OutboxEntrySchema,
  OutcomeSchema,
  PromotionDocSchema,
  type ActorJson,
  type OutboxEntry,
  type PromotionDoc,
} from './promotion-record-schema.js';
import { CLAIM_SCRIPT, CREATE_SCRIPT, DECIDE_SCRIPT, ESCALATE_SCRIPT, TRANSITION_SCRIPT, WITHDRAW_DECISION_SCRIPT } from './promotion-scripts.js';
import { PROMOTION_STATES, type Decision, type Promotion, type PromotionState } from './promotion-types.js';

export type { ActorJson, OutboxEntry, PromotionDoc } from './promotion-record-schema.js';

export type DecideOutcome = 'recorded' | 'approved' | 'rejected' | 'expired' | 'already_decided' | 'not_pending';

const StateSchema = z.enum(PROMOTION_STATES);

export class PromotionStore {
  private readonly root: string;

  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {
    this.root = keyRoot(prefix);
  }

  private key(id: string): string {
    return `${this.root}:promo:${id}`;
  }

  /** The artifact digests promotion snapshots point at (patch and artifacts), for the artifact garbage collector (SCAN, never KEYS). */
  async *referencedArtifacts(): AsyncIterable<string> {
    const prefix = this.key('');
    let cursor = '0';
    do {
      const [next, keys] = await redisCall('list promotions', () => this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500));
      cursor = next;
      for (const key of keys.filter((k) => !k.slice(prefix.length).includes(':'))) {
        yield* digestsIn((await redisCall('read a promotion', () => this.redis.hget(key, 'doc'))) ?? '');
      }
    } while (cursor !== '0');
  }
  private list(name: string): string {
    return `${this.root}:promos:${name}`;
  }
  get outboxKey(): string {
    return this.list('outbox');
  }
  get deliveriesKey(): string {
    return this.list('deliveries');
  }
  /** The keys every state change of promotion `id` touches. */
  private moveKeys(id: string) {
    return {
      promo: this.key(id),
      history: `${this.key(id)}:history`,
      outbox: this.outboxKey,
      pending: this.list('pending'),
      escalate: this.list('escalate'),
      approved: this.list('approved'),
    };
  }

  async create(
    doc: PromotionDoc,
    opts: { lineageKey: string; initial: PromotionState; createdMs: number; deadlineMs: number; escalateMs: number | null; actor: ActorJson; reason: string },
  ): Promise<void> {
    await CREATE_SCRIPT.run(
      this.redis,
      { ...this.moveKeys(doc.id), all: `${this.root}:promos`, lineage: this.list(`lineage:${opts.lineageKey}`) },
      {
        promoPrefix: this.key(''),
        id: doc.id,
        jobId: doc.jobId,
        target: doc.target,
        doc: JSON.stringify(doc),
        initial: opts.initial,
        createdMs: opts.createdMs,
        deadlineMs: opts.deadlineMs,
        escalateMs: opts.escalateMs === null ? '' : opts.escalateMs,
        at: doc.createdAt,
        actor: JSON.stringify(opts.actor),
        reason: opts.reason,
      },
    );
  }

  async get(id: string): Promise<Promotion | undefined> {
    return (await this.getMany([id]))[0];
  }

  /** Several promotions in one round trip (the list route reads pages of them); undefined where one is gone. */
  async getMany(ids: readonly string[]): Promise<(Promotion | undefined)[]> {
    if (ids.length === 0) return [];
    const m = this.redis.multi();
    for (const id of ids) {
      m.hgetall(this.key(id))
        .lrange(`${this.key(id)}:history`, 0, -1)
        .hgetall(`${this.key(id)}:decisions`)
        .lrange(`${this.key(id)}:decision-order`, 0, -1);
    }
    const replies = await execChecked(m, `read ${ids.length} promotions`);
    return ids.map((id, i) => {
      const [h, history, decisions, order] = parseStored(PromotionKeysSchema, replies.slice(i * 4, i * 4 + 4), `promotion ${id}`);
      return toPromotion(id, h, history, decisions, order);
    });
  }

  /** Compare-and-set; `claim` limits it to the holder of an apply claim, `dueAtMs` to an expired deadline. */
  async transition(
    id: string,
    from: readonly PromotionState[],
    to: PromotionState,
    opts: { at: string; actor: ActorJson; reason: string; details?: Record<string, unknown>; claim?: string; dueAtMs?: number; fields?: Record<string, string> },
  ): Promise<{ applied: boolean; state: PromotionState | undefined }> {
    const [applied, state] = await TRANSITION_SCRIPT.run(
      this.redis,
      this.moveKeys(id),
      {
        id,
        from: from.join(','),
        to,
        at: opts.at,
        actor: JSON.stringify(opts.actor),
        reason: opts.reason,
        details: opts.details === undefined ? '' : JSON.stringify(opts.details),
        claim: opts.claim ?? '',
        dueAtMs: opts.dueAtMs ?? '',
      },
      { args: Object.entries(opts.fields ?? {}).flat() },
    );
    return { applied: applied === 1, state: state === '' ? undefined : parseStored(StateSchema, state, `state of promotion ${id}`) };
  }

  async decide(
    id: string,
    d: Decision,
    opts: { nowMs: number; actor: ActorJson; approvalsNeeded: number; requireGroup: string | null },
  ): Promise<{ outcome: DecideOutcome; state: string; approvals: number }> {
    const [outcome, state, approvals] = await DECIDE_SCRIPT.run(
      this.redis,
      { ...this.moveKeys(id), decisions: `${this.key(id)}:decisions`, decisionOrder: `${this.key(id)}:decision-order` },
      {
        id,
        principal: d.principal,
        decision: JSON.stringify(d),
        kind: d.decision,
        nowMs: opts.nowMs,
        at: d.at,
        actor: JSON.stringify(opts.actor),
        reason: d.reason,
        approvalsNeeded: opts.approvalsNeeded,
        requireGroup: opts.requireGroup ?? '',
      },
    );
    return { outcome, state, approvals };
  }

  /** Takes back a principal's decision while the promotion is still pending_review; false when it moved on (or there was none). */
  async withdrawDecision(id: string, principal: string): Promise<boolean> {
    const keys = { promo: this.key(id), decisions: `${this.key(id)}:decisions`, decisionOrder: `${this.key(id)}:decision-order` };
    return (await WITHDRAW_DECISION_SCRIPT.run(this.redis, keys, { principal })) === 1;
  }

  async claim(id: string, token: string, nowMs: number, leaseMs: number): Promise<boolean> {
    return (await CLAIM_SCRIPT.run(this.redis, { promo: this.key(id) }, { token, nowMs, leaseMs })) === 1;
  }

  async escalate(id: string, nowMs: number, at: string, details: Record<string, unknown>): Promise<boolean> {
    return (await ESCALATE_SCRIPT.run(this.redis, this.moveKeys(id), { id, nowMs, at, details: JSON.stringify(details) })) === 1;
  }

  /** Pending promotions whose deadline (or escalation time) has come. */
  async due(kind: 'pending' | 'escalate', nowMs: number): Promise<string[]> {
    return redisCall(`read due promotions (${kind})`, () => this.redis.zrangebyscore(this.list(kind), '-inf', String(nowMs), 'LIMIT', 0, 500));
  }

  async approvedIds(): Promise<string[]> {
    return redisCall('read approved promotions', () => this.redis.smembers(this.list('approved')));
  }

  /** Newest first. */
  async ids(limit: number): Promise<string[]> {
    return redisCall('list promotions', () => this.redis.zrevrange(`${this.root}:promos`, 0, limit - 1));
  }

  async peek(list: string, n: number): Promise<string[]> {
    return redisCall(`read ${list}`, () => this.redis.lrange(list, 0, n - 1));
  }

  /** The outbox's head entries, parsed (peek + the schema of what the scripts write). */
  async peekOutbox(n: number): Promise<OutboxEntry[]> {
    return (await this.peek(this.outboxKey, n)).map((raw) => parseStoredJson(OutboxEntrySchema, raw, 'promotion outbox entry'));
  }

  /** Drops the head of `list` (after it was handled), handing on what it produced, in one write. */
  async ack(list: string, next?: { list: string; items: readonly string[] }): Promise<void> {
    const m = this.redis.multi();
    if (next !== undefined && next.items.length > 0) m.rpush(next.list, ...next.items);
    m.lpop(list);
    await execChecked(m, `acknowledge the head of ${list}`);
  }

  /**
   * Runs `fn` under a short named lock, so one process at a time drains a list (records keep
   * their order). Returns false, without running it, when another process holds the lock.
   */
  async withLock(name: string, ttlMs: number, fn: () => Promise<void>): Promise<boolean> {
    const key = this.list(`lock:${name}`);
    const token = await tryLock(this.redis, key, ttlMs);
    if (token === undefined) return false;
    try {
      await fn();
    } finally {
      await releaseLock(this.redis, key, token);
    }
    return true;
  }
}

const StringHash = z.record(z.string(), z.string());
const PromotionKeysSchema = z.tuple([StringHash, z.array(z.string()), StringHash, z.array(z.string())]);

/** The promotion hash's own fields; `doc`, `outcome` are JSON. */
const PromotionHashSchema = z.object({
  doc: z.string(),
  state: StateSchema,
  updatedAt: z.string().optional(),
  escalatedAt: z.string().optional(),
  outcome: z.string().optional(),
  failure: z.string().optional(),
});

function toPromotion(id: string, h: Record<string, string>, history: string[], decisions: Record<string, string>, order: string[]): Promotion | undefined {
  if (Object.keys(h).length === 0) return undefined;
  const what = `promotion ${id}`;
  const fields = parseStored(PromotionHashSchema, h, what);
  const doc = parseStoredJson(PromotionDocSchema, fields.doc, `${what} doc`);
  return {
    ...doc,
    state: fields.state,
    updatedAt: fields.updatedAt ?? doc.createdAt,
    escalatedAt: fields.escalatedAt ?? null,
    decisions: order.flatMap((p) => (decisions[p] === undefined ? [] : [parseStoredJson(DecisionSchema, decisions[p], `${what} decision`)])),
    history: history.map((e) => parseStoredJson(HistoryEntrySchema, e, `${what} history`)),
    outcome: fields.outcome ? parseStoredJson(OutcomeSchema, fields.outcome, `${what} outcome`) : null,
    failure: fields.failure ? fields.failure : null,
  };
}
