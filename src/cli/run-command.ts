/**
 * `airlock run`: the CI step. Packs a directory (pack-tree.ts), sends it with a patch and a command
 * to a running Airlock, streams the job's output live (GET /v1/jobs/:id/events), prints one summary
 * line, writes what a pipeline keeps (run-outputs.ts) and exits with a code that tells "the tests
 * failed" (the program's own code) from "the sandbox refused" and from "Airlock is down" (RUN_EXIT).
 * The key is never printed.
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { Config } from '../config.js';
import { Airlock, AirlockApiError, ApiUnreachableError, isFinalJobState, type JobRequest, type JobView, type PromotionView } from '../client/index.js';
import { AppError } from '../root/index.js';
import { packTree } from './pack-tree.js';
import { waitForPromotion } from './review-commands.js';
import { downloadArtifacts, junitOf, junitXmlProblem, ownJunitOf, reportOf } from './run-outputs.js';
import { printable, shellJoin } from './terminal-text.js';

/**
 * Exit codes of `airlock run` (docs/ci-step.md). A job that ran exits with its program's code
 * (0 succeeded; failed: 1-255), except that a program's code in 80-89 becomes 1, so these stay
 * Airlock's own. With --promote and --wait-review, a succeeded job exits with `promotion wait`'s code.
 */
export const RUN_EXIT = {
  succeeded: 0,
  /** failed, when the program's own code is in Airlock's range */
  failedInRange: 1,
  usage: 80,
  /** the API refused the request (4xx: bad input, key, profile, caps) */
  apiRefused: 81,
  /** the API could not be reached or is unavailable (no answer, 5xx, 503/429 after retries) */
  apiUnavailable: 82,
  /** the job ended `error`: Airlock's infrastructure failed it after retries */
  error: 83,
  timeout: 84,
  oom: 85,
  output_limit: 86,
  policy_violation: 87,
  patch_failed: 88,
  /** killed or cancelled */
  killed: 89,
} as const;

export const RUN_USAGE = `usage: airlock run [--dir DIR] [--include GLOB]... [--patch FILE|-] [--profile P | --runtime R] [--outputs GLOB]... [--env K=V]...
                  [--timeout-ms N] [--junit FILE] [--report FILE] [--artifacts DIR] [--json] [--quiet] [--prefix]
                  [--promote TARGET [--note TEXT] [--wait-review SECONDS]] [--url URL] [--key KEY] -- COMMAND [ARGS...]`;

type Out = (s: string) => void;

export interface RunIo {
  readonly out: Out;
  readonly err: Out;
  /** Raw program output as it arrives (default: the process's stdout/stderr). */
  readonly write?: (stream: 'stdout' | 'stderr', data: Uint8Array) => void;
  /** The patch on stdin (`--patch -`). */
  readonly stdin?: () => Promise<string>;
}

interface RunArgs {
  dir: string;
  include: string[];
  patch?: string;
  profile?: string;
  runtime?: string;
  outputs: string[];
  env: Record<string, string>;
  timeoutMs?: number;
  junit?: string;
  report?: string;
  artifacts?: string;
  json: boolean;
  quiet: boolean;
  prefix: boolean;
  promote?: string;
  note?: string;
  waitReviewS?: number;
  url?: string;
  key?: string;
  command: string[];
}

const VALUE_FLAGS = new Set([
  'dir',
  'include',
  'patch',
  'profile',
  'runtime',
  'outputs',
  'env',
  'timeout-ms',
  'junit',
  'report',
  'artifacts',
  'promote',
  'note',
  'wait-review',
  'url',
  'key',
]);
const BOOLEAN_FLAGS = new Set(['json', 'quiet', 'prefix']);

class UsageError extends Error {}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const a: RunArgs = { dir: '.', include: [], outputs: [], env: {}, json: false, quiet: false, prefix: false, command: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      a.command = argv.slice(i + 1);
      break;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected ${JSON.stringify(arg)}: put the command after --`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if (BOOLEAN_FLAGS.has(name)) {
      (a as unknown as Record<string, boolean>)[name] = true;
      continue;
    }
    if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    switch (name) {
      case 'include':
        a.include.push(value);
        break;
      case 'outputs':
        a.outputs.push(value);
        break;
      case 'env': {
        const at = value.indexOf('=');
        if (at <= 0) throw new UsageError(`--env ${JSON.stringify(value)}: expected NAME=VALUE`);
        a.env[value.slice(0, at)] = value.slice(at + 1);
        break;
      }
      case 'timeout-ms':
        a.timeoutMs = positiveInt(name, value);
        break;
      case 'wait-review':
        a.waitReviewS = positiveInt(name, value);
        break;
      case 'dir':
        a.dir = value;
        break;
      default:
        (a as unknown as Record<string, string>)[name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())] = value;
    }
  }
  if (a.profile !== undefined && a.runtime !== undefined) throw new UsageError('give --profile or --runtime, not both');
  if (a.profile === undefined && a.runtime === undefined) throw new UsageError('--profile P or --runtime python|node|shell is required');
  if (a.note !== undefined && a.promote === undefined) throw new UsageError('--note goes with --promote');
  if (a.waitReviewS !== undefined && a.promote === undefined) throw new UsageError('--wait-review goes with --promote');
  return a;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive whole number, got ${JSON.stringify(value)}`);
  return n;
}

export async function runCommand(argv: readonly string[], config: () => Config, io: RunIo): Promise<number> {
  let args: RunArgs;
  try {
    args = parseRunArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`airlock run: ${e.message}`);
    io.err(RUN_USAGE);
    return RUN_EXIT.usage;
  }
  try {
    return await runJob(args, config, io);
  } catch (e) {
    return failure(e, io.err);
  }
}

/** An error before or around the job: which kind decides the exit code. */
function failure(e: unknown, err: Out): number {
  if (e instanceof ApiUnreachableError || (e instanceof AirlockApiError && (e.status >= 500 || e.status === 429))) {
    err(`airlock run: Airlock is unavailable: ${e.message}`);
    return RUN_EXIT.apiUnavailable;
  }
  if (e instanceof AirlockApiError && e.status !== 0) {
    const cap = typeof e.details?.['cap'] === 'string' ? ` (cap ${e.details['cap']}; narrow the tree with --dir, or leave large files out)` : '';
    err(
      `airlock run: the API refused the job: ${e.code}: ${e.message}${e.code === 'BODY_TOO_LARGE' ? ' (the packed tree is over the API body limit; narrow it with --dir)' : cap}`,
    );
    return RUN_EXIT.apiRefused;
  }
  if (e instanceof AppError) {
    // refused here, before anything was sent (the tree, a file, the key)
    err(`airlock run: ${e.code}: ${e.message}`);
    return RUN_EXIT.usage;
  }
  err(`airlock run: ${e instanceof Error ? e.message : String(e)}`);
  return RUN_EXIT.usage;
}

async function runJob(args: RunArgs, config: () => Config, io: RunIo): Promise<number> {
  const c = args.url === undefined || args.key === undefined ? config().client : undefined;
  const url = args.url ?? c?.url ?? '';
  const key = args.key ?? c?.key;
  if (key === undefined || key.trim() === '') throw new AppError('UNAUTHORIZED', 'no API key: set AIRLOCK_KEY or pass --key KEY (an agent key)');
  const api = new Airlock({ url, key, onRetry: (r) => io.err(`airlock run: ${r.error.code} (HTTP ${r.error.status}); retrying in ${Math.round(r.delayMs / 100) / 10} s`) });

  const patch = args.patch === undefined ? undefined : args.patch === '-' ? await (io.stdin ?? readStdin)() : await readFile(args.patch, 'utf8');
  const tree = await packTree(args.dir, args.include);
  const request: JobRequest = {
    ...(args.profile !== undefined ? { profile: args.profile } : { runtime: args.runtime as JobRequest['runtime'] }),
    archive: tree.archive,
    ...(args.command.length > 0 ? { command: args.command } : {}),
    ...(patch !== undefined ? { patch } : {}),
    ...(args.outputs.length > 0 ? { outputs: args.outputs } : {}),
    ...(Object.keys(args.env).length > 0 ? { env: args.env } : {}),
    ...(args.timeoutMs !== undefined ? { timeoutMs: args.timeoutMs } : {}),
  };
  const submitted = await api.submitJob(request);
  io.err(
    `airlock run: job ${submitted.id} queued (${tree.files} files from ${tree.source === 'git' ? 'git' : 'the directory'}, profile ${submitted.profile}${patch !== undefined ? ', with a patch' : ''})`,
  );

  const job = await follow(api, submitted.id, args, io);
  const name = args.command.length > 0 ? shellJoin(args.command) : `${submitted.profile} default command`;
  const junit = args.junit !== undefined ? await writeJunit(api, job, name, args.junit, io.err) : undefined;
  if (args.artifacts !== undefined && (job.artifacts?.length ?? 0) > 0) {
    const written = await downloadArtifacts(api, job, args.artifacts);
    io.err(`airlock run: ${written.length} artifact(s) written to ${args.artifacts} (sha256 checked)`);
  }

  let exit = exitOf(job);
  let promotion: PromotionView | undefined;
  if (args.promote !== undefined && job.status === 'succeeded') {
    promotion = await api.requestPromotion(job.id, { target: args.promote, ...(args.note !== undefined ? { note: args.note } : {}) });
    io.err(`airlock run: promotion ${promotion.id} to ${promotion.target}: ${promotion.state} (risk ${promotion.risk})`);
    if (args.waitReviewS !== undefined) {
      const waited = await waitForPromotion(api, promotion.id, { timeoutMs: args.waitReviewS * 1000, intervalMs: 1000 }, io.err, io.err);
      exit = waited.exit;
      promotion = waited.promotion ?? promotion;
    }
  }
  const report = reportOf(job, { command: args.command, url: api.url, promotion, junit });
  if (args.report !== undefined) await writeFile(args.report, `${JSON.stringify(report, null, 2)}\n`);
  if (args.json) io.out(JSON.stringify(report, null, 2));
  // the patch tool's own words: which file and hunk did not apply
  if (job.status === 'patch_failed') for (const line of (job.patchMessage ?? '').trimEnd().split('\n')) io.err(`patch: ${printable(line)}`);
  io.err(summaryLine(job, promotion));
  return exit;
}

/** The job's events to the terminal as they come, until it ends; if the stream cannot be had, long-polling instead. */
async function follow(api: Airlock, id: string, args: RunArgs, io: RunIo): Promise<JobView> {
  const write = io.write ?? ((stream, data) => void (stream === 'stdout' ? process.stdout : process.stderr).write(data));
  const show = !args.quiet && !args.json;
  const partial = { stdout: '', stderr: '' };
  let attempt = 1;
  // a last line without its newline, shown once the stream ends
  const flushPartial = (): void => {
    for (const s of ['stdout', 'stderr'] as const) if (partial[s] !== '') write(s, Buffer.from(`[${s}] ${partial[s]}\n`));
    partial.stdout = partial.stderr = '';
  };
  try {
    for await (const e of api.jobEvents(id)) {
      if (e.type === 'finished') {
        flushPartial();
        return e.job;
      }
      if (e.type === 'state' && e.status === 'running') {
        if ((e.attempt ?? 1) > attempt) io.err(`airlock run: the job is run again (attempt ${e.attempt ?? 1}); its output starts over`);
        attempt = e.attempt ?? attempt;
      }
      if (e.type !== 'output' || !show) continue;
      if (!args.prefix) write(e.stream, e.data);
      else {
        // whole lines, each marked with its stream
        const text = partial[e.stream] + Buffer.from(e.data).toString('utf8');
        const lines = text.split('\n');
        partial[e.stream] = lines.pop() ?? '';
        for (const line of lines) write(e.stream, Buffer.from(`[${e.stream}] ${line}\n`));
      }
    }
  } catch (e) {
    if (!(e instanceof ApiUnreachableError)) throw e;
    io.err(`airlock run: the live output was lost (${e.message}); waiting for the result`);
  }
  flushPartial();
  const job = await api.waitForJob(id, { timeoutMs: 24 * 3600_000 });
  if (!isFinalJobState(job.status)) throw new AppError('INTERNAL', `job ${id} did not end`);
  return job;
}

export function exitOf(job: JobView): number {
  switch (job.status) {
    case 'succeeded':
      return RUN_EXIT.succeeded;
    case 'failed': {
      const code = job.exitCode ?? 1;
      return code >= 80 && code <= 89 ? RUN_EXIT.failedInRange : code === 0 ? 1 : code;
    }
    case 'timeout':
    case 'oom':
    case 'output_limit':
    case 'policy_violation':
    case 'patch_failed':
    case 'error':
      return RUN_EXIT[job.status];
    case 'killed':
    case 'cancelled':
      return RUN_EXIT.killed;
    case 'queued':
    case 'running':
      return RUN_EXIT.apiUnavailable;
  }
}

function summaryLine(job: JobView, promotion: PromotionView | undefined): string {
  const secs = job.durationMs !== undefined ? ` in ${(job.durationMs / 1000).toFixed(1)} s` : '';
  const exit = job.exitCode !== undefined && job.exitCode !== null ? ` (exit ${job.exitCode})` : '';
  const findings = job.findings ?? [];
  const worst = findings.map((f) => f.severity).find((s) => s === 'high') ?? findings[0]?.severity;
  const found = findings.length > 0 ? `; ${findings.length} finding(s)${worst !== undefined ? `, worst ${worst}` : ''}: ${findings.map((f) => f.kind).join(', ')}` : '';
  const truncated = job.stdoutTruncated === true || job.stderrTruncated === true ? '; output truncated' : '';
  const prom = promotion !== undefined ? `; promotion ${promotion.id} ${promotion.state}` : '';
  const why = job.status === 'patch_failed' ? ': the patch did not apply; the command did not run' : job.error !== undefined ? `: ${job.error.code}: ${job.error.message}` : '';
  return `airlock run: job ${job.id} ${job.status}${exit}${secs}${why}${truncated}${found}${prom}`;
}

async function writeJunit(api: Airlock, job: JobView, name: string, file: string, err: Out): Promise<string> {
  const own = ownJunitOf(job.artifacts ?? []);
  if (own !== undefined) {
    const text = (await api.getArtifact(job.id, own.path)).bytes.toString('utf8');
    const problem = junitXmlProblem(text);
    if (problem === undefined) {
      await writeFile(file, text);
      err(`airlock run: JUnit: the command's own ${own.path} written to ${file}`);
      return own.path;
    }
    err(`airlock run: JUnit: ${own.path} is not a JUnit XML (${problem}); writing Airlock's own`);
  }
  await writeFile(file, junitOf(job, name));
  return 'airlock';
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
