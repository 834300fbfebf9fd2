/**
 * Revoking an API key, whoever asks (`DELETE /v1/keys/:id`, `airlock keys revoke`). The key is
 * marked revoked first: from then on it gets 401, no job of it starts (the worker's start
 * script reads the key) and no credential is minted for it (so does the mint). Then each of
 * its non-terminal jobs goes through the one cancel compare-and-set: queued → `cancelled`
 * (error KEY_REVOKED); running → killed (`killed`) with `killRunning`, else left to finish.
 * The credentials of its running jobs end at once either way: the key's authority is gone.
 * Each job this cancels or kills gets one `job.cancel` record naming the revocation.
 */
import type { Actor, AuditEvent, AuditStore } from '../audit/index.js';
import type { ApiKeyInfo, ApiKeyStore, JobCredentialVerifier } from '../credentials/index.js';
import { AppError } from '../shared/index.js';
import type { JobProducer } from './job-producer.js';
import { KEY_REVOKED_ERROR } from './job-store.js';

export interface KeyRevocationDeps {
  readonly keys: ApiKeyStore;
  readonly producer: JobProducer;
  /** Ends a job's live tokens (Redis only: the API holds no signing key). */
  readonly credentials: Pick<JobCredentialVerifier, 'revokeJob'>;
  readonly audit: AuditStore;
}

export interface RevokeKeyOptions {
  /** Also kill the key's running jobs (they end `killed`); otherwise they run to their end without credentials. */
  readonly killRunning: boolean;
  /** Who revokes: the admin key of the request, or `system` for the CLI. */
  readonly actor: Actor;
}

export interface KeyRevocationResult {
  readonly key: ApiKeyInfo;
  /** Queued jobs this revocation cancelled. */
  readonly cancelled: readonly string[];
  /** Running jobs the worker was asked to kill. */
  readonly killing: readonly string[];
  /** Running jobs left to finish (no `killRunning`). */
  readonly running: readonly string[];
  /** Live job tokens of running jobs that were revoked. */
  readonly tokensRevoked: number;
}

export class KeyRevocation {
  constructor(private readonly deps: KeyRevocationDeps) {}

  /** KEY_NOT_FOUND for an unknown key. Revoking a revoked key again sweeps its jobs again (idempotent). */
  async revoke(keyId: string, opts: RevokeKeyOptions): Promise<KeyRevocationResult> {
    const key = await this.deps.keys.revoke(keyId);
    const cancelled: string[] = [];
    const killing: string[] = [];
    const running: string[] = [];
    let tokensRevoked = 0;
    // the revocation is not held back by the audit log: every job is handled, then a failure is reported
    const unrecorded: unknown[] = [];
    const record = (event: Omit<AuditEvent, 'actor'>) => this.deps.audit.append({ actor: opts.actor, ...event }).then(undefined, (err: unknown) => void unrecorded.push(err));
    const why = { reason: 'key revoked', keyId, killRunning: opts.killRunning };

    for (const jobId of await this.deps.producer.store.jobsOf(keyId)) {
      const outcome = await this.deps.producer.cancel(jobId, { queuedOnly: !opts.killRunning, error: KEY_REVOKED_ERROR });
      if (outcome === 'did_cancel') {
        cancelled.push(jobId);
        await record({ action: 'job.cancel', target: jobId, outcome: { result: 'cancelled', error: KEY_REVOKED_ERROR.code }, details: why });
      } else if (outcome === 'cancelling' || outcome === 'running') {
        if (outcome === 'cancelling') {
          killing.push(jobId);
          await record({ action: 'job.cancel', target: jobId, outcome: { result: 'killing', error: KEY_REVOKED_ERROR.code }, details: why });
        } else running.push(jobId);
        const revoked = await this.deps.credentials.revokeJob(jobId);
        tokensRevoked += revoked;
        if (revoked > 0) await record({ action: 'credential.revoke', target: jobId, details: { ...why, revoked } });
      } else {
        // finished (or expired) since it was indexed: nothing to cancel
        await this.deps.producer.store.forget(keyId, jobId);
      }
    }
    if (unrecorded.length > 0) {
      throw new AppError(
        'AUDIT_UNAVAILABLE',
        `key ${keyId} is revoked and its jobs were handled (${cancelled.length} cancelled, ${killing.length} killed), but ${unrecorded.length} audit records could not be written`,
        { cause: unrecorded[0] },
      );
    }
    return { key, cancelled, killing, running, tokensRevoked };
  }
}
