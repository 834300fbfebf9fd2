/**
 * `airlock audit verify|pubkey|export|trim`: the operator's side of the audit log. They talk
 * to the audit Redis and the files under the data dir directly, so they work while the API is
 * down, and `verify --pubkey` needs nothing secret.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { access, readFile, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  CheckpointFileSink,
  RedisAuditStore,
  Retention,
  exportRange,
  loadOrCreateSigningKey,
  publicKeyPem,
  signingKeyFromPem,
  verifyChain,
  verifyKeyFromPem,
  type VerifyKey,
} from '../audit/index.js';
import type { Config } from '../config.js';
import { connectRedis } from '../main.js';
import { AppError, systemClock } from '../shared/index.js';

/** Exit code of `audit verify` when the log is not intact (1 = could not run, 2 = usage). */
export const EXIT_VERIFY_FAILED = 3;

export const AUDIT_USAGE = 'usage: airlock audit verify [--pubkey FILE] | pubkey | export [--since ISO] [--until ISO] [--out FILE] | trim';

type Out = (s: string) => void;

export async function auditCommand(sub: string | undefined, flags: ReadonlyMap<string, string>, config: Config, out: Out, err: Out): Promise<number> {
  if (sub === 'pubkey') {
    // creates the key when missing, so it can be pinned before the first start
    out(publicKeyPem(await loadOrCreateSigningKey(config.audit.signingKeyFile)).trimEnd());
    return 0;
  }
  if (sub !== 'verify' && sub !== 'export' && sub !== 'trim') throw new AppError('INVALID_REQUEST', AUDIT_USAGE);
  const redis = await connectRedis(config.audit.redis, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    const store = new RedisAuditStore({ redis, prefix: config.redis.prefix, clock: systemClock });
    const sink = new CheckpointFileSink(config.audit.checkpointFile);
    switch (sub) {
      case 'verify':
        return await verify(store, sink, await trustedKey(config, flags.get('pubkey')), config, out, err);
      case 'export':
        return await exportLog(store, config, flags, out, err);
      case 'trim':
        return await trim(store, sink, config, out);
    }
  } finally {
    redis.disconnect();
  }
}

async function verify(store: RedisAuditStore, sink: CheckpointFileSink, key: VerifyKey, config: Config, out: Out, err: Out): Promise<number> {
  const result = await verifyChain({
    store,
    checkpoints: sink,
    trustedKeys: [key],
    segmentsDir: config.audit.segmentsDir,
    clock: systemClock,
    staleAfterRecords: config.audit.staleAfterRecords,
    staleAfterMs: config.audit.staleAfterMs,
  });
  if (result.ok) {
    out(`audit log intact: ${result.records} records checked, last seq ${result.lastSeq}, signed checkpoints through seq ${result.lastCheckpointSeq} (key ${key.keyId})`);
    return 0;
  }
  err(`audit log verification FAILED at seq ${result.seq}: ${result.reason}`);
  err(`  ${result.detail}`);
  err('  see README.md, "Runbook: the audit log", for what to do next');
  return EXIT_VERIFY_FAILED;
}

/** The public key checkpoints must verify with: --pubkey FILE, else the deployment's signing key (never created here). */
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

async function exportLog(store: RedisAuditStore, config: Config, flags: ReadonlyMap<string, string>, out: Out, err: Out): Promise<number> {
  const since = flags.get('since');
  const until = flags.get('until');
  const file = flags.get('out');
  for (const [name, value] of [
    ['since', since],
    ['until', until],
  ] as const) {
    if (value !== undefined && !(/^\d{4}-\d\d-\d\d/.test(value) && Number.isFinite(Date.parse(value)))) {
      throw new AppError('INVALID_REQUEST', `--${name} must be an ISO 8601 time (e.g. 2025-06-01T00:00:00Z)`);
    }
  }
  // never overwrites: the file is created (exclusively) before anything is recorded or read
  const sinkStream = file === undefined ? lineWriter(out) : createWriteStream(file, { flags: 'wx', mode: 0o600 });
  if (file !== undefined) await once(sinkStream, 'open');
  try {
    // reading the log is itself an action: recorded before a single record is read
    await store.append({
      actor: { type: 'system' },
      action: 'audit.export',
      target: null,
      details: { via: 'cli', since: since ?? null, until: until ?? null, out: file ?? 'stdout' },
    });
  } catch (e) {
    sinkStream.destroy();
    if (file !== undefined) await rm(file, { force: true });
    throw e;
  }
  const { records } = await exportRange({
    store,
    segmentsDir: config.audit.segmentsDir,
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    out: sinkStream,
  });
  sinkStream.end();
  await finished(sinkStream);
  err(`exported ${records} records${file === undefined ? '' : ` to ${file}`}`);
  return 0;
}

/** A Writable that hands each JSONL line to `out` (exportRange writes one line per chunk). */
function lineWriter(out: Out): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') out(line);
      done();
    },
  });
}

async function trim(store: RedisAuditStore, sink: CheckpointFileSink, config: Config, out: Out): Promise<number> {
  // segments must be signed by the deployment's key: a missing key is an error, not a new key
  await access(config.audit.signingKeyFile).catch((e: unknown) => {
    throw new AppError('CONFIG_INVALID', `no audit signing key at ${config.audit.signingKeyFile} (it is created when the API starts)`, { cause: e });
  });
  const retention = new Retention({
    store,
    key: await loadOrCreateSigningKey(config.audit.signingKeyFile),
    checkpoints: sink,
    segmentsDir: config.audit.segmentsDir,
    clock: systemClock,
    retentionDays: config.audit.retentionDays,
    segmentMaxRecords: config.audit.segmentMaxRecords,
  });
  const report = await retention.run();
  if (report.segments.length === 0) out(`nothing older than ${config.audit.retentionDays} days; Redis holds records after seq ${report.trimmedThroughSeq}`);
  for (const s of report.segments) out(`wrote ${s.path} (records ${s.firstSeq}..${s.lastSeq}, sha256 ${s.sha256}) and removed them from Redis`);
  return 0;
}
