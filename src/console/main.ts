/**
 * The console's entry: sign-in, the navigation bar and a hash router over the views. Routes:
 * #/promotions[?state=…], #/promotions/<id>, #/operations[?hours=…], #/audit?…; #/signin.
 */
import { ApiError, session, whoami } from './api.js';
import type { Whoami } from './wire-types.js';
import { auditSearch } from './audit-view.js';
import { h, link, route } from './dom.js';
import { operationsPage } from './operations-view.js';
import { promotionList, promotionPage } from './promotions-view.js';

const view = document.getElementById('view') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
const who = document.getElementById('who') as HTMLElement;
const PROMOTION_ID = /^prm_[A-Za-z0-9_-]{1,64}$/;

let me: Whoami | undefined;

function signInForm(message?: string): void {
  nav.replaceChildren();
  who.replaceChildren();
  const key = h('input', { id: 'api-key' });
  key.type = 'password';
  key.autocomplete = 'off';
  key.placeholder = 'API key';
  const go = h('button', { testid: 'sign-in' }, 'Sign in');
  const form = h(
    'form',
    { class: 'signin' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Your Airlock API key. It stays in this tab (sessionStorage) and is sent only to this server, as a bearer header.'),
    key,
    go,
    message !== undefined ? h('p', { class: 'status refused' }, message) : null,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    session.signIn(key.value);
    me = undefined;
    if (location.hash === '' || location.hash.startsWith('#/signin')) location.hash = route('promotions');
    else void render();
  });
  view.replaceChildren(form);
  key.focus();
}

function bar(u: Whoami): void {
  nav.replaceChildren(link(route('promotions'), 'Promotions'), ...(u.role === 'admin' ? [link(route('operations'), 'Operations'), link(route('audit'), 'Audit')] : []));
  const out = h('button', { class: 'link', testid: 'sign-out' }, 'Sign out');
  out.addEventListener('click', () => {
    session.signOut();
    me = undefined;
    signInForm();
  });
  who.replaceChildren(`${u.owner} · ${u.role}${u.groups.length > 0 ? ` · ${u.groups.join(', ')}` : ''} `, out);
}

async function render(): Promise<void> {
  if (session.key() === null) return signInForm();
  try {
    me ??= await whoami();
  } catch (e) {
    session.signOut();
    return signInForm(e instanceof ApiError ? `Not signed in: ${e.message}` : String(e));
  }
  bar(me);
  const [path = '', q = ''] = location.hash.replace(/^#\/?/, '').split('?', 2);
  const query = new URLSearchParams(q);
  const parts = path.split('/');
  try {
    if (parts[0] === 'promotions' && parts[1] !== undefined && PROMOTION_ID.test(parts[1])) await promotionPage(view, parts[1], me);
    else if (parts[0] === 'operations') await operationsPage(view, query);
    else if (parts[0] === 'audit') await auditSearch(view, query);
    else await promotionList(view, query);
  } catch (e) {
    view.replaceChildren(h('h1', {}, 'Could not load this page'), h('p', { class: 'status refused' }, e instanceof ApiError ? `${e.code}: ${e.message}` : String(e)));
  }
}

window.addEventListener('hashchange', () => void render());
void render();
