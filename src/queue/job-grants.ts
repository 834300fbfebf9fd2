/**
 * What a job that was granted tools gets, and loses when it ends: an expiring credential,
 * a token file and a gateway socket in a folder of its own, mounted read-only into the
 * sandbox at /run/airlock. `close()` revokes the credential, stops the gateway and removes
 * the folder, whatever the job's end; a later attempt of the same job (worker crash) first
 * revokes whatever an earlier one minted.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditStore } from '../audit/index.js';
import type { JobCredentialIssuer } from '../credentials/index.js';
import { gatewayCallAuditEvent, ToolGateway, type SecretResolver, type Tool } from '../gateway/index.js';
import { AppError, type Logger } from '../shared/index.js';
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
}

export interface OpenGrant {
  /** The folder to mount read-only at /run/airlock (holds `token` and `gateway.sock`). */
  readonly dir: string;
  readonly jti: string;
  close(): Promise<void>;
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

  async open(job: { jobId: string; keyId: string; profile: string; tools: readonly string[]; deadlineMs: number; attempt: number }): Promise<OpenGrant> {
    const tools = this.opts.tools.filter((t) => job.tools.includes(t.name));
    const missing = job.tools.filter((name) => !tools.some((t) => t.name === name));
    if (missing.length > 0) throw new AppError('CONFIG_INVALID', `this worker has no configuration for tools: ${missing.join(', ')}`);

    const minted = await this.opts.issuer.mint({ jobId: job.jobId, keyId: job.keyId, profile: job.profile, tools: [...job.tools], deadlineMs: job.deadlineMs });
    let closed = false;
    const dir = join(this.opts.gatewayDir, `${job.jobId}-${job.attempt}`);
    let gateway: Awaited<ReturnType<ToolGateway['start']>> | undefined;
    const close = async () => {
      if (closed) return;
      closed = true;
      await this.opts.issuer.revoke(minted.jti).catch((err: unknown) => this.opts.logger.error({ err, jobId: job.jobId }, 'credential revoke failed; it expires at its exp'));
      await this.opts.audit
        .append(workerEvent(this.opts.workerId, 'credential.revoke', job.jobId, { details: { jti: minted.jti } }))
        .catch((err: unknown) => this.opts.logger.error({ err, jobId: job.jobId }, 'could not audit a credential revoke'));
      await gateway?.close();
      await rm(dir, { recursive: true, force: true });
    };
    try {
      // the record names the credential by its id; the token itself never enters a record
      await this.opts.audit.append(
        workerEvent(this.opts.workerId, 'credential.mint', job.jobId, { details: { jti: minted.jti, kid: minted.kid, exp: minted.exp, tools: [...job.tools] } }),
      );
      await mkdir(this.opts.gatewayDir, { recursive: true, mode: 0o700 });
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { mode: 0o755 });
      await chmod(dir, 0o755);
      await writeFile(join(dir, 'token'), minted.token, { mode: 0o444 });
      gateway = await new ToolGateway({
        jobId: job.jobId,
        verifier: this.opts.issuer,
        tools,
        resolveSecret: this.opts.resolveSecret,
        onCall: (report) => this.opts.audit.append(gatewayCallAuditEvent(report, this.opts.workerId)).then(() => undefined),
        onError: (err) => this.opts.logger.warn({ err, jobId: job.jobId }, 'gateway error'),
      }).start(join(dir, 'gateway.sock'));
      return { dir, jti: minted.jti, close };
    } catch (err) {
      await close();
      throw err;
    }
  }
}
