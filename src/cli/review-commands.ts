/**
 * `airlock review list|show|approve|reject` and `airlock promotion wait`: the human's and the
 * pipeline's side of promotion to staging. HTTP clients of the running API (AIRLOCK_URL,
 * AIRLOCK_KEY, or --url/--key); the API decides everything, these only show and ask.
 *
 * Everything shown comes from untrusted code or people (job output, the patch, notes,
 * reasons, paths): control characters are made visible and job output is fenced with a
 * gutter, so nothing in it can rewrite the terminal or pass for this command's own text.
 */
import type { Config } from '../config.js';
import { FINAL_STATES, PROMOTION_STATES, type Promotion, type PromotionState } from '../review/index.js';
import { AppError } from '../shared/index.js';
import { apiClient, type ApiClient } from './api-client.js';

type Out = (s: string) => void;
type Flags = ReadonlyMap<string, string>;

/** Exit codes of `airlock promotion wait` (README and tests use these). */
export const WAIT_EXIT = {
  promoted: 0,
  error: 1,
  usage: 2,
  rejected: 3,
  expired: 4,
  failed: 5,
  superseded: 6,
  timeout: 7,
} as const;

/** Usage errors exit 2 (API errors 1). */
export const EXIT_USAGE = 2;

export const REVIEW_USAGE = [
  'usage: airlock review list [--state STATE|all] [--target T] [--job JOB_ID] [--limit N] [--json]',
  '       airlock review show PROMOTION_ID [--json]',
  '       airlock review approve PROMOTION_ID --reason TEXT [--digest DIGEST]',
  '       airlock review reject PROMOTION_ID --reason TEXT [--digest DIGEST]',
  '       (--url URL and --key KEY override AIRLOCK_URL and AIRLOCK_KEY)',
].join('\n');

export const PROMOTION_USAGE = 'usage: airlock promotion wait PROMOTION_ID [--timeout SECONDS (default 600)] [--interval MS (default 1000)]';

/** Lines of stdout/stderr shown per stream by `review show`. */
const EXCERPT_LINES = 40;
/** A longer line is cut (job output can be one huge line). */
const MAX_LINE_CHARS = 1000;
const AUDIT_PAGE = 500;

/** What GET /v1/promotions lists for each promotion. */
export interface PromotionSummary {
  readonly id: string;
  readonly state: PromotionState;
  readonly jobId: string;
  readonly target: string;
  readonly artifactDigest: string;
  readonly risk: string;
  readonly requester: { readonly keyId: string; readonly principal: string };
  readonly approvals: number;
  readonly approvalsNeeded: number;
  readonly createdAt: string;
  readonly deadlineAt: string;
  readonly escalatedAt: string | null;
  readonly updatedAt: string;
  readonly url: string;
}

/** GET /v1/promotions/:id */
export type PromotionView = Promotion & { readonly url: string };

/** The fields of an audit record this command prints (GET /v1/audit). */
interface AuditRecordView {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly actor: { readonly type: string; readonly keyId?: string; readonly role?: string; readonly workerId?: string };
  readonly outcome?: { readonly status?: number; readonly result?: string; readonly error?: string };
  readonly details?: Readonly<Record<string, unknown>>;
}

export async function reviewCommand(sub: string | undefined, args: readonly string[], flags: Flags, config: Config, out: Out, err: Out): Promise<number> {
  const positional = [...args];
  const json = booleanFlag(flags, 'json', positional);
  switch (sub) {
    case 'list':
      return await list(client(config, flags), flags, json, out);
    case 'show': {
      const id = positional[0];
      if (id === undefined) return usage(err, 'review show needs a PROMOTION_ID', REVIEW_USAGE);
      return await show(client(config, flags), id, json, out);
    }
    case 'approve':
    case 'reject': {
      const id = positional[0];
      if (id === undefined) return usage(err, `review ${sub} needs a PROMOTION_ID`, REVIEW_USAGE);
      const reason = flags.get('reason');
      // a bare `--reason` parses as "true"
      if (reason === undefined || reason === 'true' || reason.trim() === '')
        return usage(err, `review ${sub} needs --reason TEXT: every decision is recorded with its reason`, REVIEW_USAGE);
      const digest = flags.get('digest');
      if (digest === 'true' || digest?.trim() === '') return usage(err, '--digest needs the DIGEST you reviewed (as shown by `airlock review show`)', REVIEW_USAGE);
      return await decide(client(config, flags), sub, id, reason, digest, out);
    }
    default:
      return usage(err, sub === undefined ? 'review needs a subcommand' : `unknown review subcommand ${sub}`, REVIEW_USAGE);
  }
}

export async function promotionCommand(sub: string | undefined, args: readonly string[], flags: Flags, config: Config, out: Out, err: Out): Promise<number> {
  if (sub !== 'wait') return usage(err, sub === undefined ? 'promotion needs a subcommand' : `unknown promotion subcommand ${sub}`, PROMOTION_USAGE);
  const id = args[0];
  if (id === undefined) return usage(err, 'promotion wait needs a PROMOTION_ID', PROMOTION_USAGE);
  const timeoutS = numberFlag(flags, 'timeout', 600);
  const intervalMs = numberFlag(flags, 'interval', 1000);
  if (timeoutS === undefined || timeoutS < 0) return usage(err, '--timeout must be a number of seconds >= 0', PROMOTION_USAGE);
  if (intervalMs === undefined || intervalMs < 50) return usage(err, '--interval must be a number of milliseconds >= 50', PROMOTION_USAGE);
  return await wait(client(config, flags), id, { timeoutMs: timeoutS * 1000, intervalMs }, out, err);
}

// ---------------------------------------------------------------------------------------------
// review list

async function list(api: ApiClient, flags: Flags, json: boolean, out: Out): Promise<number> {
  const state = flags.get('state') ?? 'pending_review';
  if (state !== 'all' && !(PROMOTION_STATES as readonly string[]).includes(state)) {
    throw new AppError('INVALID_REQUEST', `--state must be all or one of ${PROMOTION_STATES.join(', ')}`);
  }
  const query = new URLSearchParams();
  if (state !== 'all') query.set('state', state);
  for (const [flag, param] of [
    ['target', 'target'],
    ['job', 'jobId'],
    ['limit', 'limit'],
  ] as const) {
    const v = flags.get(flag);
    if (v !== undefined) query.set(param, v);
  }
  const qs = query.toString();
  const { promotions } = await api.get<{ promotions: PromotionSummary[] }>(`/v1/promotions${qs === '' ? '' : `?${qs}`}`);
  if (json) {
    out(JSON.stringify(promotions, null, 2));
    return 0;
  }
  if (promotions.length === 0) {
    out(`no promotions${state === 'all' ? '' : ` in state ${state}`}`);
    return 0;
  }
  const rows = promotions.map((p) => [
    p.id,
    p.state,
    p.target,
    p.jobId,
    p.risk,
    `${p.approvals}/${p.approvalsNeeded}`,
    `${p.deadlineAt}${p.escalatedAt !== null ? ' (escalated)' : ''}`,
    p.requester.principal,
  ]);
  for (const line of table(['ID', 'STATE', 'TARGET', 'JOB', 'RISK', 'APPROVALS', 'DEADLINE', 'REQUESTER'], rows)) out(line);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// review show

async function show(api: ApiClient, id: string, json: boolean, out: Out): Promise<number> {
  const p = await api.get<PromotionView>(promotionPath(id));
  if (json) {
    out(JSON.stringify(p, null, 2));
    return 0;
  }
  const s = p.snapshot;
  const section = (title: string) => {
    out('');
    out(`== ${title}`);
  };
  const field = (name: string, value: string) => out(`  ${`${name}:`.padEnd(16)} ${printable(value)}`);

  out(`Promotion ${printable(p.id)}: ${p.state}`);
  field('target', `${p.target} (${p.targetType})`);
  field('job', `${p.jobId} (${s.status}, profile ${s.profile})`);
  field('requested by', `${p.requester.principal} (key ${p.requester.keyId}) at ${p.createdAt}`);
  if (p.submitter.principal !== p.requester.principal || p.submitter.keyId !== p.requester.keyId) field('submitted by', `${p.submitter.principal} (key ${p.submitter.keyId})`);
  field('note', p.note === '' ? '(none)' : p.note);
  field('lineage', p.lineage);
  field('deadline', p.deadlineAt);
  if (p.escalateAt !== null || p.escalatedAt !== null)
    field('escalation', `${p.escalatedAt !== null ? `escalated at ${p.escalatedAt}` : `at ${p.escalateAt ?? '?'}`} to group ${p.escalationGroup ?? '?'}`);
  if (p.outcome !== null) field('promoted to', p.outcome.location);
  if (p.failure !== null) field('failure', p.failure);

  section('What is approved');
  field('digest', `${p.artifactDigest} (${p.artifactKind})`);
  field('code digest', p.codeDigest);
  field('profile digest', p.profileDigest);
  field('image', s.imageDigest);
  field('seccomp', s.seccompDigest);
  field('policy', `version ${p.policy.version} (digest ${p.policy.digest})`);

  section('Requirement');
  const approvals = p.decisions.filter((d) => d.decision === 'approve').length;
  field('approvals', `${approvals}/${p.requirement.approvals} (distinct principals)`);
  field('groups', p.requirement.groups.length > 0 ? p.requirement.groups.join(', ') : '(none)');
  field('required group', p.requirement.requireGroup ?? '(none)');
  field('basis', p.requirement.basis);

  section(`Risk: ${p.risk}`);
  if (p.findings.length === 0) out('  no findings');
  for (const f of p.findings) out(`  [${f.severity}] ${printable(f.kind)}: ${printable(f.message)}`);

  section('Command');
  out(`  $ ${printable(shellJoin(s.argv))}`);
  field('exit code', `${s.exitCode ?? '(none)'} after ${s.durationMs} ms`);
  field('files', s.files.length === 0 ? '(none)' : s.files.map((f) => `${f.path} (${f.bytes} B)`).join(', '));

  if (s.patchSha256 !== null) {
    section(`Patch (sha256 ${s.patchSha256})`);
    try {
      for (const line of splitLines(await api.getText(`${promotionPath(id)}/patch`))) out(`  | ${printable(line)}`);
    } catch (e) {
      if (!(e instanceof AppError && e.code === 'ARTIFACT_NOT_FOUND')) throw e;
      out(`  (patch not available: ${printable(e.message)})`);
    }
  }

  for (const [name, text, encoding, bytes, truncated] of [
    ['stdout', s.stdoutExcerpt, s.stdoutEncoding, s.stdoutBytes, s.stdoutTruncated],
    ['stderr', s.stderrExcerpt, s.stderrEncoding, s.stderrBytes, s.stderrTruncated],
  ] as const) {
    // snapshots taken before byte counts were recorded have none
    section(`${name} (excerpt${typeof bytes === 'number' ? ` of ${bytes} bytes${truncated ? ', cut at the output limit when it ran' : ''}` : ''})`);
    for (const line of excerpt(text, encoding, id)) out(line);
  }

  section(`Artifacts (${s.artifacts.length})`);
  if (s.artifacts.length === 0) out('  none');
  else
    for (const line of table(
      ['PATH', 'BYTES', 'SHA256'],
      s.artifacts.map((a) => [a.path, String(a.bytes), a.sha256]),
    ))
      out(`  ${line}`);

  section(`Decisions (${p.decisions.length})`);
  if (p.decisions.length === 0) out('  none yet');
  for (const d of p.decisions) {
    const bound = d.artifactDigest === p.artifactDigest ? '' : ` (on digest ${d.artifactDigest})`;
    out(`  ${d.at}  ${printable(d.principal)} (key ${d.keyId}${d.groups.length > 0 ? `, groups ${d.groups.join(',')}` : ''}) ${d.decision}${bound}: ${printable(d.reason)}`);
  }

  section('History');
  for (const h of p.history) out(`  ${historyLine(h)}`);

  section('Audit trail');
  for (const line of await auditTrail(api, p.id)) out(line);
  return 0;
}

function historyLine(h: Promotion['history'][number]): string {
  const who = 'system' in h.actor ? `system:${h.actor.system}` : `${h.actor.principal} (key ${h.actor.keyId})`;
  return `#${h.n} ${h.at}  ${h.from ?? '(new)'} -> ${h.to}  by ${printable(who)}: ${printable(h.reason)}`;
}

/** The promotion's audit records (anyone who may see the promotion may read them). */
async function auditTrail(api: ApiClient, promotionId: string): Promise<string[]> {
  let page: { records: AuditRecordView[]; nextCursor: string | null };
  try {
    page = await api.get(`/v1/promotions/${encodeURIComponent(promotionId)}/audit?limit=${AUDIT_PAGE}`);
  } catch (e) {
    if (!(e instanceof AppError)) throw e;
    return [`  audit trail unavailable (${e.code}: ${printable(e.message)}); the history above is the promotion's own record of each change`];
  }
  const lines = page.records.map((r) => `  #${r.seq} ${r.time}  ${r.action}  ${actorText(r.actor)}${outcomeText(r.outcome)}${detailsText(r.details)}`);
  if (lines.length === 0) lines.push('  no records');
  if (page.nextCursor !== null) lines.push(`  … more: GET /v1/promotions/${promotionId}/audit?cursor=${page.nextCursor}`);
  return lines;
}

function actorText(a: AuditRecordView['actor']): string {
  if (a.type === 'key') return `${a.keyId ?? '?'} (${a.role ?? '?'})`;
  if (a.type === 'worker') return `worker:${a.workerId ?? '?'}`;
  return a.type;
}

function outcomeText(o: AuditRecordView['outcome']): string {
  if (o === undefined) return '';
  const parts = [o.status !== undefined ? String(o.status) : undefined, o.result, o.error].filter((x): x is string => x !== undefined);
  return parts.length === 0 ? '' : `  -> ${printable(parts.join(' '))}`;
}

function detailsText(d: AuditRecordView['details']): string {
  if (d === undefined) return '';
  const parts = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  const text = parts.join(' ');
  return text === '' ? '' : `  ${printable(text.length > 300 ? `${text.slice(0, 300)}…` : text)}`;
}

/** stdout/stderr as shown: decoded, fenced, at most EXCERPT_LINES lines. */
function excerpt(text: string, encoding: 'utf8' | 'base64', id: string): string[] {
  if (text === '') return ['  (empty)'];
  let decoded = text;
  if (encoding === 'base64') {
    const bytes = Buffer.from(text, 'base64');
    if (bytes.includes(0)) return [`  (binary, ${bytes.length} bytes in the excerpt; \`airlock review show ${id} --json\` has it as base64)`];
    decoded = bytes.toString('utf8');
  }
  const lines = splitLines(decoded);
  const shown = lines.slice(0, EXCERPT_LINES).map((l) => `  | ${printable(l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}… (line cut)` : l)}`);
  if (lines.length > EXCERPT_LINES) shown.push(`  … ${lines.length - EXCERPT_LINES} more lines not shown (\`airlock review show ${id} --json\` has the whole excerpt)`);
  return shown;
}

function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

// ---------------------------------------------------------------------------------------------
// review approve | reject

async function decide(api: ApiClient, decision: 'approve' | 'reject', id: string, reason: string, pinned: string | undefined, out: Out): Promise<number> {
  // a human approves what they saw: the digest is the one the API shows now, or the one they pin
  const p = await api.get<PromotionView>(promotionPath(id));
  const artifactDigest = pinned ?? p.artifactDigest;
  out(`${decision === 'approve' ? 'approving' : 'rejecting'} promotion ${p.id} of job ${p.jobId} to ${p.target} (${p.state})`);
  out(`  digest ${artifactDigest} (${p.artifactKind})${pinned !== undefined && pinned !== p.artifactDigest ? `; the promotion is bound to ${p.artifactDigest}` : ''}`);
  const r = await api.post<{ decision: { outcome: string; approvals: number }; promotion: PromotionView }>(`${promotionPath(id)}/decisions`, { decision, reason, artifactDigest });
  const needed = r.promotion.requirement.approvals;
  switch (r.decision.outcome) {
    case 'recorded': {
      const group = r.promotion.requirement.requireGroup;
      const missing = group !== null && r.decision.approvals >= needed ? `; an approval from group ${group} is still needed` : '';
      out(`recorded ${r.decision.approvals}/${needed} approvals${missing}`);
      break;
    }
    case 'approved':
      out('approved: quorum reached; applying');
      break;
    case 'rejected':
      out('rejected');
      break;
    default:
      out(`${printable(r.decision.outcome)} (${r.decision.approvals}/${needed} approvals; state ${r.promotion.state})`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// promotion wait

// a pipeline stops waiting on failed too: only an admin's retry would move it on
const WAIT_FINAL: ReadonlySet<PromotionState> = new Set([...FINAL_STATES, 'failed']);

async function wait(api: ApiClient, id: string, opts: { timeoutMs: number; intervalMs: number }, out: Out, err: Out): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: PromotionView | undefined;
  let lastError = '';
  for (;;) {
    try {
      const p = await api.get<PromotionView>(promotionPath(id));
      if (p.state !== last?.state) err(`${p.id}: ${p.state}`);
      last = p;
      lastError = '';
      if (WAIT_FINAL.has(p.state)) return finalLine(p, out);
    } catch (e) {
      // the API restarting, or Redis briefly away, should not fail a pipeline's long wait
      if (!(e instanceof AppError && e.retryable) || Date.now() >= deadline) throw e;
      const text = `${e.code}: ${e.message}`;
      if (text !== lastError) err(`airlock: ${text} (retrying until the timeout)`);
      lastError = text;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(opts.intervalMs, left));
  }
  if (last === undefined) throw new AppError('INTERNAL', `no answer about ${id} before the timeout`);
  out(`timed out: ${last.id} is still ${last.state} after ${opts.timeoutMs / 1000} s`);
  return WAIT_EXIT.timeout;
}

function finalLine(p: PromotionView, out: Out): number {
  if (p.state === 'promoted') {
    out(`promoted ${printable(p.outcome?.location ?? '(no location recorded)')}`);
    return WAIT_EXIT.promoted;
  }
  const reason = p.state === 'failed' && p.failure !== null ? p.failure : (p.history.at(-1)?.reason ?? '');
  out(`${p.state}: ${printable(reason)}`);
  switch (p.state) {
    case 'rejected':
      return WAIT_EXIT.rejected;
    case 'expired':
      return WAIT_EXIT.expired;
    case 'failed':
      return WAIT_EXIT.failed;
    case 'superseded':
      return WAIT_EXIT.superseded;
    default:
      return WAIT_EXIT.error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The API client for these flags: --url/--key, else AIRLOCK_URL/AIRLOCK_KEY. */
function client(config: Config, flags: Flags): ApiClient {
  const url = flags.get('url') ?? config.client.url;
  const key = flags.get('key') ?? config.client.key;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new AppError('INVALID_REQUEST', `--url / AIRLOCK_URL must be an http(s) URL of the Airlock API, got ${JSON.stringify(url)}`);
  if (key === undefined || key === 'true' || key.trim() === '') {
    throw new AppError('UNAUTHORIZED', 'no API key: set AIRLOCK_KEY or pass --key KEY (a reviewer key to approve or reject; the requesting key or a reviewer key to wait)');
  }
  return apiClient({ url, key: key.trim() });
}

function promotionPath(id: string): string {
  return `/v1/promotions/${encodeURIComponent(id)}`;
}

function usage(err: Out, message: string, text: string): number {
  err(`airlock: ${message}`);
  err(text);
  return EXIT_USAGE;
}

/**
 * parseArgs cannot know which flags take no value: `--json ID` reads ID as the flag's value.
 * Such a value is given back as the positional it was.
 */
function booleanFlag(flags: Flags, name: string, positional: string[]): boolean {
  const v = flags.get(name);
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') positional.push(v);
  return v !== 'false';
}

function numberFlag(flags: Flags, name: string, def: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

/** Left-aligned columns, two spaces apart. */
function table(header: readonly string[], cells: readonly (readonly string[])[]): string[] {
  const rows = cells.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** argv as one shell line: plain words as they are, the rest single-quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * Control characters (ESC, CR, newline, backspace, …) and bidirectional overrides shown as escapes, so
 * untrusted text cannot move the cursor, recolour or reorder what the reviewer reads.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
