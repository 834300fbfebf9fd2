import { describe, expect, it } from 'vitest';
import { compileGlob, invalidGlobReason } from '../src/shared/index.js';

describe('globs for outputs', () => {
  const m = (pattern: string, path: string) => compileGlob(pattern).test(path);
  it('matches within and across segments, and whole directories', () => {
    expect(m('out/*.txt', 'out/a.txt')).toBe(true);
    expect(m('out/*.txt', 'out/sub/a.txt')).toBe(false);
    expect(m('out/**/*.txt', 'out/a.txt')).toBe(true);
    expect(m('out/**/*.txt', 'out/x/y/a.txt')).toBe(true);
    expect(m('out/**/*.txt', 'out/x/y/a.log')).toBe(false);
    expect(m('dist', 'dist/x/f')).toBe(true);
    expect(m('dist/', 'dist/f')).toBe(true);
    expect(m('dist', 'distribution/f')).toBe(false);
    expect(m('a?c', 'abc')).toBe(true);
    expect(m('a?c', 'abbc')).toBe(false);
    expect(m('**', 'anything/at/all')).toBe(true);
    expect(m('*a*a*b', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab')).toBe(true);
  });

  it('stays fast on hostile patterns over deep paths (no backtracking)', () => {
    const deep = Array.from({ length: 200 }, () => 'd').join('/');
    const t0 = performance.now();
    expect(compileGlob('**/**/**/**/x').test(deep)).toBe(false);
    expect(compileGlob('*a*a*a*a*a*a*a*a*b').test('a'.repeat(5000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000); // a backtracking regex takes hours here
  });

  it('refuses unsafe or overly wild patterns', () => {
    expect(invalidGlobReason('../x')).toMatch(/climb/);
    expect(invalidGlobReason('/etc')).toMatch(/relative/);
    expect(invalidGlobReason(`${'**/'.repeat(5)}x`)).toMatch(/"\*\*"/);
    expect(invalidGlobReason('a**b')).toMatch(/whole segment/);
    expect(invalidGlobReason('*'.repeat(17))).toMatch(/wildcards/);
    expect(invalidGlobReason('out/**/*.txt')).toBeUndefined();
  });
});
