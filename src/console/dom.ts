/**
 * Building the page from untrusted data: every value becomes a text node, never markup
 * (no innerHTML anywhere in the console), and links are only the console's own routes.
 */

type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  readonly class?: string;
  /** Only the console's own hash routes (`#/…`): data never becomes a link target. */
  readonly route?: string;
  readonly title?: string;
  readonly id?: string;
  readonly testid?: string;
}

/** An element with text children: strings are made visible (control and bidi characters shown as escapes). */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs.class !== undefined) el.className = attrs.class;
  if (attrs.title !== undefined) el.title = visible(attrs.title);
  if (attrs.id !== undefined) el.id = attrs.id;
  if (attrs.testid !== undefined) el.dataset['testid'] = attrs.testid;
  if (attrs.route !== undefined && el instanceof HTMLAnchorElement) el.href = routeHref(attrs.route);
  append(el, ...children);
  return el;
}

export function append(el: Node, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(visible(String(c))) : c);
  }
}

/** A link to one of the console's views. */
export function link(route: string, ...children: Child[]): HTMLAnchorElement {
  return h('a', { route }, ...children);
}

function routeHref(route: string): string {
  if (!route.startsWith('#/')) throw new Error(`not a console route: ${route}`);
  return route;
}

/** `#/audit?target=…`: query values encoded, so an id can never break out of its parameter. */
export function route(path: string, query: Readonly<Record<string, string | undefined>> = {}): string {
  const q = Object.entries(query)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `#/${path}${q === '' ? '' : `?${q}`}`;
}

/**
 * Control characters (ESC, CR, backspace, …) and bidirectional overrides shown as escapes, so
 * untrusted text cannot reorder or disguise what the reviewer reads. The same rule as the CLI's
 * `printable` (src/cli/terminal-text.ts; test/console-text.test.ts keeps the two equal), except
 * that a newline stays a line break here: callers split lines first.
 */
export function visible(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Lines of a text, each shown as its own block (a newline is structure, never content). */
export function lines(text: string, opts: { max?: number; gutter?: boolean } = {}): HTMLElement {
  const all = text.split(/\r?\n/);
  if (all.length > 1 && all.at(-1) === '') all.pop();
  const max = opts.max ?? all.length;
  const pre = h('pre', { class: 'output' });
  for (const [i, l] of all.slice(0, max).entries()) pre.appendChild(h('span', { class: 'line' }, opts.gutter === true ? h('span', { class: 'gutter' }, String(i + 1)) : null, l));
  if (all.length > max) pre.appendChild(h('span', { class: 'line muted' }, `… ${all.length - max} more lines not shown`));
  return pre;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

/** A definition list of label → value rows. */
export function fields(rows: readonly (readonly [string, Child])[]): HTMLElement {
  const dl = h('dl', { class: 'fields' });
  for (const [k, v] of rows) append(dl, h('dt', {}, k), h('dd', {}, v));
  return dl;
}

export function table(header: readonly string[], rows: readonly (readonly Child[])[], testid?: string): HTMLElement {
  const t = h('table', testid !== undefined ? { testid } : {});
  t.appendChild(h('thead', {}, h('tr', {}, ...header.map((c) => h('th', {}, c)))));
  const body = h('tbody');
  for (const r of rows) body.appendChild(h('tr', {}, ...r.map((c) => h('td', {}, c))));
  t.appendChild(body);
  return t;
}

export function time(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

/** "in 3 h 20 min" / "12 min ago". */
export function relative(iso: string | null | undefined, nowMs = Date.now()): string {
  if (iso === null || iso === undefined) return '';
  const ms = Date.parse(iso) - nowMs;
  const abs = Math.abs(ms);
  const min = Math.round(abs / 60_000);
  const text = abs < 60_000 ? `${Math.round(abs / 1000)} s` : min < 60 ? `${min} min` : `${Math.floor(min / 60)} h ${min % 60} min`;
  return ms >= 0 ? `in ${text}` : `${text} ago`;
}
