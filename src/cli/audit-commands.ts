/**
 * `airlock audit verify|pubkey|export|trim`: flags in, text out; the operations are the
 * composition root's (src/root/audit-commands.ts), working while the API is down.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import type { Config } from '../config.js';
import { AppError, auditPublicKey, exportAuditLog, trimAuditLog, verifyAuditLog } from '../root/index.js';

/** Exit code of `audit verify` when the log is not intact (1 = could not run, 2 = usage). */
export const EXIT_VERIFY_FAILED = 3;

export const AUDIT_USAGE = 'usage: airlock audit verify [--pubkey FILE] | pubkey | export [--since ISO] [--until ISO] [--out FILE] | trim';

type Out = (s: string) => void;

export async function auditCommand(sub: string | undefined, flags: ReadonlyMap<string, string>, config: Config, out: Out, err: Out): Promise<number> {
  switch (sub) {
    case 'pubkey':
      out(await auditPublicKey(config));
      return 0;
    case 'verify':
      return verify(config, flags.get('pubkey'), out, err);
    case 'export':
      return exportLog(config, flags, err, out);
    case 'trim':
      return trim(config, out);
    default:
      throw new AppError('INVALID_REQUEST', AUDIT_USAGE);
  }
}

async function verify(config: Config, pubkeyFile: string | undefined, out: Out, err: Out): Promise<number> {
  const { result, keyId } = await verifyAuditLog(config, pubkeyFile);
  if (result.ok) {
    out(`audit log intact: ${result.records} records checked, last seq ${result.lastSeq}, signed checkpoints through seq ${result.lastCheckpointSeq} (key ${keyId})`);
    return 0;
  }
  err(`audit log verification FAILED at seq ${result.seq}: ${result.reason}`);
  err(`  ${result.detail}`);
  err('  see docs/audit.md, "Runbook: the audit log", for what to do next');
  return EXIT_VERIFY_FAILED;
}

async function exportLog(config: Config, flags: ReadonlyMap<string, string>, err: Out, out: Out): Promise<number> {
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
  const sink = file === undefined ? lineWriter(out) : createWriteStream(file, { flags: 'wx', mode: 0o600 });
  if (file !== undefined) await once(sink, 'open');
  const records = await exportAuditLog(config, { since, until, out: sink, file });
  err(`exported ${records} records${file === undefined ? '' : ` to ${file}`}`);
  return 0;
}

/** A Writable that hands each JSONL line to `out` (the export writes one line per chunk). */
function lineWriter(out: Out): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line !== '') out(line);
      done();
    },
  });
}

async function trim(config: Config, out: Out): Promise<number> {
  const report = await trimAuditLog(config);
  if (report.segments.length === 0) out(`nothing older than ${config.audit.retentionDays} days; Redis holds records after seq ${report.trimmedThroughSeq}`);
  for (const s of report.segments) out(`wrote ${s.path} (records ${s.firstSeq}..${s.lastSeq}, sha256 ${s.sha256}) and removed them from Redis`);
  return 0;
}
