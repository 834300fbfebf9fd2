/**
 * What a job that was granted tools gets, and loses when it ends: short-lived credentials, a
 * token file and a gateway socket in a folder of its own, mounted read-only into the sandbox
 * at /run/airlock. A token lives `tokenLifetimeMs` at most; while the job runs the worker mints
 * the next one every third of that and replaces the file (atomic rename), so a JWKS-only
 * verifier refuses the job's last token at most `tokenLifetimeMs` after the job ended. A job
 * reads the file before each use. `close()` revokes every token of this grant, stops the
 * gateway and removes the folder, whatever the job's end; a later attempt of the same job
 * (worker crash) first revokes whatever an earlier one minted. A revoked API key stops the
 * refresh: the mint refuses it.
 */
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditStore } from '../audit/index.js';
import type { JobCredentialIssuer, MintedCredential } from '../credentials/index.js';
import { GatewayAuditRecorder, ToolGateway, type CallRate, type SecretResolver, type Tool } from '../gateway/index.js';
import { AppError, isAppError, type Logger } from '../shared/index.js';
import { workerEvent } from './worker-event.js';

/** Unix socket paths are limited to 108 bytes. */
const MAX_SOCKET_PATH = 104;

export interface JobGrantsOptions {
  issuer: JobCredentialIssuer;
  tools: readonly Tool[];
  resolveSecret: SecretResolver;
  /** Parent of the per-job folders (host side). */
  gatewayDir: string;
  audit: AuditStore;
  workerId: string;
  logger: Logger;
  /** Tool calls each job may make (default: the gateway's). */
  callRate?: CallRate;
}

export interface OpenGrant {
  /** The folder to mount read-only at /run/airlock (holds `token` and `gateway.sock`). */
  readonly dir: string;
  /** The first token's id (job.start names it). */
  readonly jti: string;
  /** Mints the next token and replaces the token file; a timer calls it every tokenLifetimeMs / 3. False once refreshing has stopped. */
  refresh(): Promise<boolean>;
  close(): Promise<void>;
}

interface GrantJob {
  jobId: string;
  keyId: string;
  profile: string;
  tools: readonly string[];
  deadlineMs: number;
  attempt: number;
}

export class JobGrants {
  constructor(private readonly opts: JobGrantsOptions) {
    if (join(opts.gatewayDir, 'job_0123456789abcdef-99', 'gateway.sock').length > MAX_SOCKET_PATH) {
      throw new AppError('CONFIG_INVALID', `AIRLOCK_GATEWAY_DIR ${opts.gatewayDir} is too long for a Unix socket path; choose a shorter folder`);
    }
  }

  /** Revokes every credential of this job (an earlier attempt's, after a worker crash). */
  async revokeJob(jobId: string): Promise<void> {
    const n = await this.opts.issuer.revokeJob(jobId);
    if (n > 0) await this.opts.audit.append(workerEvent(this.opts.workerId, 'credential.revoke', jobId, { details: { reason: 'earlier attempt', revoked: n } }));
  }

  /** `into`: an empty folder that already exists and is mounted (a pooled sandbox's); without it the grant makes its own. Either way close() removes it. */
  async open(job: GrantJob, into?: string): Promise<OpenGrant> {
    const tools = this.opts.tools.filter((t) => job.tools.includes(t.name));
    const missing = job.tools.filter((name) => !tools.some((t) => t.name === name));
    if (missing.length > 0) throw new AppError('CONFIG_INVALID', `this worker has no configuration for tools: ${missing.join(', ')}`);

    const first = await this.mint(job, false);
    const jtis = [first.jti];
    let closed = false;
    let refreshing = true;
    let inFlight: Promise<boolean> = Promise.resolve(true);
    let timer: NodeJS.Timeout | undefined;
    const dir = into ?? join(this.opts.gatewayDir, `${job.jobId}-${job.attempt}`);
    let gateway: Awaited<ReturnType<ToolGateway['start']>> | undefined;
    // forwarded calls one record each, refused calls one summary per window
    const calls = new GatewayAuditRecorder({
      jobId: job.jobId,
      workerId: this.opts.workerId,
      append: (event) => this.opts.audit.append(event),
      onError: (err) => this.opts.logger.error({ err, jobId: job.jobId }, 'could not audit gateway calls'),
    });

    const refreshOnce = async (): Promise<boolean> => {
      if (closed || !refreshing) return false;
      try {
        const next = await this.mint(job, true);
        jtis.push(next.jti);
        // closed meanwhile: the new token is revoked with the rest, never written
        if (closed) return false;
        const tmp = join(dir, `.token-${next.jti}`);
        await writeFile(tmp, next.token, { mode: 0o444 });
        await rename(tmp, join(dir, 'token'));
        return true;
      } catch (err) {
        // a revoked key, a passed deadline: no further token; a Redis hiccup: try again next time
        if (!isAppError(err) || !err.retryable) refreshing = false;
        this.opts.logger.warn({ err, jobId: job.jobId, refreshing }, 'job credential refresh failed');
        return false;
      }
    };
    const refresh = (): Promise<boolean> => (inFlight = inFlight.then(refreshOnce));

    const close = async () => {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      await inFlight;
      let revoked = 0;
      for (const jti of jtis) {
        revoked += await this.opts.issuer.revoke(jti).then(
          (live) => (live ? 1 : 0),
          (err: unknown) => {
            this.opts.logger.error({ err, jobId: job.jobId, jti }, 'credential revoke failed; it expires at its exp');
            return 0;
          },
        );
      }
      await this.opts.audit
        .append(workerEvent(this.opts.workerId, 'credential.revoke', job.jobId, { details: { jti: first.jti, jtis: [...jtis], revoked } }))
        .catch((err: unknown) => this.opts.logger.error({ err, jobId: job.jobId }, 'could not audit a credential revoke'));
      await gateway?.close();
      await calls.close();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      if (into === undefined) {
        await mkdir(this.opts.gatewayDir, { recursive: true, mode: 0o700 });
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { mode: 0o755 });
        await chmod(dir, 0o755);
      }
      await writeFile(join(dir, 'token'), first.token, { mode: 0o444 });
      gateway = await new ToolGateway({
        jobId: job.jobId,
        verifier: this.opts.issuer,
        tools,
        resolveSecret: this.opts.resolveSecret,
        onCall: (report) => calls.record(report),
        ...(this.opts.callRate === undefined ? {} : { callRate: this.opts.callRate }),
        onError: (err) => this.opts.logger.warn({ err, jobId: job.jobId }, 'gateway error'),
      }).start(join(dir, 'gateway.sock'));
      timer = setInterval(() => void refresh(), Math.floor(this.opts.issuer.options.tokenLifetimeMs / 3));
      timer.unref();
      return { dir, jti: first.jti, refresh, close };
    } catch (err) {
      await close();
      throw err;
    }
  }

  /** One token, recorded by its id (the token itself never enters a record). A revoked or missing key is refused by the mint. */
  private async mint(job: GrantJob, refresh: boolean): Promise<MintedCredential> {
    const minted = await this.opts.issuer.mint({ jobId: job.jobId, keyId: job.keyId, profile: job.profile, tools: [...job.tools], deadlineMs: job.deadlineMs });
    try {
      await this.opts.audit.append(
        workerEvent(this.opts.workerId, 'credential.mint', job.jobId, {
          details: { jti: minted.jti, kid: minted.kid, exp: minted.exp, tools: [...job.tools], ...(refresh ? { refresh: true } : {}) },
        }),
      );
    } catch (err) {
      // a credential that cannot be audited is never handed out
      await this.opts.issuer.revoke(minted.jti).catch(() => false);
      throw err;
    }
    return minted;
  }
}
