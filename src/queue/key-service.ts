/**
 * The API-key and job-credential mutations, whoever asks (HTTP, the command line, start-up),
 * each appending its audit record where it mutates:
 * - create (and the first admin key at start-up): the key is stored, `key.create` appended, and
 *   only then is its secret handed out. If the record cannot be written the key is deleted before
 *   anyone saw its secret: not done.
 * - revoke: KeyRevocation (the key, its queued jobs, its running jobs' credentials, a record per
 *   job), then `key.revoke` with what it did. A revocation only takes authority away, so it is not
 *   held back by the audit log: if a record cannot be written it stands, and the caller hears
 *   AUDIT_UNAVAILABLE.
 * - rotate the job-token signing key: the same (rotating only retires a key).
 * - update a key's limits (`key.update`) and lift its anomaly throttle (`key.unthrottle`): the
 *   change, then its record; if the record cannot be written the change stands (a limit is not
 *   a grant of authority: lowering one must never wait for the log) and the caller hears
 *   AUDIT_UNAVAILABLE.
 */
import { recordMutation, type AuditOrigin, type AuditStore } from '../audit/index.js';
import type { ApiKeyInfo, ApiKeyStore, CreatedApiKey, JobCredentialIssuer, JobCredentialVerifier, RotationResult } from '../credentials/index.js';
import type { KeyLimitOverrides, KeyLimits, RateLimiter, Throttle } from '../monitor/index.js';
import { AppError, type Logger } from '../shared/index.js';
import type { JobProducer } from './job-producer.js';
import { KeyRevocation, type KeyRevocationResult } from './key-revocation.js';

export type NewApiKey = Parameters<ApiKeyStore['create']>[0];

export interface KeyServiceDeps {
  readonly keys: ApiKeyStore;
  readonly producer: JobProducer;
  /** Ends a revoked key's running jobs' tokens (Redis only: the API holds no signing key). */
  readonly credentials: Pick<JobCredentialVerifier, 'revokeJob'>;
  readonly audit: AuditStore;
  readonly logger: Logger;
  /** Per-key limits (overrides) and throttles. */
  readonly limiter: RateLimiter;
}

/** A key's limits as they apply now: its role's defaults, its own overrides, its live throttle. */
export interface KeyLimitsView {
  readonly keyId: string;
  readonly limits: KeyLimits;
  readonly overrides: KeyLimitOverrides;
  readonly throttle: (Throttle & { readonly until: string }) | null;
}

export class KeyService {
  private readonly revocation: KeyRevocation;

  constructor(private readonly deps: KeyServiceDeps) {
    this.revocation = new KeyRevocation(deps);
  }

  list(): Promise<ApiKeyInfo[]> {
    return this.deps.keys.list();
  }

  /** `limits`: the key's own limits, over its role's defaults (`airlock keys create --rate --max-inflight`). */
  async create(input: NewApiKey, origin: AuditOrigin<CreatedApiKey>, limits: KeyLimitOverrides = {}): Promise<CreatedApiKey> {
    // what was asked for, as given (never the secret: it does not exist yet)
    const asked = Object.fromEntries(Object.entries({ ...input, ...(Object.keys(limits).length > 0 ? { limits } : {}) }).filter(([, v]) => v !== undefined));
    const created = await this.deps.keys.create(input);
    if (Object.keys(limits).length > 0) await this.deps.limiter.setOverrides(created.id, limits);
    return this.recordedCreate(created, asked, origin);
  }

  async limits(keyId: string): Promise<KeyLimitsView> {
    const key = await this.deps.keys.get(keyId);
    if (key === undefined) throw new AppError('KEY_NOT_FOUND', `no API key ${keyId}`);
    const { limiter } = this.deps;
    const [overrides, throttle] = await Promise.all([limiter.overrides(keyId), limiter.throttleOf(keyId)]);
    return {
      keyId,
      limits: { ...limiter.defaultsOf(key.role), ...overrides },
      overrides,
      throttle: throttle === undefined ? null : { ...throttle, until: new Date(throttle.untilMs).toISOString() },
    };
  }

  /** Sets some of a key's limits (`airlock keys update`, PATCH /v1/keys/:id). */
  async updateLimits(keyId: string, limits: KeyLimitOverrides, origin: AuditOrigin<KeyLimitsView>): Promise<KeyLimitsView> {
    if ((await this.deps.keys.get(keyId)) === undefined) throw new AppError('KEY_NOT_FOUND', `no API key ${keyId}`);
    await this.deps.limiter.setOverrides(keyId, limits);
    const view = await this.limits(keyId);
    await recordMutation(this.deps.audit, origin, { action: 'key.update', target: keyId, details: { limits } }, view);
    return view;
  }

  /** Lifts a key's anomaly throttle (`airlock keys unthrottle`, DELETE /v1/keys/:id/throttle); `lifted` null: it had none. */
  async unthrottle(keyId: string, origin: AuditOrigin<{ keyId: string; lifted: Throttle | null }>): Promise<{ keyId: string; lifted: Throttle | null }> {
    if ((await this.deps.keys.get(keyId)) === undefined) throw new AppError('KEY_NOT_FOUND', `no API key ${keyId}`);
    const lifted = (await this.deps.limiter.unthrottle(keyId)) ?? null;
    const r = { keyId, lifted };
    const details = lifted === null ? { lifted: false } : { lifted: true, anomalyId: lifted.anomalyId, until: new Date(lifted.untilMs).toISOString() };
    await recordMutation(this.deps.audit, origin, { action: 'key.unthrottle', target: keyId, details }, r);
    return r;
  }

  /** First start: an admin key when no live one exists (ApiKeyStore.bootstrapAdmin), recorded like any other. */
  async bootstrapAdmin(origin: AuditOrigin<CreatedApiKey>): Promise<CreatedApiKey | undefined> {
    const created = await this.deps.keys.bootstrapAdmin();
    return created === undefined ? undefined : this.recordedCreate(created, { role: created.role, name: created.name, bootstrap: true }, origin);
  }

  async revoke(keyId: string, killRunning: boolean, origin: AuditOrigin<KeyRevocationResult>): Promise<KeyRevocationResult> {
    const r = await this.revocation.revoke(keyId, { killRunning, actor: origin.actor });
    const details = { killRunning, cancelled: r.cancelled.length, killing: r.killing.length, running: r.running.length, revokedTokenCount: r.tokensRevoked };
    await recordMutation(this.deps.audit, origin, { action: 'key.revoke', target: keyId, details }, r);
    return r;
  }

  private async recordedCreate(created: CreatedApiKey, details: Record<string, unknown>, origin: AuditOrigin<CreatedApiKey>): Promise<CreatedApiKey> {
    try {
      await recordMutation(this.deps.audit, origin, { action: 'key.create', target: created.id, details }, created);
    } catch (err) {
      this.deps.logger.error({ err, keyId: created.id }, 'key.create not recorded; the key is deleted');
      await this.deps.keys.remove(created.id).catch((e: unknown) => this.deps.logger.error({ err: e, keyId: created.id }, 'an unrecorded key could not be deleted'));
      throw err;
    }
    return created;
  }
}

/** Signs job tokens with a new key (`airlock credentials rotate`, on a worker host), then records `credential.rotate`. */
export async function rotateJobTokenKey(issuer: JobCredentialIssuer, audit: AuditStore, origin: AuditOrigin<RotationResult>): Promise<RotationResult> {
  const r = await issuer.rotate();
  const details = {
    kid: r.kid,
    ...(r.retiredKid !== undefined ? { retiredKid: r.retiredKid } : {}),
    ...(r.retiredNotAfterMs !== undefined ? { retiredPublishedUntil: new Date(r.retiredNotAfterMs).toISOString() } : {}),
  };
  // no target: a key id looks like a secret to redaction (as in credential.mint's details)
  await recordMutation(audit, origin, { action: 'credential.rotate', target: null, details }, r);
  return r;
}
