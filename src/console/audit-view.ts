/** Audit records as a table, and the admin's audit search (GET /v1/audit) that every operations figure links to. */
import { ApiError, getJson } from './api.js';
import { h, link, route, table, time } from './dom.js';
import type { AuditRecordView } from './wire-types.js';

export function actorText(a: AuditRecordView['actor']): string {
  if (a.type === 'key') return `${a.keyId ?? '?'} (${a.role ?? '?'})`;
  if (a.type === 'worker') return `worker:${a.workerId ?? '?'}`;
  return a.via === undefined ? a.type : `${a.type} (${a.via})`;
}

function outcomeText(o: AuditRecordView['outcome']): string {
  if (o === undefined) return '';
  return [o.status, o.result, o.error].filter((x) => x !== undefined).join(' ');
}

function detailsText(d: AuditRecordView['details']): string {
  if (d === undefined) return '';
  const text = Object.entries(d)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

export function auditTable(records: readonly AuditRecordView[], more: boolean): HTMLElement {
  if (records.length === 0) return h('p', { class: 'empty' }, 'No records.');
  const t = table(
    ['#', 'Time', 'Action', 'Actor', 'Target', 'Outcome', 'Details'],
    records.map((r) => [r.seq, time(r.time), r.action, actorText(r.actor), r.target ?? '', outcomeText(r.outcome), detailsText(r.details)]),
    'audit',
  );
  return more ? h('div', {}, t, h('p', { class: 'muted' }, 'More records exist: narrow the query.')) : t;
}

const FILTERS = ['actor', 'action', 'target', 'since', 'until'] as const;

/** #/audit?action=…&target=…&actor=…: the admin's view of the log (GET /v1/audit, newest first). */
export async function auditSearch(view: HTMLElement, query: URLSearchParams): Promise<void> {
  const params = new URLSearchParams();
  for (const f of FILTERS) {
    const v = query.get(f);
    if (v !== null && v !== '') params.set(f, v);
  }
  params.set('limit', '200');
  const shown = FILTERS.filter((f) => params.has(f)).map((f) => `${f}=${params.get(f) ?? ''}`);
  view.replaceChildren(h('h1', {}, 'Audit records'), h('p', { class: 'muted' }, shown.length === 0 ? 'All records, newest first.' : `Filter: ${shown.join(', ')} (newest first).`));
  try {
    const page = await getJson<{ records: AuditRecordView[]; nextCursor: string | null }>(`/v1/audit?${params.toString()}`);
    view.appendChild(auditTable(page.records, page.nextCursor !== null));
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    view.appendChild(h('p', { class: 'status refused' }, `${e.code}: ${e.message}`));
  }
  view.appendChild(h('p', {}, link(route('operations'), '← Operations')));
}
