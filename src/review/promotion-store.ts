/**
 * Promotions in Redis: one hash per promotion (immutable facts as `doc`, the state and its
 * bookkeeping as fields), its decisions, its history, and an outbox of changes still to be
 * audited and announced. All writes go through promotion-scripts.ts.
 */
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { guardRedis } from '../shared/index.js';
import { CLAIM_LUA, CREATE_LUA, DECIDE_LUA, ESCALATE_LUA, TRANSITION_LUA } from './promotion-scripts.js';
import type { Decision, HistoryEntry, Promotion, PromotionState } from './promotion-types.js';

/** The facts fixed at request time. */
export type PromotionDoc = Omit<Promotion, 'state' | 'updatedAt' | 'escalatedAt' | 'decisions' | 'history' | 'outcome' | 'failure'>;

/** An actor as the scripts record it: a key (with its principal and role) or a system process. */
export type ActorJson = { keyId: string; principal: string; role: string } | { system: string };

/** One change waiting in the outbox. */
export interface OutboxEntry {
  readonly promotionId: string;
  readonly jobId: string;
  readonly target: string;
  readonly entry: HistoryEntry;
}

export type DecideOutcome = 'recorded' | 'approved' | 'rejected' | 'expired' | 'already_decided' | 'not_pending';

export class PromotionStore {
  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:promo:${id}`;
  }
  get outboxKey(): string {
    return `${this.prefix}:promos:outbox`;
  }
  get deliveriesKey(): string {
    return `${this.prefix}:promos:deliveries`;
  }

  async create(
    doc: PromotionDoc,
    opts: { lineageKey: string; initial: PromotionState; createdMs: number; deadlineMs: number; escalateMs: number | null; actor: ActorJson; reason: string },
  ): Promise<void> {
    await guardRedis(() =>
      this.redis.eval(
        CREATE_LUA,
        1,
        this.key(doc.id),
        this.prefix,
        doc.id,
        doc.jobId,
        doc.target,
        opts.lineageKey,
        JSON.stringify(doc),
        opts.initial,
        String(opts.createdMs),
        String(opts.deadlineMs),
        opts.escalateMs === null ? '' : String(opts.escalateMs),
        doc.createdAt,
        JSON.stringify(opts.actor),
        opts.reason,
      ),
    );
  }

  async get(id: string): Promise<Promotion | undefined> {
    return (await this.getMany([id]))[0];
  }

  /** Several promotions in one round trip (the list route reads pages of them); undefined where one is gone. */
  async getMany(ids: readonly string[]): Promise<(Promotion | undefined)[]> {
    if (ids.length === 0) return [];
    const replies = await guardRedis(async () => {
      const m = this.redis.multi();
      for (const id of ids) {
        m.hgetall(this.key(id))
          .lrange(`${this.key(id)}:history`, 0, -1)
          .hgetall(`${this.key(id)}:decisions`)
          .lrange(`${this.key(id)}:decision-order`, 0, -1);
      }
      return ((await m.exec()) ?? []).map(([err, v]) => {
        if (err) throw err;
        return v;
      });
    });
    return ids.map((_, i) => {
      const [h, history, decisions, order] = replies.slice(i * 4, i * 4 + 4) as [Record<string, string>, string[], Record<string, string>, string[]];
      return toPromotion(h, history, decisions, order);
    });
  }

  /** Compare-and-set; `claim` limits it to the holder of an apply claim, `dueAtMs` to an expired deadline. */
  async transition(
    id: string,
    from: readonly PromotionState[],
    to: PromotionState,
    opts: { at: string; actor: ActorJson; reason: string; details?: Record<string, unknown>; claim?: string; dueAtMs?: number; fields?: Record<string, string> },
  ): Promise<{ applied: boolean; state: PromotionState | undefined }> {
    const fields = Object.entries(opts.fields ?? {}).flat();
    const [applied, state] = (await guardRedis(() =>
      this.redis.eval(
        TRANSITION_LUA,
        1,
        this.key(id),
        this.prefix,
        id,
        from.join(','),
        to,
        opts.at,
        JSON.stringify(opts.actor),
        opts.reason,
        opts.details === undefined ? '' : JSON.stringify(opts.details),
        opts.claim ?? '',
        opts.dueAtMs === undefined ? '' : String(opts.dueAtMs),
        ...fields,
      ),
    )) as [number, string];
    return { applied: applied === 1, state: state === '' ? undefined : (state as PromotionState) };
  }

  async decide(
    id: string,
    d: Decision,
    opts: { nowMs: number; actor: ActorJson; approvalsNeeded: number; requireGroup: string | null },
  ): Promise<{ outcome: DecideOutcome; state: string; approvals: number }> {
    const [outcome, state, approvals] = (await guardRedis(() =>
      this.redis.eval(
        DECIDE_LUA,
        1,
        this.key(id),
        this.prefix,
        id,
        d.principal,
        JSON.stringify(d),
        d.decision,
        String(opts.nowMs),
        d.at,
        JSON.stringify(opts.actor),
        d.reason,
        String(opts.approvalsNeeded),
        opts.requireGroup ?? '',
      ),
    )) as [DecideOutcome, string, number];
    return { outcome, state, approvals };
  }

  async claim(id: string, token: string, nowMs: number, leaseMs: number): Promise<boolean> {
    return (await guardRedis(() => this.redis.eval(CLAIM_LUA, 1, this.key(id), this.prefix, id, token, String(nowMs), String(leaseMs)))) === 1;
  }

  async escalate(id: string, nowMs: number, at: string, details: Record<string, unknown>): Promise<boolean> {
    return (await guardRedis(() => this.redis.eval(ESCALATE_LUA, 1, this.key(id), this.prefix, id, String(nowMs), at, JSON.stringify(details)))) === 1;
  }

  /** Pending promotions whose deadline (or escalation time) has come. */
  async due(kind: 'pending' | 'escalate', nowMs: number): Promise<string[]> {
    return guardRedis(() => this.redis.zrangebyscore(`${this.prefix}:promos:${kind}`, '-inf', String(nowMs), 'LIMIT', 0, 500));
  }

  async approvedIds(): Promise<string[]> {
    return guardRedis(() => this.redis.smembers(`${this.prefix}:promos:approved`));
  }

  /** Newest first. */
  async ids(limit: number): Promise<string[]> {
    return guardRedis(() => this.redis.zrevrange(`${this.prefix}:promos`, 0, limit - 1));
  }

  async peek(list: string, n: number): Promise<string[]> {
    return guardRedis(() => this.redis.lrange(list, 0, n - 1));
  }

  /** Drops the head of `list` (after it was handled), handing on what it produced, in one write. */
  async ack(list: string, next?: { list: string; items: readonly string[] }): Promise<void> {
    const m = this.redis.multi();
    if (next !== undefined && next.items.length > 0) m.rpush(next.list, ...next.items);
    m.lpop(list);
    await guardRedis(() => m.exec());
  }

  /**
   * Runs `fn` under a short named lock, so one process at a time drains a list (records keep
   * their order). Returns false, without running it, when another process holds the lock.
   */
  async withLock(name: string, ttlMs: number, fn: () => Promise<void>): Promise<boolean> {
    const key = `${this.prefix}:promos:lock:${name}`;
    const token = randomBytes(8).toString('hex');
    if ((await guardRedis(() => this.redis.set(key, token, 'PX', ttlMs, 'NX'))) !== 'OK') return false;
    try {
      await fn();
    } finally {
      await guardRedis(() => this.redis.eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, key, token));
    }
    return true;
  }
}

function toPromotion(h: Record<string, string>, history: string[], decisions: Record<string, string>, order: string[]): Promotion | undefined {
  if (h['doc'] === undefined || h['state'] === undefined) return undefined;
  const doc = JSON.parse(h['doc']) as PromotionDoc;
  return {
    ...doc,
    state: h['state'] as PromotionState,
    updatedAt: h['updatedAt'] ?? doc.createdAt,
    escalatedAt: h['escalatedAt'] ?? null,
    decisions: order.flatMap((p) => (decisions[p] === undefined ? [] : [JSON.parse(decisions[p]) as Decision])),
    history: history.map((e) => JSON.parse(e) as HistoryEntry),
    outcome: h['outcome'] ? (JSON.parse(h['outcome']) as Promotion['outcome']) : null,
    failure: h['failure'] ? h['failure'] : null,
  };
}
