/**
 * API keys: `ak_<16 hex id>_<43 chars secret>`. The secret is shown once at creation and
 * stored only as its sha256; lookup is by the id embedded in the key, and the hash compare
 * is constant-time. A key carries a role and an owner principal (two keys of one owner
 * are one principal for review purposes).
 */
import type { Redis } from 'ioredis';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { AppError, type Clock } from '../shared/index.js';

export const ROLES = ['agent', 'reviewer', 'admin', 'service'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiKeyInfo {
  readonly id: string;
  readonly role: Role;
  readonly name: string;
  readonly owner: string;
  /** Profiles this key may run jobs on; undefined: every profile. */
  readonly profiles?: readonly string[];
  /** Tools this key's jobs may be granted; none unless listed. */
  readonly tools: readonly string[];
  /** Reviewer groups (approval policy: which promotions this key may decide); none unless listed. */
  readonly groups: readonly string[];
  readonly createdAt: string;
  readonly revokedAt?: string;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The bearer key itself. Shown once; never stored. */
  readonly key: string;
}

const KEY_PATTERN = /^ak_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function parseApiKey(token: string): { id: string; secret: string } | undefined {
  const m = KEY_PATTERN.exec(token);
  return m?.[1] !== undefined && m[2] !== undefined ? { id: `key_${m[1]}`, secret: m[2] } : undefined;
}

const hash = (secret: string): Buffer => createHash('sha256').update(secret).digest();

/**
 * The Redis hash of one API key. Exported because two atomic scripts read a key's state where
 * it matters: the job start (queue) and the credential mint (issuer) refuse a revoked or
 * missing key inside their own compare-and-set.
 */
export function apiKeyRedisKey(prefix: string, id: string): string {
  return `${prefix}:apikey:${id}`;
}

/** Whether a key may still act: `revoked` and `missing` (never existed, or its record is gone) both may not. */
export type KeyState = 'active' | 'revoked' | 'missing';

export class ApiKeyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  private key(id: string): string {
    return apiKeyRedisKey(this.prefix, id);
  }
  private get indexKey(): string {
    return `${this.prefix}:apikeys`;
  }

  async create(input: { role: Role; name?: string; owner?: string; profiles?: readonly string[]; tools?: readonly string[]; groups?: readonly string[] }): Promise<CreatedApiKey> {
    const idHex = randomBytes(8).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const id = `key_${idHex}`;
    const info: ApiKeyInfo = {
      id,
      role: input.role,
      name: input.name ?? '',
      owner: input.owner ?? id,
      ...(input.profiles !== undefined ? { profiles: [...input.profiles] } : {}),
      tools: [...(input.tools ?? [])],
      groups: [...new Set(input.groups ?? [])].sort(),
      createdAt: new Date(this.clock.now()).toISOString(),
    };
    const stored: Record<string, string> = {
      id,
      role: info.role,
      name: info.name,
      owner: info.owner,
      createdAt: info.createdAt,
      tools: JSON.stringify(info.tools),
      groups: JSON.stringify(info.groups),
      hash: hash(secret).toString('hex'),
    };
    if (info.profiles !== undefined) stored['profiles'] = JSON.stringify(info.profiles);
    await this.redis.multi().hset(this.key(id), stored).zadd(this.indexKey, this.clock.now(), id).exec();
    return { ...info, key: `ak_${idHex}_${secret}` };
  }

  /** The key's info when the bearer token is a live key; undefined otherwise (unknown, revoked, malformed). */
  async verify(token: string): Promise<ApiKeyInfo | undefined> {
    const parsed = parseApiKey(token);
    if (parsed === undefined) return undefined;
    const h = await this.redis.hgetall(this.key(parsed.id));
    const stored = h['hash'];
    const given = hash(parsed.secret);
    // compare even when the key is unknown, so timing does not tell which ids exist
    const expected = stored !== undefined && stored.length === 64 ? Buffer.from(stored, 'hex') : Buffer.alloc(32);
    const match = timingSafeEqual(expected, given) && stored !== undefined;
    if (!match || h['revokedAt']) return undefined;
    return toInfo(h);
  }

  async get(id: string): Promise<ApiKeyInfo | undefined> {
    const h = await this.redis.hgetall(this.key(id));
    return h['id'] === undefined ? undefined : toInfo(h);
  }

  async state(id: string): Promise<KeyState> {
    const [stored, revokedAt] = await this.redis.hmget(this.key(id), 'id', 'revokedAt');
    if (!stored) return 'missing';
    return revokedAt ? 'revoked' : 'active';
  }

  async list(): Promise<ApiKeyInfo[]> {
    const ids = await this.redis.zrange(this.indexKey, '0', '-1');
    if (ids.length === 0) return [];
    // one round trip for all keys, not one per key
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(this.key(id));
    const out: ApiKeyInfo[] = [];
    for (const [err, h] of (await p.exec()) ?? []) {
      if (err) throw err;
      const fields = h as Record<string, string>;
      if (fields['id'] !== undefined) out.push(toInfo(fields));
    }
    return out;
  }

  /**
   * Marks the key revoked (idempotent: the first revocation time stays). Only the key: its
   * queued and running jobs are the queue's KeyRevocation, which calls this first.
   */
  async revoke(id: string): Promise<ApiKeyInfo> {
    const exists = await this.redis.exists(this.key(id));
    if (exists !== 1) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    await this.redis.hsetnx(this.key(id), 'revokedAt', new Date(this.clock.now()).toISOString());
    return (await this.get(id))!;
  }

  /**
   * First start: creates an admin key when no live admin key exists. A lock makes two
   * processes starting together create one key, not two.
   */
  async bootstrapAdmin(): Promise<CreatedApiKey | undefined> {
    if ((await this.list()).some((k) => k.role === 'admin' && k.revokedAt === undefined)) return undefined;
    const lock = await this.redis.call('SET', `${this.prefix}:apikeys:bootstrap`, '1', 'NX', 'EX', '30');
    if (lock !== 'OK') return undefined;
    return this.create({ role: 'admin', name: 'bootstrap admin' });
  }
}

function toInfo(h: Record<string, string>): ApiKeyInfo {
  return {
    id: h['id'] ?? '',
    role: (h['role'] ?? 'agent') as Role,
    name: h['name'] ?? '',
    owner: h['owner'] ?? h['id'] ?? '',
    ...(h['profiles'] ? { profiles: JSON.parse(h['profiles']) as string[] } : {}),
    tools: h['tools'] ? (JSON.parse(h['tools']) as string[]) : [],
    groups: h['groups'] ? (JSON.parse(h['groups']) as string[]) : [],
    createdAt: h['createdAt'] ?? '',
    ...(h['revokedAt'] ? { revokedAt: h['revokedAt'] } : {}),
  };
}
