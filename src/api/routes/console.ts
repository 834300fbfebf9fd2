/**
 * The review console and operations view (src/console), served by the API at /console: same
 * origin, no other server. Its files are public (code, no data: like /healthz they need no key)
 * and audited like any request; every figure it shows comes from the keyed JSON routes, which the
 * page calls with the API key the reviewer typed (kept in sessionStorage, sent as a bearer header:
 * no cookie, so no ambient credential for a forged cross-site request to ride on).
 *
 * The TypeScript in src/console is transpiled once per process with esbuild (types stripped, no
 * bundling: each file is one module). Every console answer carries a Content-Security-Policy that
 * allows only this origin's scripts and styles (no inline script, no eval) and no framing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { AppError } from '../../shared/index.js';
import { audited } from '../route-audit.js';

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

/** The policy of every console page and file: nothing but this origin's own code, styles and API. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONSOLE_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
};

interface ConsoleFile {
  readonly source: string;
  readonly type: string;
  /** TypeScript, served transpiled as .js. */
  readonly transpile: boolean;
}

/** Served name → source file: index.html, the stylesheets, and each module (x.ts as x.js). */
function consoleFiles(): Map<string, ConsoleFile> {
  const out = new Map<string, ConsoleFile>();
  for (const name of readdirSync(CONSOLE_DIR)) {
    if (name === 'index.html') out.set(name, { source: name, type: 'text/html; charset=utf-8', transpile: false });
    else if (/^[a-z0-9-]+\.css$/.test(name)) out.set(name, { source: name, type: 'text/css; charset=utf-8', transpile: false });
    else if (/^[a-z0-9-]+\.ts$/.test(name) && !name.endsWith('.d.ts'))
      out.set(name.replace(/\.ts$/, '.js'), { source: name, type: 'text/javascript; charset=utf-8', transpile: true });
  }
  return out;
}

const FILES = consoleFiles();

/** The console's paths: public (no key), like the probes and security.txt. */
export const CONSOLE_PATHS: readonly string[] = ['/console', '/console/', ...[...FILES.keys()].map((f) => `/console/${f}`)];

export function consoleRoutes(app: FastifyInstance): void {
  const built = new Map<string, Promise<string>>();
  const body = (name: string, f: ConsoleFile): Promise<string> => {
    let b = built.get(name);
    if (b === undefined) {
      const text = readFileSync(`${CONSOLE_DIR}${f.source}`, 'utf8');
      b = f.transpile ? transform(text, { loader: 'ts', format: 'esm', target: 'es2022', sourcefile: f.source }).then((r) => r.code) : Promise.resolve(text);
      built.set(name, b);
    }
    return b;
  };
  const send = async (reply: FastifyReply, name: string) => {
    const f = FILES.get(name);
    if (f === undefined) throw new AppError('ROUTE_NOT_FOUND', `no console file ${name.slice(0, 80)}`);
    return reply
      .headers(SECURITY_HEADERS)
      .type(f.type)
      .send(await body(name, f));
  };
  app.get('/console', audited('request'), (_req, reply) => reply.headers(SECURITY_HEADERS).redirect('/console/'));
  app.get('/console/', audited('request'), (_req, reply) => send(reply, 'index.html'));
  app.get('/console/:file', audited('request'), (req, reply) => send(reply, (req.params as { file?: string }).file ?? ''));
}
