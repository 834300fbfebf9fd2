/**
 * examples/prometheus-rules.yml: valid rules (promtool check rules), and each alert fires on the
 * series that should fire it and not before (promtool test rules over
 * test/fixtures/prometheus-rules.test.yml). Every metric a rule reads is one Airlock exports.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { promtoolPath } from './helpers/promtool.js';

const ROOT = resolve(import.meta.dirname, '..');
const RULES = resolve(ROOT, 'examples/prometheus-rules.yml');

describe('examples/prometheus-rules.yml', () => {
  it('is valid for promtool', () => {
    const r = spawnSync(promtoolPath(), ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fires each alert on its series, and not on normal traffic (promtool test rules)', () => {
    const r = spawnSync(promtoolPath(), ['test', 'rules', 'prometheus-rules.test.yml'], { cwd: resolve(ROOT, 'test/fixtures'), encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('reads only metrics Airlock exports', () => {
    const exported = new Set([...readFileSync(resolve(ROOT, 'src/api/metrics/prom-metrics.ts'), 'utf8').matchAll(/name: '(airlock_[a-z_]+)'/g)].map((m) => m[1]!));
    const used = new Set([...readFileSync(RULES, 'utf8').matchAll(/\b(airlock_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
    expect([...used].filter((m) => !exported.has(m))).toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(7);
  });
});
