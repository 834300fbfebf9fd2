/**
 * The operator's screen (admin keys): jobs by status over time, queue depth and wait, workers
 * and warm pools, tool calls per tool and per key, refused requests, anomalies and throttled
 * keys, and the audit chain. Every figure links to the audit records behind it.
 */
import { ApiError, getJson } from './api.js';
import { actorText } from './audit-view.js';
import { fields, h, link, relative, route, table, time } from './dom.js';
import type { Operations } from './wire-types.js';

const GOOD = new Set(['succeeded']);
const MS = (n: number | null) => (n === null ? '—' : n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(1)} s`);

export async function operationsPage(view: HTMLElement, query: URLSearchParams): Promise<void> {
  const hours = query.get('hours') ?? '1';
  const o = await getJson<Operations>(`/v1/operations?hours=${encodeURIComponent(hours)}`);
  view.replaceChildren(
    h('h1', {}, 'Operations'),
    h(
      'p',
      { class: 'tabs' },
      'Window: ',
      ...['1', '6', '24'].map((x) => (x === hours ? h('strong', {}, `${x} h`) : link(route('operations', { hours: x }), `${x} h`))),
      ` — ${time(o.window.since)} to ${time(o.window.until)}, ${o.window.records} audit records${o.window.truncated ? ' (the newest only)' : ''}`,
    ),
    h('div', { class: 'grid' }, card('Queue', queueView(o)), card('Audit chain', chainView(o))),
    card('Workers and warm pools', workersView(o)),
    card('Jobs by status over time', jobsChart(o)),
    h('div', { class: 'grid two' }, card('Tool invocations (per tool and key)', toolsView(o)), card('Anomalies and throttled keys', anomaliesView(o))),
    card('Refused requests', refusedView(o)),
  );
}

function card(title: string, body: Node): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), body);
}

function queueView(o: Operations): HTMLElement {
  return fields([
    ['waiting', o.queue['waiting'] ?? 0],
    ['active', o.queue['active'] ?? 0],
    ['delayed (retry backoff)', o.queue['delayed'] ?? 0],
    ['wait p50 / p95 / max', `${MS(o.queueWaitMs.p50)} / ${MS(o.queueWaitMs.p95)} / ${MS(o.queueWaitMs.max)} (${o.queueWaitMs.count} starts)`],
    ['records', link(route('audit', { action: 'job.start' }), 'job.start records')],
  ]);
}

function chainView(o: Operations): HTMLElement {
  const v = o.audit.lastVerify;
  const verdict =
    v === null
      ? h('span', { class: 'muted' }, 'not run by this API process yet')
      : v.result.ok
        ? h('span', { class: 'ok' }, `ok at ${time(v.at)}`)
        : h('span', { class: 'bad' }, `FAILED at ${time(v.at)}: ${v.result.reason ?? ''} (seq ${v.result.seq ?? '?'})`);
  const box = fields([
    ['head', `#${o.audit.head.seq} at ${time(o.audit.head.time)}`],
    ['in Redis from', `#${o.audit.base.seq + 1}`],
    ['last checkpoint', o.audit.lastCheckpoint === null ? 'none yet' : `#${o.audit.lastCheckpoint.seq} (${relative(o.audit.lastCheckpoint.time)})`],
    ['last verify', verdict],
  ]);
  const button = h('button', { class: 'secondary', testid: 'verify' }, 'Verify the chain now');
  const result = h('p', { class: 'status' });
  button.addEventListener('click', () => {
    button.disabled = true;
    result.textContent = 'Verifying…';
    getJson<{ ok: boolean; reason?: string; records?: number }>('/v1/audit/verify').then(
      (r) => {
        result.className = r.ok ? 'status ok' : 'status refused';
        result.textContent = r.ok ? `ok (${r.records ?? '?'} records)` : `FAILED: ${r.reason ?? ''}`;
        button.disabled = false;
      },
      (e: unknown) => {
        result.className = 'status refused';
        result.textContent = e instanceof ApiError ? `${e.code}: ${e.message}` : String(e);
        button.disabled = false;
      },
    );
  });
  return h('div', {}, box, button, result, h('p', {}, link(route('audit', { action: 'audit.verify' }), 'verify records')));
}

function workersView(o: Operations): HTMLElement {
  if (o.workers.length === 0) return h('p', { class: 'empty bad' }, 'No live worker: jobs queue until one starts.');
  const rows = o.workers.flatMap((w) => {
    const pools = Object.entries(w.pool);
    const head = [link(route('audit', { actor: `worker:${w.workerId}` }), w.workerId), w.engineOk ? 'engine ok' : 'ENGINE DOWN', w.isolation.join(', '), relative(w.at)];
    if (pools.length === 0) return [[...head, '(no pool)', '']];
    return pools.map(([name, p], i) => [
      ...(i === 0 ? head : ['', '', '', '']),
      name,
      `${p.ready}/${p.target} ready, ${p.creating} making; hits ${p.hits}, waited ${p.waited}, misses ${p.misses}`,
    ]);
  });
  return table(['Worker', 'Engine', 'Tiers', 'Beat', 'Pool', 'State'], rows, 'workers');
}

function jobsChart(o: Operations): HTMLElement {
  const statuses = [...new Set(o.jobs.buckets.flatMap((b) => Object.keys(b.finished)))].sort((a, b) => (GOOD.has(a) ? -1 : GOOD.has(b) ? 1 : a.localeCompare(b)));
  const peak = Math.max(1, ...o.jobs.buckets.map((b) => Object.values(b.finished).reduce((x, y) => x + y, 0)));
  const chart = h('div', { class: 'chart', testid: 'jobs-chart' });
  for (const b of o.jobs.buckets) {
    const col = h('div', {
      class: 'col',
      title: `${time(b.at)}: ${b.submitted} submitted; ${
        Object.entries(b.finished)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'none finished'
      }`,
    });
    for (const s of statuses) {
      const n = b.finished[s] ?? 0;
      if (n === 0) continue;
      const bar = h('div', { class: `bar st-${GOOD.has(s) ? 'good' : s === 'failed' ? 'failed' : 'bad'}` });
      bar.style.height = `${(n / peak) * 100}%`; // CSSOM, not a style attribute: allowed by the policy
      col.appendChild(bar);
    }
    chart.appendChild(col);
  }
  const totals = Object.entries(o.jobs.totals);
  return h(
    'div',
    {},
    chart,
    h(
      'p',
      { class: 'legend' },
      totals.length === 0 ? 'No job finished in this window.' : 'Finished: ',
      ...totals.flatMap(([s, n]) => [link(route('audit', { action: 'job.finish', since: o.window.since }), `${s} ${n}`), ' ']),
    ),
  );
}

function toolsView(o: Operations): HTMLElement {
  if (o.toolCalls.length === 0) return h('p', { class: 'empty' }, 'No tool calls in this window.');
  return table(
    ['Tool', 'Outcome', 'Key', 'Calls'],
    o.toolCalls.map((c) => [
      c.tool,
      c.outcome,
      c.keyId === null ? '(job expired)' : link(route('audit', { actor: c.keyId }), c.keyId),
      link(route('audit', { action: 'gateway.call', since: o.window.since }), String(c.count)),
    ]),
    'tools',
  );
}

function anomaliesView(o: Operations): HTMLElement {
  if (!o.anomalies.available) return h('p', { class: 'empty', testid: 'anomalies' }, 'Anomaly detection is not part of this deployment yet: nothing to show.');
  if (o.anomalies.records.length === 0) return h('p', { class: 'empty', testid: 'anomalies' }, 'No anomaly and no throttled key in this window.');
  return table(
    ['Time', 'Action', 'Key', 'Details'],
    o.anomalies.records.map((r) => [
      time(r.time),
      link(route('audit', { action: r.action, target: r.target ?? undefined }), r.action),
      r.target ?? actorText(r.actor),
      Object.entries(r.details ?? {})
        .filter(([, v]) => typeof v !== 'object')
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' '),
    ]),
    'anomalies',
  );
}

function refusedView(o: Operations): HTMLElement {
  const counts = Object.entries(o.refused.byStatus);
  if (counts.length === 0) return h('p', { class: 'empty' }, 'No refused request in this window.');
  return h(
    'div',
    {},
    h('p', {}, counts.map(([s, n]) => `${s}: ${n}`).join(', '), ' — ', link(route('audit', { action: 'auth.denied' }), 'auth.denied records')),
    table(
      ['#', 'Time', 'Status', 'Error', 'Action', 'Route', 'Key'],
      o.refused.recent.map((r) => [
        r.seq,
        time(r.time),
        r.status,
        r.error ?? '',
        r.action,
        r.route ?? '',
        r.keyId === null ? '' : link(route('audit', { actor: r.keyId }), r.keyId),
      ]),
      'refused',
    ),
  );
}
