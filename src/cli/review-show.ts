/**
 * `airlock review show ID`: what a reviewer decides on, as text. Everything shown comes from
 * untrusted code or people: control characters are made visible (terminal-text.ts) and job
 * output is fenced with a gutter, so nothing in it can pass for this command's own text.
 */
import { AppError, type Promotion } from '../root/index.js';
import type { Airlock } from '../client/index.js';
import type { PromotionView } from './review-commands.js';
import { printable, shellJoin, splitLines, table } from './terminal-text.js';

type Out = (s: string) => void;

export function promotionPath(id: string): string {
  return `/v1/promotions/${encodeURIComponent(id)}`;
}

/** Lines of stdout/stderr shown per stream by `review show`. */
const EXCERPT_LINES = 40;
/** A longer line is cut (job output can be one huge line). */
const MAX_LINE_CHARS = 1000;
const AUDIT_PAGE = 500;

/** The fields of an audit record this command prints (GET /v1/audit). */
interface AuditRecordView {
  readonly seq: number;
  readonly time: string;
  readonly action: string;
  readonly actor: { readonly type: string; readonly keyId?: string; readonly role?: string; readonly workerId?: string; readonly via?: string };
  readonly outcome?: { readonly status?: number; readonly result?: string; readonly error?: string };
  readonly details?: Readonly<Record<string, unknown>>;
}

export async function show(api: Airlock, id: string, json: boolean, out: Out): Promise<number> {
  const p = await api.json<PromotionView>({ method: 'GET', path: promotionPath(id) });
  if (json) {
    out(JSON.stringify(p, null, 2));
    return 0;
  }
  const w = writer(out);
  overview(p, w);
  binding(p, w);
  await run(api, p, id, w);
  decisions(p, w);
  w.section('Audit trail');
  for (const line of await auditTrail(api, p.id)) out(line);
  return 0;
}

interface Writer {
  readonly out: Out;
  readonly section: (title: string) => void;
  readonly field: (name: string, value: string) => void;
}

function writer(out: Out): Writer {
  return {
    out,
    section: (title) => {
      out('');
      out(`== ${title}`);
    },
    field: (name, value) => out(`  ${`${name}:`.padEnd(16)} ${printable(value)}`),
  };
}

/** Who asked for what, and where it stands. */
function overview(p: PromotionView, { out, field }: Writer): void {
  const s = p.snapshot;
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
}

/** What a decision binds to, what it takes, and the risk found. */
function binding(p: PromotionView, { out, section, field }: Writer): void {
  const s = p.snapshot;
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
}

/** What the job ran and what it produced: command, patch, output excerpts, artifacts. */
async function run(api: Airlock, p: PromotionView, id: string, { out, section, field }: Writer): Promise<void> {
  const s = p.snapshot;
  section('Command');
  out(`  $ ${printable(shellJoin(s.argv))}`);
  field('exit code', `${s.exitCode ?? '(none)'} after ${s.durationMs} ms`);
  field('files', s.files.length === 0 ? '(none)' : s.files.map((f) => `${f.path} (${f.bytes} B)`).join(', '));

  if (s.patchSha256 !== null) {
    section(`Patch (sha256 ${s.patchSha256})`);
    try {
      for (const line of splitLines(await api.getPromotionPatch(id))) out(`  | ${printable(line)}`);
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
}

/** Who decided what, and the promotion's own history. */
function decisions(p: PromotionView, { out, section }: Writer): void {
  section(`Decisions (${p.decisions.length})`);
  if (p.decisions.length === 0) out('  none yet');
  for (const d of p.decisions) {
    const bound = d.artifactDigest === p.artifactDigest ? '' : ` (on digest ${d.artifactDigest})`;
    out(`  ${d.at}  ${printable(d.principal)} (key ${d.keyId}${d.groups.length > 0 ? `, groups ${d.groups.join(',')}` : ''}) ${d.decision}${bound}: ${printable(d.reason)}`);
  }

  section('History');
  for (const h of p.history) out(`  ${historyLine(h)}`);
}

function historyLine(h: Promotion['history'][number]): string {
  const who = 'system' in h.actor ? `system:${h.actor.system}` : `${h.actor.principal} (key ${h.actor.keyId})`;
  return `#${h.n} ${h.at}  ${h.from ?? '(new)'} -> ${h.to}  by ${printable(who)}: ${printable(h.reason)}`;
}

/** The promotion's audit records (anyone who may see the promotion may read them). */
async function auditTrail(api: Airlock, promotionId: string): Promise<string[]> {
  let page: { records: AuditRecordView[]; nextCursor: string | null };
  try {
    page = await api.json({ method: 'GET', path: `/v1/promotions/${encodeURIComponent(promotionId)}/audit?limit=${AUDIT_PAGE}` });
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
  return a.via === undefined ? a.type : `${a.type} (${a.via})`;
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
