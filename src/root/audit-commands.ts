/**
 * `airlock audit verify|pubkey|export|trim`: the operator's side of the audit log. They talk to
 * the audit Redis and the files under the data dir directly, so they work while the API is down,
 * and `verify --pubkey` needs nothing secret. `trim` and `export` are recorded (actor
 * `{type: 'system', via: 'cli'}`).
 */
import { access, readFile, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  CheckpointFileSink,
  Retention,
  exportRange,
  loadOrCreateSigningKey,
  publicKeyPem,
  signingKeyFromPem,
  verifyChain,
  verifyKeyFromPem,
  type RetentionReport,
  type VerifyKey,
  type VerifyResult,
} from '../audit/index.js';
import type { Config } from '../config.js';
import { AppError, AsyncDisposableStack } from '../shared/index.js';
import { openAuditStore } from './audit-factory.js';
import { commandContext } from './command-context.js';

const CLI_ACTOR = { type: 'system', via: 'cli' } as const;

/** The public key checkpoints are signed with (created when missing, so it can be pinned before the first start). */
export async function auditPublicKey(config: Config): Promise<string> {
  return publicKeyPem(await loadOrCreateSigningKey(config.audit.signingKeyFile)).trimEnd();
}

/** The whole log: segments, Redis, signed checkpoints, trusting `--pubkey FILE` or else the deployment's signing key (never created here). */
export async function verifyAuditLog(config: Config, pubkeyFile: string | undefined): Promise<{ result: VerifyResult; keyId: string }> {
  const key = await trustedKey(config, pubkeyFile);
  await using stack = new AsyncDisposableStack();
  const ctx = commandContext(config);
  const store = await openAuditStore(stack, ctx);
  const result = await verifyChain({
    store,
    checkpoints: new CheckpointFileSink(config.audit.checkpointFile),
    trustedKeys: [key],
    segmentsDir: config.audit.segmentsDir,
    clock: ctx.clock,
    staleAfterRecords: config.audit.staleAfterRecords,
    staleAfterMs: config.audit.staleAfterMs,
  });
  return { result, keyId: key.keyId };
}

async function trustedKey(config: Config, pubkeyFile: string | undefined): Promise<VerifyKey> {
  const path = pubkeyFile ?? config.audit.signingKeyFile;
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (e) {
    throw new AppError(
      'CONFIG_INVALID',
      `cannot read ${pubkeyFile === undefined ? 'the audit signing key' : 'the public key'} ${path}; pass --pubkey FILE (from \`airlock audit pubkey\`)`,
      { cause: e },
    );
  }
  return pubkeyFile === undefined ? signingKeyFromPem(pem) : verifyKeyFromPem(pem);
}

export interface ExportRequest {
  readonly since: string | undefined;
  readonly until: string | undefined;
  /** Where the JSON lines go (ended when done). */
  readonly out: Writable;
  /** The file `out` writes (removed when the export is refused); undefined: stdout. */
  readonly file: string | undefined;
}

/** Records with since <= time < until; reading the log is itself an action, recorded before a single record is read. */
export async function exportAuditLog(config: Config, req: ExportRequest): Promise<number> {
  await using stack = new AsyncDisposableStack();
  const store = await openAuditStore(stack, commandContext(config));
  try {
    await store.append({
      actor: CLI_ACTOR,
      action: 'audit.export',
      target: null,
      details: { via: 'cli', since: req.since ?? null, until: req.until ?? null, out: req.file ?? 'stdout' },
    });
  } catch (e) {
    req.out.destroy();
    if (req.file !== undefined) await rm(req.file, { force: true });
    throw e;
  }
  const { records } = await exportRange({
    store,
    segmentsDir: config.audit.segmentsDir,
    ...(req.since !== undefined ? { since: req.since } : {}),
    ...(req.until !== undefined ? { until: req.until } : {}),
    out: req.out,
  });
  req.out.end();
  await finished(req.out);
  return records;
}

/** Retention once: records older than the retention move to signed segment files, then leave Redis (an `audit.trim` record per segment). */
export async function trimAuditLog(config: Config): Promise<RetentionReport> {
  // segments must be signed by the deployment's key: a missing key is an error, not a new key
  await access(config.audit.signingKeyFile).catch((e: unknown) => {
    throw new AppError('CONFIG_INVALID', `no audit signing key at ${config.audit.signingKeyFile} (it is created when the API starts)`, { cause: e });
  });
  const key = await loadOrCreateSigningKey(config.audit.signingKeyFile);
  await using stack = new AsyncDisposableStack();
  const ctx = commandContext(config);
  const retention = new Retention({
    store: await openAuditStore(stack, ctx),
    key,
    checkpoints: new CheckpointFileSink(config.audit.checkpointFile),
    segmentsDir: config.audit.segmentsDir,
    clock: ctx.clock,
    retentionDays: config.audit.retentionDays,
    segmentMaxRecords: config.audit.segmentMaxRecords,
    actor: CLI_ACTOR,
  });
  return await retention.run();
}
