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

/** Relative imports that load code at run time (`import type` / `export type` are erased). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].filter((m) => !/^\s*(?:import|export)\s+type\s/.test(m[0])).map((m) => (m[1] ?? m[2])!);
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

/**
 * The module table of docs/architecture.md: one row per module, "may import" and "owns packages"
 * as comma-separated names (parenthesised notes are ignored; "nothing of ours" is none and
 * "everything" is every other module).
 */
export function readModuleTable(markdown: string): { allowed: Record<string, string[]>; owners: Record<string, string[]> } {
  const section = markdown.slice(markdown.indexOf('## Modules'));
  const rows = section
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  const body = rows.slice(2).filter((r) => r.length >= 3);
  const names = body.map((r) => r[0]!.replace(/`/g, '').replace(/\.ts$/, '').replace(/\/$/, ''));
  const list = (cell: string) =>
    cell
      .replace(/\([^)]*\)/g, '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '' && x !== 'nothing of ours');
  const allowed: Record<string, string[]> = {};
  const owners: Record<string, string[]> = {};
  body.forEach((r, i) => {
    const name = names[i]!;
    const may = list(r[2]!);
    allowed[name] = may.includes('everything') ? names.filter((n) => n !== name) : may;
    for (const pkg of list(r[3] ?? '')) (owners[pkg] ??= []).push(name);
  });
  return { allowed, owners };
}

const DOC = resolve(import.meta.dirname, '../docs/architecture.md');
const { allowed: ALLOWED, owners: OWNERS } = readModuleTable(readFileSync(DOC, 'utf8'));

/** File-level import graph (relative imports only), for the file cycle check. */
const fileEdges = new Map<string, string[]>();
for (const f of all) {
  const targets = valueImports(f)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => resolve(dirname(f), spec.replace(/\.js$/, '.ts')));
  fileEdges.set(f, targets);
}

/** Cycles in a graph, each as "a → b → a" (one per back edge found by a depth-first walk). */
function cyclesOf(graph: ReadonlyMap<string, Iterable<string>>, name: (n: string) => string = (n) => n): string[] {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (m: string, path: string[]) => {
    if (state.get(m) === 'done') return;
    if (state.get(m) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(m)), m].map(name).join(' → '));
      return;
    }
    state.set(m, 'visiting');
    for (const n of graph.get(m) ?? []) visit(n, [...path, m]);
    state.set(m, 'done');
  };
  for (const m of graph.keys()) visit(m, []);
  return cycles;
}

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
    expect(cyclesOf(edges)).toEqual([]);
  });

  it('the file graph has no cycles (value imports; `import type` is erased)', () => {
    expect(cyclesOf(fileEdges, (f) => relative(SRC, f))).toEqual([]);
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

  it('no test or script changes process.env (configuration is passed explicitly: loadConfig(env), run(argv, { env }))', () => {
    const root = resolve(import.meta.dirname, '..');
    const MUTATES = /process\.env\[[^\]]+\]\s*=[^=]|delete\s+process\.env|Object\.assign\(\s*process\.env|process\.env\s*=[^=]|process\.env\.\w+\s*=[^=]/;
    const offenders = [...files(resolve(root, 'test')), ...files(resolve(root, 'scripts'))]
      .filter((f) => f !== import.meta.filename && MUTATES.test(readFileSync(f, 'utf8')))
      .map((f) => relative(root, f));
    expect(offenders).toEqual([]);
    expect(MUTATES.test("process.env['X'] = 'y'") && MUTATES.test('delete process.env.X') && !MUTATES.test("process.env['X'] === 'y'")).toBe(true);
  });

  it('catches a forbidden arrow and a cycle (the checks themselves can fail)', () => {
    expect(ALLOWED['api']).not.toContain('sandbox');
    expect(moduleOf(join(SRC, 'api/routes/jobs.ts'))).toBe('api');
    const table = readModuleTable(
      '## Modules\n| module | owns | may import | owns packages |\n|---|---|---|---|\n| shared | x | nothing of ours | |\n| api | y | shared (types), queue | fastify |\n| main.ts | z | everything | |\n',
    );
    expect(table).toEqual({ allowed: { shared: [], api: ['shared', 'queue'], main: ['shared', 'api'] }, owners: { fastify: ['api'] } });
    expect(
      cyclesOf(
        new Map([
          ['a', ['b']],
          ['b', ['a']],
          ['c', []],
        ]),
      ),
    ).toEqual(['a → b → a']);
  });
});
