/**
 * `airlock` — the operator's command: arguments in, text out. What a command does comes from the
 * composition root (src/root), the configuration from the environment it is given (`io.env`;
 * the process's own when none), so the command runs the same in a test as in a shell.
 */
import { loadConfig, type Config } from '../config.js';
import { AppError, createKey, GROUP_NAME, listKeys, revokeKey, ROLES, runSelftest, serve, type Role } from '../root/index.js';
import { artifactsCommand } from './artifacts-command.js';
import { auditCommand } from './audit-commands.js';
import { capabilitiesCommand } from './capabilities-command.js';
import { credentialsCommand } from './credentials-command.js';
import { anomaliesCommand, keyLimitsCommand, limitsOf } from './limits-commands.js';
import { promotionCommand, reviewCommand, WAIT_EXIT } from './review-commands.js';
import { RUN_EXIT, runCommand, type RunIo } from './run-command.js';
import { mcpCommand } from './mcp-command.js';

export const HELP = `airlock — run untrusted code in single-use, hardened containers

Usage:
  airlock serve                         start the API and a worker (AIRLOCK_ROLE=api|worker for one)
  airlock keys create --role ROLE [--name NAME] [--owner PRINCIPAL] [--profiles a,b] [--tools x,y] [--groups g,h]
                                        create an API key; the key is printed ONCE, on the last line
                                        ROLE: agent (submit, read own jobs) | reviewer | admin | service
                                        --profiles: the only profiles its jobs may use (default: all)
                                        --tools: tools its jobs may be granted (default: none)
                                        --groups: reviewer groups (approval policy) the key belongs to
                                        [--rate N] [--submit-rate N] [--max-inflight N] [--input-bytes-per-day N]
                                        its own limits (requests/min, submissions/min, jobs queued + running,
                                        input bytes/day) over its role's defaults
  airlock keys update KEY_ID [--rate N] [--submit-rate N] [--max-inflight N] [--input-bytes-per-day N]
                                        change a key's own limits
  airlock keys limits KEY_ID            a key's limits as they apply now, and its throttle
  airlock keys unthrottle KEY_ID        lift the throttle an anomaly put on a key
  airlock anomalies [--key KEY_ID] [--limit N] [--json]
                                        the latest anomalous-traffic alerts, newest first (docs/runbook.md)
  airlock keys list                     list keys (ids, roles, owners; never the secrets)
  airlock keys revoke KEY_ID [--kill-running]
                                        revoke a key: it gets 401 from then on, its queued jobs are cancelled and
                                        its running jobs lose their credentials; --kill-running also kills them
  airlock audit verify [--pubkey FILE]  check the whole audit log (hash chain, segments, signed checkpoints);
                                        exit 0 only when intact, 3 with the first bad seq and the reason
  airlock audit pubkey                  print the public key that checkpoints are signed with (publish it)
  airlock audit export [--since ISO] [--until ISO] [--out FILE]
                                        records with since <= time < until as JSON lines (stdout or a new file)
  airlock audit trim                    retention once: move records older than AIRLOCK_AUDIT_RETENTION_DAYS
                                        to signed segment files, then remove them from Redis
  airlock artifacts gc [--delete]      artifact garbage collection: blobs no job record, promotion snapshot or
                                        held audit record names, older than AIRLOCK_ARTIFACTS_GC_MIN_AGE_MS; a dry
                                        run (what would go) unless --delete
  airlock capabilities [--json]         what each profile and key can reach: image digest, limits, network,
                                        seccomp digest, grantable tools with origins/methods/paths, credential lifetime
  airlock credentials rotate            (worker host) sign new job tokens with a fresh key; the old public key
                                        stays in /.well-known/jwks.json until its last token has expired
  airlock review list [--state STATE|all] [--target T] [--json]
                                        promotions (default: pending_review) with approvals, deadline, requester
  airlock review show ID [--json]       what a reviewer decides on: bound digest, requester, command, patch,
                                        stdout/stderr, artifacts, findings, decisions, history, audit (admin key)
  airlock review approve ID --reason TEXT [--digest D]
  airlock review reject ID --reason TEXT [--digest D]
                                        decide with a reviewer key; the reason is mandatory. The decision names
                                        the digest the API shows now, or --digest D: the one you reviewed
  airlock promotion wait ID [--timeout SECONDS] [--interval MS]
                                        poll until the promotion is final (default 600 s, every 1000 ms); state
                                        changes go to stderr, one result line to stdout. Exit ${WAIT_EXIT.promoted} promoted,
                                        ${WAIT_EXIT.rejected} rejected, ${WAIT_EXIT.expired} expired, ${WAIT_EXIT.failed} failed, ${WAIT_EXIT.superseded} superseded, ${WAIT_EXIT.timeout} still pending/approved at the
                                        timeout, ${WAIT_EXIT.error} API error, ${WAIT_EXIT.usage} usage
  airlock run [--dir .] [--patch FILE|-] (--profile P | --runtime R) [--outputs GLOB]... [--env K=V]...
              [--timeout-ms N] [--junit FILE] [--report FILE] [--artifacts DIR] [--json] [--quiet] [--prefix]
              [--include GLOB]... [--promote TARGET [--note TEXT] [--wait-review SECONDS]] -- COMMAND [ARGS...]
                                        the CI step: run COMMAND on the directory (what git tracks) with the patch
                                        applied, in a sandbox of a running Airlock; output streams live. Exit: the
                                        program's code (0 passed; failed: its code, 1 if in 80-89), ${RUN_EXIT.usage} usage, ${RUN_EXIT.apiRefused} API refused,
                                        ${RUN_EXIT.apiUnavailable} API unavailable, ${RUN_EXIT.error} error, ${RUN_EXIT.timeout} timeout, ${RUN_EXIT.oom} oom, ${RUN_EXIT.output_limit} output_limit, ${RUN_EXIT.policy_violation} policy_violation,
                                        ${RUN_EXIT.patch_failed} patch_failed, ${RUN_EXIT.killed} killed/cancelled (docs/ci-step.md)
  airlock mcp [--url URL] [--key KEY]   the MCP server on stdin/stdout for a local agent: run_code, run_patch, get_job,
                                        cancel_job, list_profiles, get_capabilities, request_promotion, get_promotion
                                        over a running API (docs/mcp.md)
  airlock selftest                      red-team and compatibility checks against the live engine, images and
                                        profiles; prints a table, exits non-zero on any failure
  airlock help                          this text

Configuration comes from AIRLOCK_* environment variables (see docs/configuration.md).
run, review, promotion and mcp are clients of a running API: AIRLOCK_URL (default http://127.0.0.1:$AIRLOCK_PORT)
and AIRLOCK_KEY (an API key), or --url URL and --key KEY.
Examples:
  npx airlock keys create --role agent --name ci-bot
  AIRLOCK_KEY=ak_… npx airlock review approve prm_… --reason 'read the diff; tests pass'
  npx airlock audit export --since 2025-06-01T00:00:00Z --until 2025-06-02T00:00:00Z --out day.jsonl
  AIRLOCK_KEY=ak_… curl -s -X POST 'http://127.0.0.1:8080/v1/jobs?wait=30' \\
    -H "Authorization: Bearer $AIRLOCK_KEY" -H 'content-type: application/json' \\
    -d '{"runtime":"python","files":[{"path":"main.py","content":"print(42)"}]}'
`;

/** Parses `--flag value` pairs and positionals. */
export function parseArgs(argv: readonly string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq !== -1) flags.set(a.slice(2, eq), a.slice(eq + 1));
      else {
        const next = argv[i + 1];
        if (next !== undefined && !next.startsWith('--')) {
          flags.set(a.slice(2), next);
          i++;
        } else flags.set(a.slice(2), 'true');
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

export interface CliIo {
  /** One line of the command's output (stdout by default). */
  readonly out?: (line: string) => void;
  /** One line of diagnostics (stderr by default). */
  readonly err?: (line: string) => void;
  /** The AIRLOCK_* variables to run with; absent: the process's environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `airlock run`: the program's raw output as it arrives (default: this process's stdout/stderr). */
  readonly write?: RunIo['write'];
  /** `airlock run --patch -`: the patch (default: this process's stdin). */
  readonly stdin?: RunIo['stdin'];
}

export async function run(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const out = io.out ?? ((s: string) => void process.stdout.write(`${s}\n`));
  const err = io.err ?? ((s: string) => void process.stderr.write(`${s}\n`));
  const config = (): Config => loadConfig(io.env);
  const { positional, flags } = parseArgs(argv);
  const [cmd, sub, arg] = positional;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
        out(HELP);
        return cmd === undefined && !flags.has('help') ? 2 : 0;
      case 'serve':
        await serve(config(), out);
        return 0;
      case 'keys':
        return await keys(sub, arg, flags, config(), out);
      case 'audit':
        return await auditCommand(sub, flags, config(), out, err);
      case 'anomalies':
        return await anomaliesCommand(flags, config(), out);
      case 'artifacts':
        return await artifactsCommand(sub, flags, config(), out);
      case 'capabilities':
        return await capabilitiesCommand(config(), flags.has('json'), out);
      case 'credentials':
        return await credentialsCommand(sub, config(), out);
      case 'selftest':
        return await runSelftest(config(), out);
      case 'review':
        return await reviewCommand(sub, positional.slice(2), flags, config(), out, err);
      case 'promotion':
        return await promotionCommand(sub, positional.slice(2), flags, config(), out, err);
      case 'mcp':
        return await mcpCommand(flags, config(), err);
      case 'run':
        return await runCommand(argv.slice(1), config, {
          out,
          err,
          ...(io.write !== undefined ? { write: io.write } : {}),
          ...(io.stdin !== undefined ? { stdin: io.stdin } : {}),
        });
      default:
        err(`airlock: unknown command ${cmd}\n\n${HELP}`);
        return 2;
    }
  } catch (e) {
    err(`airlock: ${e instanceof AppError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

/** `airlock keys create|list|revoke`: the same services as POST, GET and DELETE /v1/keys, each mutation recorded (actor system, via cli). */
async function keys(sub: string | undefined, arg: string | undefined, flags: ReadonlyMap<string, string>, config: Config, out: (s: string) => void): Promise<number> {
  switch (sub) {
    case 'create': {
      const created = await createKey(config, newKeyOf(flags), limitsOf(flags));
      out(`created ${created.id} (role ${created.role}, owner ${created.owner}${created.groups.length > 0 ? `, groups ${created.groups.join(',')}` : ''}). The key is shown once:`);
      out(created.key);
      return 0;
    }
    case 'list': {
      out(['ID'.padEnd(22), 'ROLE'.padEnd(9), 'OWNER'.padEnd(22), 'GROUPS'.padEnd(20), 'CREATED'.padEnd(25), 'STATE  ', 'NAME'].join(' '));
      for (const k of await listKeys(config)) {
        const state = (k.revokedAt ? 'revoked' : 'active').padEnd(7);
        out([k.id.padEnd(22), k.role.padEnd(9), k.owner.padEnd(22), (k.groups.join(',') || '-').padEnd(20), k.createdAt.padEnd(25), state, k.name].join(' '));
      }
      return 0;
    }
    case 'revoke': {
      if (arg === undefined) throw new AppError('INVALID_REQUEST', 'usage: airlock keys revoke KEY_ID [--kill-running]');
      const r = await revokeKey(config, arg, flags.has('kill-running'));
      out(`revoked ${r.key.id} at ${r.key.revokedAt ?? ''}`);
      out(`jobs: ${r.cancelled.length} queued cancelled, ${r.killing.length} running killed, ${r.running.length} running left to finish (without credentials)`);
      for (const jobId of r.cancelled) out(`  cancelled ${jobId}`);
      for (const jobId of r.killing) out(`  killing ${jobId}`);
      for (const jobId of r.running) out(`  running ${jobId}`);
      return 0;
    }
    case 'update':
    case 'limits':
    case 'unthrottle':
      return keyLimitsCommand(sub, arg, flags, config, out);
    default:
      throw new AppError('INVALID_REQUEST', 'usage: airlock keys create|list|revoke|update|limits|unthrottle');
  }
}

/** `--role ROLE [--name] [--owner] [--profiles a,b] [--tools x,y] [--groups g,h]`, checked before anything is opened. */
function newKeyOf(flags: ReadonlyMap<string, string>): { role: Role; name?: string; owner?: string; profiles?: string[]; tools?: string[]; groups?: string[] } {
  const role = flags.get('role');
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) throw new AppError('INVALID_REQUEST', `--role must be one of ${ROLES.join(', ')}`);
  const list = (flag: string) =>
    flags
      .get(flag)
      ?.split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
  const groups = list('groups');
  const badGroup = groups?.find((g) => !GROUP_NAME.test(g));
  if (badGroup !== undefined) throw new AppError('INVALID_REQUEST', `--groups: ${JSON.stringify(badGroup)} is not a group name ([a-z][a-z0-9_-]{0,63})`);
  const name = flags.get('name');
  const owner = flags.get('owner');
  const profiles = list('profiles');
  const tools = list('tools');
  return {
    role: role as Role,
    ...(name !== undefined ? { name } : {}),
    ...(owner !== undefined ? { owner } : {}),
    ...(profiles !== undefined ? { profiles } : {}),
    ...(tools !== undefined ? { tools } : {}),
    ...(groups !== undefined ? { groups } : {}),
  };
}
