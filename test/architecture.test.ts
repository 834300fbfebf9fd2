/**
 * The module map of ../shared/docs/architecture.md, enforced: no import cycles between
 * modules, leaves import only shared, the API never reaches the sandbox, and each
 * infrastructure package is imported by its one owner.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => (m[1] ?? m[2])!);
}

/** Module of a file: its first folder under src/, or the file name for root files. */
function moduleOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes('/') ? rel.split('/')[0]! : rel.replace(/\.ts$/, '');
}

const all = files(SRC);
const edges = new Map<string, Set<string>>();
const packages = new Map<string, Set<string>>();
for (const f of all) {
  const from = moduleOf(f);
  for (const spec of imports(f)) {
    if (spec.startsWith('.')) {
      const target = moduleOf(resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
      if (target !== from) {
        if (!edges.has(from)) edges.set(from, new Set());
        edges.get(from)!.add(target);
      }
    } else if (!spec.startsWith('node:')) {
      const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!packages.has(pkg)) packages.set(pkg, new Set());
      packages.get(pkg)!.add(from);
    }
  }
}

const ALLOWED: Record<string, string[]> = {
  shared: [],
  profiles: ['shared'],
  credentials: ['shared'],
  audit: ['shared'],
  sandbox: ['shared'],
  artifacts: ['shared'],
  gateway: ['shared', 'credentials'],
  monitor: ['shared', 'sandbox'],
  review: ['shared', 'profiles', 'audit', 'monitor', 'artifacts'],
  queue: ['shared', 'profiles', 'credentials', 'audit', 'sandbox', 'artifacts', 'gateway', 'monitor', 'review'],
  api: ['shared', 'profiles', 'queue', 'review', 'audit', 'credentials', 'artifacts', 'gateway'],
  cli: ['shared', 'config', 'main', 'credentials', 'audit', 'profiles', 'queue', 'sandbox', 'review', 'api'],
  config: ['shared', 'audit', 'credentials'], // AIRLOCK_AUDIT_* are validated by the audit module's own schema
  main: ['shared', 'config', 'profiles', 'credentials', 'audit', 'sandbox', 'artifacts', 'gateway', 'monitor', 'review', 'queue', 'api'],
};

const OWNERS: Record<string, string[]> = {
  dockerode: ['sandbox'],
  'tar-stream': ['sandbox'],
  bullmq: ['queue'],
  fastify: ['api'],
};

describe('architecture', () => {
  it('every module is one the design knows', () => {
    expect([...new Set(all.map(moduleOf))].filter((m) => !(m in ALLOWED))).toEqual([]);
  });

  it('imports point only along allowed arrows', () => {
    const bad: string[] = [];
    for (const [from, tos] of edges) for (const to of tos) if (!(ALLOWED[from] ?? []).includes(to)) bad.push(`${from} → ${to}`);
    expect(bad).toEqual([]);
  });

  it('the module graph has no cycles', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (m: string, path: string[]) => {
      if (state.get(m) === 'done') return;
      if (state.get(m) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(m)), m].join(' → '));
        return;
      }
      state.set(m, 'visiting');
      for (const n of edges.get(m) ?? []) visit(n, [...path, m]);
      state.set(m, 'done');
    };
    for (const m of edges.keys()) visit(m, []);
    expect(cycles).toEqual([]);
  });

  it('infrastructure packages are imported only by their owner module', () => {
    const bad: string[] = [];
    for (const [pkg, owners] of Object.entries(OWNERS)) for (const user of packages.get(pkg) ?? []) if (!owners.includes(user)) bad.push(`${user} imports ${pkg}`);
    expect(bad).toEqual([]);
  });

  it('only config.ts reads process.env', () => {
    const readers = all.filter((f) => /process\.env\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f));
    expect(readers).toEqual(['config.ts']);
  });

  it('catches a forbidden arrow (the check itself can fail)', () => {
    expect(ALLOWED['api']).not.toContain('sandbox');
    expect(moduleOf(join(SRC, 'api/routes/jobs.ts'))).toBe('api');
  });
});
