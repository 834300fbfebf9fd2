/**
 * The audit chain in Redis. Appends are optimistic: read the head (cached after our own
 * writes), build the next record in the client (sha256 is not available in Redis Lua), and
 * let APPEND_SCRIPT write it only if the head has not moved; on a lost race, retry from the
 * head the script returned, with priority (see the claim in APPEND_SCRIPT). Appends from one
 * process are serialized so they never race each other.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError, canonicalJson, NO_METRICS, redisFailure, RedisFailure, systemClock, type Clock, type Metrics } from '../shared/index.js';
import { auditKeys, type AuditKeys } from './audit-keys.js';
import { AUDIT_DEFAULTS } from './audit-options.js';
import { GENESIS_HEAD, ChainHeadSchema, headOf, nextRecord, parseRecord, type AuditEvent, type AuditRecord, type ChainHead } from './audit-record.js';
import { APPEND_SCRIPT, PRUNE_INDEXES_SCRIPT, TRIM_SCRIPT } from './audit-scripts.js';
import type { AuditStore } from './audit-store.js';
import { parseCheckpoint, type Checkpoint } from './checkpoint.js';

export interface RedisAuditStoreOptions {
  readonly redis: Redis;
  /** Key prefix shared with the rest of Airlock (AIRLOCK_REDIS_PREFIX). */
  readonly prefix: string;
  readonly clock?: Clock;
  /** Lost races tolerated per append before giving up with AUDIT_UNAVAILABLE (default: AuditOptionsSchema's). */
  readonly appendMaxAttempts?: number;
  /** Time an append may spend racing and waiting its turn (default: AuditOptionsSchema's; Redis calls have their own timeouts). */
  readonly appendTimeoutMs?: number;
  /** Replicas a record must reach (WAIT) before append returns; fewer is AUDIT_UNAVAILABLE (default: none). */
  readonly waitReplicas?: number;
  readonly waitTimeoutMs?: number;
  /** Each append's latency and outcome, and what its record says happened (default: none). */
  readonly metrics?: Metrics;
}

/** How long a race loser keeps priority if it dies before using it. */
const CLAIM_TTL_MS = 50;
const PRUNE_BATCH = 200;

export class RedisAuditStore implements AuditStore {
  readonly redis: Redis;
  readonly keys: AuditKeys;
  private readonly clock: Clock;
  private readonly maxAttempts: number;
  private readonly appendTimeoutMs: number;
  private readonly waitReplicas: number;
  private readonly waitTimeoutMs: number;
  private readonly metrics: Metrics;
  /** Names this store in the fairness claim. */
  private readonly clientId = randomUUID();
  /** Head JSON as of our last successful append: saves a GET when nobody else wrote. */
  private cachedHead: string | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: RedisAuditStoreOptions) {
    this.redis = opts.redis;
    this.keys = auditKeys(opts.prefix);
    this.clock = opts.clock ?? systemClock;
    this.maxAttempts = opts.appendMaxAttempts ?? AUDIT_DEFAULTS.appendMaxAttempts;
    this.appendTimeoutMs = opts.appendTimeoutMs ?? AUDIT_DEFAULTS.appendTimeoutMs;
    this.waitReplicas = opts.waitReplicas ?? AUDIT_DEFAULTS.waitReplicas;
    this.waitTimeoutMs = opts.waitTimeoutMs ?? AUDIT_DEFAULTS.waitTimeoutMs;
    this.metrics = opts.metrics ?? NO_METRICS;
  }

  append(event: AuditEvent): Promise<AuditRecord> {
    const queuedAt = performance.now();
    const run = this.queue.then(() => this.appendNow(event));
    this.queue = run.catch(() => undefined);
    // measured from the call: the wait behind this process's earlier appends is part of what the caller waits
    run.then(
      () => this.metrics.auditAppended(event, true, performance.now() - queuedAt),
      () => this.metrics.auditAppended(event, false, performance.now() - queuedAt),
    );
    return run;
  }

  private async appendNow(event: AuditEvent): Promise<AuditRecord> {
    const deadline = performance.now() + this.appendTimeoutMs;
    let expected = this.cachedHead ?? (await this.call('read the audit head', () => this.redis.get(this.keys.head))) ?? '';
    let lost = 0;
    for (;;) {
      const prev = expected === '' ? GENESIS_HEAD : parseHeadOrThrow(expected, 'head');
      const record = nextRecord(prev, event, this.clock.now());
      const newHead = canonicalJson(headOf(record));
      const indexKeys = [this.keys.action(record.action), this.keys.actor(record.actor)];
      if (record.target !== null) indexKeys.push(this.keys.target(record.target));
      const [code, current] = await this.call('append an audit record', () =>
        APPEND_SCRIPT.run(
          this.redis,
          { head: this.keys.head, records: this.keys.records, time: this.keys.time, indexRegistry: this.keys.indexRegistry, claim: this.keys.claim },
          { expected, seq: record.seq, record: canonicalJson(record), newHead, timeMs: Date.parse(record.time), clientId: this.clientId, claimTtlMs: CLAIM_TTL_MS },
          { keys: indexKeys },
        ),
      );
      if (code === 1) {
        this.cachedHead = newHead;
        await this.awaitReplicas(record.seq);
        return record;
      }
      this.cachedHead = undefined;
      if (code === 2) {
        throw new AppError('AUDIT_UNAVAILABLE', `audit record ${record.seq} already exists beyond the head: the chain was tampered with; run \`airlock audit verify\``, {
          details: { seq: record.seq },
        });
      }
      expected = current;
      if (code === 0) {
        // Lost the race: we hold the claim now, so retry at once from the head the reply carried.
        lost += 1;
        if (lost >= this.maxAttempts) throw new AppError('AUDIT_UNAVAILABLE', `audit append lost the race ${lost} times`, { retryable: true });
      } else {
        await sleep(1); // another appender lost a race and goes first
      }
      if (performance.now() > deadline) {
        throw new AppError('AUDIT_UNAVAILABLE', `audit append did not get through within ${this.appendTimeoutMs} ms`, { retryable: true });
      }
    }
  }

  /**
   * With asynchronous replication a record the primary acknowledged can be lost in a failover;
   * WAIT makes the append return only once `waitReplicas` replicas hold it. Fewer in time:
   * AUDIT_UNAVAILABLE, so the caller treats the step as unrecorded (the record itself stays).
   */
  private async awaitReplicas(seq: number): Promise<void> {
    if (this.waitReplicas === 0) return;
    const acked = await this.call('wait for audit replicas', () => this.redis.wait(this.waitReplicas, this.waitTimeoutMs));
    if (acked < this.waitReplicas) {
      throw new AppError('AUDIT_UNAVAILABLE', `audit record ${seq} reached ${acked} of ${this.waitReplicas} replicas within ${this.waitTimeoutMs} ms`, {
        retryable: true,
        details: { seq },
      });
    }
  }

  async head(): Promise<ChainHead> {
    const raw = await this.call('read the audit head', () => this.redis.get(this.keys.head));
    return raw === null ? GENESIS_HEAD : parseHeadOrThrow(raw, 'head');
  }

  async base(): Promise<ChainHead> {
    const raw = await this.call('read the audit base', () => this.redis.get(this.keys.base));
    return raw === null ? GENESIS_HEAD : parseHeadOrThrow(raw, 'base');
  }

  async readRaw(fromSeq: number, count: number): Promise<Array<string | null>> {
    if (count <= 0) return [];
    const fields = Array.from({ length: count }, (_, i) => String(fromSeq + i));
    return this.call('read audit records', () => this.redis.hmget(this.keys.records, ...fields));
  }

  /** Parsed records for the given seqs, in that order; absent or malformed ones are skipped. */
  async readRecords(seqs: readonly number[]): Promise<AuditRecord[]> {
    if (seqs.length === 0) return [];
    const raws = await this.call('read audit records', () => this.redis.hmget(this.keys.records, ...seqs.map(String)));
    return raws.flatMap((raw) => (raw === null ? [] : (parseRecord(raw) ?? [])));
  }

  recordCount(): Promise<number> {
    return this.call('count audit records', () => this.redis.hlen(this.keys.records));
  }

  async putCheckpoint(checkpoint: Checkpoint): Promise<void> {
    await this.call('store an audit checkpoint', () => this.redis.zadd(this.keys.checkpoints, checkpoint.seq, canonicalJson(checkpoint)));
  }

  async lastCheckpoint(): Promise<Checkpoint | null> {
    const [raw] = await this.call('read audit checkpoints', () => this.redis.zrevrange(this.keys.checkpoints, 0, 0));
    return raw === undefined ? null : parseCheckpoint(raw);
  }

  /** Highest seq whose time is < `timeMs` (0 when none): the time index maps times to seqs. */
  async lastSeqBefore(timeMs: number): Promise<number> {
    const [seq] = await this.call('read the audit time index', () => this.redis.zrevrangebyscore(this.keys.time, `(${timeMs}`, '-inf', 'LIMIT', 0, 1));
    return seq === undefined ? 0 : Number(seq);
  }

  /** Lowest seq whose time is >= `timeMs`, or null when none. */
  async firstSeqFrom(timeMs: number): Promise<number | null> {
    const [seq] = await this.call('read the audit time index', () => this.redis.zrangebyscore(this.keys.time, timeMs, '+inf', 'LIMIT', 0, 1));
    return seq === undefined ? null : Number(seq);
  }

  /**
   * Retention: deletes records base+1..newBase.seq and moves the base, if the base is still
   * `expectedBase`. Index zsets are pruned afterwards (stale index entries are harmless:
   * readers skip seqs that no longer resolve).
   */
  async trim(expectedBase: ChainHead, newBase: ChainHead): Promise<boolean> {
    const expected = expectedBase.seq === 0 ? '' : canonicalJson(expectedBase);
    const reply = await this.call('trim audit records', () =>
      TRIM_SCRIPT.run(
        this.redis,
        { base: this.keys.base, records: this.keys.records, time: this.keys.time, checkpoints: this.keys.checkpoints },
        { expected, newBase: canonicalJson(newBase), firstSeq: expectedBase.seq + 1, lastSeq: newBase.seq },
      ),
    );
    if (reply !== 1) return false;
    await this.pruneIndexes(newBase.seq);
    return true;
  }

  private async pruneIndexes(throughSeq: number): Promise<void> {
    let cursor = '0';
    do {
      const [next, names] = await this.call('prune audit indexes', () => this.redis.sscan(this.keys.indexRegistry, cursor, 'COUNT', PRUNE_BATCH));
      cursor = next;
      if (names.length > 0) {
        await this.call('prune audit indexes', () => PRUNE_INDEXES_SCRIPT.run(this.redis, { indexRegistry: this.keys.indexRegistry }, { throughSeq }, { keys: names }));
      }
    } while (cursor !== '0');
  }

  /** Sizes of index zsets (query picks the smallest to drive its scan). */
  indexSizes(keys: readonly string[]): Promise<number[]> {
    return this.call('read an audit index', () => Promise.all(keys.map((k) => this.redis.zcard(k))));
  }

  /** Up to `count` seqs of an index within lo..hi, in `order`. */
  async indexRange(key: string, order: 'asc' | 'desc', lo: number, hi: number, count: number): Promise<number[]> {
    const members = await this.call('read an audit index', () =>
      order === 'asc' ? this.redis.zrangebyscore(key, lo, hi, 'LIMIT', 0, count) : this.redis.zrevrangebyscore(key, hi, lo, 'LIMIT', 0, count),
    );
    return members.map(Number);
  }

  /**
   * Runs one Redis interaction. The audit log's one translation of Redis failures: whatever the
   * Redis seam reports (unavailable, or a refused command) is the log's fail-closed, retryable
   * AUDIT_UNAVAILABLE; the store's own AppErrors (a tampered chain) pass through.
   */
  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const failure = redisFailure(what, err);
      if (!(failure instanceof RedisFailure)) throw failure;
      // the driver's own words, as before the seam (a script's reply check has no driver error)
      const reason = failure.cause instanceof Error ? failure.cause.message : failure.message;
      throw new AppError('AUDIT_UNAVAILABLE', `audit store: cannot ${what}: ${reason}`, { retryable: true, cause: failure });
    }
  }
}

function parseHeadOrThrow(raw: string, which: 'head' | 'base'): ChainHead {
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = undefined;
  }
  const parsed = ChainHeadSchema.safeParse(value);
  if (!parsed.success) throw new AppError('AUDIT_UNAVAILABLE', `audit ${which} in Redis is corrupt; run \`airlock audit verify\``);
  return parsed.data;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
