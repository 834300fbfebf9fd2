/**
 * API keys: `ak_<16 hex id>_<43 chars secret>`. The secret is shown once at creation and
 * stored only as its sha256; lookup is by the id embedded in the key, and the hash compare
 * is constant-time. A key carries a role and an owner principal (two keys of one owner
 * are one principal for review purposes).
 */
import type { Redis } from 'ioredis';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { AppError, execChecked, jsonText, keyRoot, parseStored, redisCall, type Clock } from '../shared/index.js';

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
  return `${keyRoot(prefix)}:apikey:${id}`;
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
    return `${keyRoot(this.prefix)}:apikeys`;
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
    await execChecked(this.redis.multi().hset(this.key(id), stored).zadd(this.indexKey, this.clock.now(), id), `create API key ${id}`);
    return { ...info, key: `ak_${idHex}_${secret}` };
  }

  /** The key's info when the bearer token is a live key; undefined otherwise (unknown, revoked, malformed). */
  async verify(token: string): Promise<ApiKeyInfo | undefined> {
    const parsed = parseApiKey(token);
    if (parsed === undefined) return undefined;
    const h = await redisCall('check an API key', () => this.redis.hgetall(this.key(parsed.id)));
    const stored = h['hash'];
    const given = hash(parsed.secret);
    // compare even when the key is unknown, so timing does not tell which ids exist
    const expected = stored !== undefined && stored.length === 64 ? Buffer.from(stored, 'hex') : Buffer.alloc(32);
    const match = timingSafeEqual(expected, given) && stored !== undefined;
    if (!match) return undefined;
    const info = apiKeyOf(h, parsed.id);
    return info === undefined || info.revokedAt !== undefined ? undefined : info;
  }

  async get(id: string): Promise<ApiKeyInfo | undefined> {
    return apiKeyOf(await redisCall(`read API key ${id}`, () => this.redis.hgetall(this.key(id))), id);
  }

  async state(id: string): Promise<KeyState> {
    const [stored, revokedAt] = await redisCall(`read the state of API key ${id}`, () => this.redis.hmget(this.key(id), 'id', 'revokedAt'));
    if (!stored) return 'missing';
    return revokedAt ? 'revoked' : 'active';
  }

  async list(): Promise<ApiKeyInfo[]> {
    const ids = await redisCall('list API keys', () => this.redis.zrange(this.indexKey, '0', '-1'));
    if (ids.length === 0) return [];
    // one round trip for all keys, not one per key
    const p = this.redis.pipeline();
    for (const id of ids) p.hgetall(this.key(id));
    const hashes = await execChecked(p, 'read API keys');
    return ids.flatMap((id, i) => apiKeyOf(parseStored(StringHashSchema, hashes[i], `API key ${id}`), id) ?? []);
  }

  /**
   * Marks the key revoked (idempotent: the first revocation time stays). Only the key: its
   * queued and running jobs are the queue's KeyRevocation, which calls this first.
   */
  async revoke(id: string): Promise<ApiKeyInfo> {
    const exists = await redisCall(`find API key ${id}`, () => this.redis.exists(this.key(id)));
    if (exists !== 1) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    await redisCall(`revoke API key ${id}`, () => this.redis.hsetnx(this.key(id), 'revokedAt', new Date(this.clock.now()).toISOString()));
    const info = await this.get(id);
    if (info === undefined) throw new AppError('KEY_NOT_FOUND', `no API key ${id}`);
    return info;
  }

  /** Deletes a key nobody has seen the secret of (its creation could not be recorded): as if never created. */
  async remove(id: string): Promise<void> {
    await execChecked(this.redis.multi().del(this.key(id)).zrem(this.indexKey, id), `remove API key ${id}`);
  }

  /**
   * First start: creates an admin key when no live admin key exists. A lock makes two
   * processes starting together create one key, not two.
   */
  async bootstrapAdmin(): Promise<CreatedApiKey | undefined> {
    if ((await this.list()).some((k) => k.role === 'admin' && k.revokedAt === undefined)) return undefined;
    // held until it expires: a second process starting within 30 s finds the key the first one made
    const lock = await redisCall('take the bootstrap lock', () => this.redis.set(`${keyRoot(this.prefix)}:apikeys:bootstrap`, '1', 'EX', 30, 'NX'));
    if (lock !== 'OK') return undefined;
    return this.create({ role: 'admin', name: 'bootstrap admin' });
  }
}

const StringHashSchema = z.record(z.string(), z.string());
const Names = z.array(z.string());

/** An API key hash as `create` writes it (the secret only as its sha256). */
const ApiKeyHashSchema = z.object({
  id: z.string().min(1),
  role: z.enum(ROLES),
  name: z.string(),
  owner: z.string().min(1),
  createdAt: z.string(),
  profiles: jsonText(Names).optional(),
  tools: jsonText(Names),
  groups: jsonText(Names),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  revokedAt: z.string().optional(),
});

/** The key a hash holds; undefined for an empty hash (no such key). */
function apiKeyOf(h: Readonly<Record<string, string>>, id: string): ApiKeyInfo | undefined {
  if (Object.keys(h).length === 0) return undefined;
  const k = parseStored(ApiKeyHashSchema, h, `API key ${id}`);
  return {
    id: k.id,
    role: k.role,
    name: k.name,
    owner: k.owner,
    ...(k.profiles !== undefined ? { profiles: k.profiles } : {}),
    tools: k.tools,
    groups: k.groups,
    createdAt: k.createdAt,
    ...(k.revokedAt ? { revokedAt: k.revokedAt } : {}),
  };
}
