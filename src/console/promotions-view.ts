/**
 * The reviewer's screens: the promotions it may decide, and one promotion with everything
 * `airlock review show` prints — requester, command, the diff, output excerpts, artifacts with
 * digests, findings, decisions, history and audit trail — and the decision form, bound to the
 * digest shown on this screen.
 */
import { ApiError, download, getJson, getText, postJson } from './api.js';
import { diffView } from './diff-view.js';
import { append, fields, h, lines, link, relative, route, table, time } from './dom.js';
import type { AuditRecordView, Eligibility, Promotion, PromotionSummary, Snapshot, Whoami } from './wire-types.js';
import { auditTable } from './audit-view.js';

const STATES = ['pending_review', 'approved', 'promoted', 'rejected', 'expired', 'failed', 'superseded'];
const EXCERPT_LINES = 200;

export async function promotionList(view: HTMLElement, query: URLSearchParams): Promise<void> {
  const state = query.get('state') ?? 'pending_review';
  const list = await getJson<{ promotions: PromotionSummary[] }>(`/v1/promotions?state=${encodeURIComponent(state)}&limit=200`);
  const tabs = h('p', { class: 'tabs' }, ...STATES.map((s) => (s === state ? h('strong', {}, s) : link(route('promotions', { state: s }), s))));
  const rows = list.promotions.map((p) => [
    link(route(`promotions/${p.id}`), p.id),
    p.target,
    h('span', { class: `risk risk-${p.risk}` }, p.risk),
    `${p.approvals}/${p.approvalsNeeded}`,
    h('span', { title: time(p.deadlineAt) }, relative(p.deadlineAt)),
    p.requester.principal,
    link(route(`promotions/${p.id}`), p.jobId),
  ]);
  view.replaceChildren(
    h('h1', {}, 'Promotions'),
    tabs,
    rows.length === 0
      ? h('p', { class: 'empty' }, `No promotions in ${state} that this key may see.`)
      : table(['Promotion', 'Target', 'Risk', 'Approvals', 'Deadline', 'Requested by', 'Job'], rows, 'promotions'),
  );
}

export async function promotionPage(view: HTMLElement, id: string, me: Whoami): Promise<void> {
  const base = `/v1/promotions/${encodeURIComponent(id)}`;
  const [p, eligibility] = await Promise.all([getJson<Promotion>(base), getJson<Eligibility>(`${base}/eligibility`)]);
  const s = p.snapshot;
  view.replaceChildren(
    h('h1', {}, 'Promotion ', h('code', {}, p.id), ' ', h('span', { class: `state state-${p.state}`, testid: 'state' }, p.state)),
    overview(p),
    decisionBox(p, eligibility, me, () => void promotionPage(view, id, me)),
    section('What is approved', bindingFields(p)),
    section(`Risk: ${p.risk}`, findingsView(p)),
    section('Command', commandView(s)),
  );
  if (s.patchSha256 !== null) view.appendChild(section(`Patch (sha256 ${s.patchSha256})`, await patchView(base)));
  append(
    view,
    section('stdout', outputView(s.stdoutExcerpt, s.stdoutEncoding, s.stdoutBytes, s.stdoutTruncated, 'stdout')),
    section('stderr', outputView(s.stderrExcerpt, s.stderrEncoding, s.stderrBytes, s.stderrTruncated, 'stderr')),
    section(`Artifacts (${s.artifacts.length})`, artifactsView(p, base)),
    section(`Decisions (${p.decisions.length})`, decisionsView(p)),
    section('History', historyView(p)),
    section('Audit trail', await trailView(base)),
  );
}

function section(title: string, ...body: (Node | null)[]): HTMLElement {
  return h('section', {}, h('h2', {}, title), ...body);
}

function overview(p: Promotion): HTMLElement {
  const approvals = p.decisions.filter((d) => d.decision === 'approve').length;
  return fields([
    ['target', `${p.target} (${p.targetType})`],
    ['job', h('span', {}, link(route('audit', { target: p.jobId }), p.jobId), ` (${p.snapshot.status}, profile ${p.snapshot.profile})`)],
    ['requested by', `${p.requester.principal} (key ${p.requester.keyId}) at ${time(p.createdAt)}`],
    ['submitted by', `${p.submitter.principal} (key ${p.submitter.keyId})`],
    ['note', p.note === '' ? '(none)' : p.note],
    ['deadline', `${time(p.deadlineAt)} (${relative(p.deadlineAt)})`],
    ['quorum', h('span', { testid: 'quorum' }, `${approvals} of ${p.requirement.approvals} approvals (distinct principals)`)],
    ['deciding groups', [...p.requirement.groups, ...(p.requirement.requireGroup !== null ? [`${p.requirement.requireGroup} (required)`] : [])].join(', ') || '(none)'],
    ...(p.escalateAt !== null || p.escalatedAt !== null
      ? [
          [
            'escalation',
            p.escalatedAt !== null ? `escalated at ${time(p.escalatedAt)} to ${p.escalationGroup ?? '?'}` : `at ${time(p.escalateAt)} to ${p.escalationGroup ?? '?'}`,
          ] as const,
        ]
      : []),
    ...(p.outcome !== null ? [['promoted to', p.outcome.location] as const] : []),
    ...(p.failure !== null ? [['failure', p.failure] as const] : []),
  ]);
}

function bindingFields(p: Promotion): HTMLElement {
  return fields([
    ['digest', h('code', { testid: 'digest' }, p.artifactDigest)],
    ['kind', p.artifactKind],
    ['code digest', p.codeDigest],
    ['profile digest', p.profileDigest],
    ['image', p.snapshot.imageDigest],
    ['seccomp', p.snapshot.seccompDigest],
    ['policy', `version ${p.policy.version} (digest ${p.policy.digest})`],
    ['basis', p.requirement.basis],
  ]);
}

function findingsView(p: Promotion): HTMLElement {
  if (p.findings.length === 0) return h('p', { class: 'empty', testid: 'findings' }, 'No findings.');
  return table(
    ['Severity', 'Kind', 'Detector', 'Message'],
    p.findings.map((f) => [h('span', { class: `sev sev-${f.severity}` }, f.severity), f.kind, [f.detector, f.class].filter(Boolean).join(' / ') || '—', f.message]),
    'findings',
  );
}

function commandView(s: Snapshot): HTMLElement {
  return h(
    'div',
    {},
    h('pre', { class: 'output command' }, h('span', { class: 'line' }, '$ ', s.argv.map(shellQuote).join(' '))),
    fields([
      ['exit code', `${s.exitCode ?? '(none)'} after ${s.durationMs} ms`],
      ['input files', s.files.length === 0 ? '(none)' : s.files.map((f) => `${f.path} (${f.bytes} B)`).join(', ')],
    ]),
  );
}

function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

async function patchView(base: string): Promise<HTMLElement> {
  try {
    return diffView(await getText(`${base}/patch`));
  } catch (e) {
    if (e instanceof ApiError) return h('p', { class: 'empty' }, `Patch not available (${e.code}: ${e.message})`);
    throw e;
  }
}

function outputView(text: string, encoding: 'utf8' | 'base64', bytes: number | undefined, truncated: boolean | undefined, name: string): HTMLElement {
  const box = h('div', { testid: name });
  if (bytes !== undefined) box.appendChild(h('p', { class: 'muted' }, `excerpt of ${bytes} bytes${truncated === true ? ', cut at the output limit when it ran' : ''}`));
  if (text === '') {
    box.appendChild(h('p', { class: 'empty' }, '(empty)'));
    return box;
  }
  let decoded = text;
  if (encoding === 'base64') {
    const raw = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    if (raw.includes(0)) {
      box.appendChild(h('p', { class: 'empty' }, `(binary, ${raw.length} bytes in the excerpt)`));
      return box;
    }
    decoded = new TextDecoder().decode(raw);
  }
  box.appendChild(lines(decoded, { max: EXCERPT_LINES }));
  return box;
}

function artifactsView(p: Promotion, base: string): HTMLElement {
  const s = p.snapshot;
  const box = h('div', {});
  if (s.artifacts.length === 0) box.appendChild(h('p', { class: 'empty' }, 'No artifacts.'));
  else
    box.appendChild(
      table(
        ['Path', 'Bytes', 'sha256'],
        s.artifacts.map((a) => [a.path, a.bytes, h('code', {}, a.sha256)]),
        'artifacts',
      ),
    );
  if (p.artifactKind === 'artifacts' && s.artifactsTarSha256 !== null) {
    const b = h('button', { class: 'secondary' }, `Download artifacts.tar (sha256 ${s.artifactsTarSha256.slice(0, 12)}…)`);
    b.addEventListener('click', () => void download(`${base}/artifacts.tar`, `${p.id}-artifacts.tar`));
    box.appendChild(b);
  }
  return box;
}

function decisionsView(p: Promotion): HTMLElement {
  if (p.decisions.length === 0) return h('p', { class: 'empty' }, 'None yet.');
  return table(
    ['At', 'Principal', 'Decision', 'Groups', 'Reason', 'On digest'],
    p.decisions.map((d) => [
      time(d.at),
      `${d.principal} (key ${d.keyId})`,
      d.decision,
      d.groups.join(', '),
      d.reason,
      d.artifactDigest === p.artifactDigest ? 'this one' : d.artifactDigest,
    ]),
  );
}

function historyView(p: Promotion): HTMLElement {
  return table(
    ['#', 'At', 'From', 'To', 'By', 'Reason'],
    p.history.map((e) => [e.n, time(e.at), e.from ?? '(new)', e.to, 'system' in e.actor ? `system:${e.actor.system}` : `${e.actor.principal} (key ${e.actor.keyId})`, e.reason]),
  );
}

async function trailView(base: string): Promise<HTMLElement> {
  try {
    const page = await getJson<{ records: AuditRecordView[]; nextCursor: string | null }>(`${base}/audit?limit=500`);
    return auditTable(page.records, page.nextCursor !== null);
  } catch (e) {
    if (e instanceof ApiError)
      return h('p', { class: 'empty' }, `Audit trail unavailable (${e.code}: ${e.message}); the history above is the promotion's own record of each change.`);
    throw e;
  }
}

/** Approve or reject, with a reason, naming the digest this page shows; or why this key may not. */
function decisionBox(p: Promotion, eligibility: Eligibility, me: Whoami, reload: () => void): HTMLElement {
  const box = h('section', { class: 'decide', testid: 'decide' }, h('h2', {}, 'Decision'));
  const reason = h('textarea', { id: 'reason' });
  reason.placeholder = 'Reason (mandatory): what you checked and why you decide so';
  reason.maxLength = 2000;
  const approve = h('button', { testid: 'approve' }, 'Approve');
  const reject = h('button', { class: 'danger', testid: 'reject' }, 'Reject');
  const status = h('p', { class: 'status', testid: 'decide-status' });
  box.append(
    h('p', { class: 'muted' }, 'Bound to digest ', h('code', {}, p.artifactDigest), ` as shown on this page. Signed in as ${me.owner} (${me.role}).`),
    reason,
    h('div', { class: 'buttons' }, approve, reject),
    status,
  );
  if (!eligibility.mayDecide) {
    for (const b of [approve, reject]) b.disabled = true;
    reason.disabled = true;
    status.className = 'status refused';
    status.textContent = `You cannot decide this promotion: ${eligibility.reason ?? eligibility.code ?? 'not eligible'}`;
    return box;
  }
  // the digest this screen shows, fixed when it was drawn: a decision never names a newer one
  const shownDigest = p.artifactDigest;
  const decide = async (decision: 'approve' | 'reject') => {
    if (reason.value.trim() === '') {
      status.className = 'status refused';
      status.textContent = 'A reason is mandatory.';
      reason.focus();
      return;
    }
    for (const b of [approve, reject]) b.disabled = true;
    try {
      const r = await postJson<{ decision: { outcome: string; approvals: number } }>(`/v1/promotions/${encodeURIComponent(p.id)}/decisions`, {
        decision,
        reason: reason.value,
        artifactDigest: box.dataset['digest'] ?? shownDigest,
      });
      status.className = 'status ok';
      status.textContent = `Recorded: ${r.decision.outcome} (${r.decision.approvals} approval(s)).`;
      setTimeout(reload, 800);
    } catch (e) {
      for (const b of [approve, reject]) b.disabled = false;
      status.className = 'status refused';
      if (e instanceof ApiError && e.code === 'DIGEST_MISMATCH') {
        const now = typeof e.details['expected'] === 'string' ? e.details['expected'] : 'another digest';
        status.textContent = `Refused: what you reviewed (${box.dataset['digest'] ?? shownDigest}) is not what this promotion is bound to now (${now}). Nothing was recorded as approved; reload the page and review what is bound.`;
      } else status.textContent = e instanceof ApiError ? `Refused (${e.code}): ${e.message}` : `Failed: ${String(e)}`;
    }
  };
  box.dataset['digest'] = shownDigest;
  approve.addEventListener('click', () => void decide('approve'));
  reject.addEventListener('click', () => void decide('reject'));
  return box;
}
