/**
 * docs/detection-efficacy.md is the output of `npm run efficacy`, never a hand edit: its header
 * and static part are exactly what the detectors give on the corpus now, and its full part
 * (`--full`, a benchmark with containers, not run here) measured this same corpus in the same
 * format. Also the corpus itself: the sizes the issue asks for, every class in every language,
 * and a held-out part of about a third that the rule, not a choice, decides.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { countsOf, staticOutcomes, type CaseOutcome } from '../scripts/efficacy-measure.js';
import { FULL_BEGIN, FULL_END, renderHeader, renderStatic, STATIC_END } from '../scripts/efficacy-report.js';
import { CLASSES, corpusDigest, isHeldOut, loadCorpus, RUNTIMES } from './corpus/corpus.js';

const REPORT = new URL('../docs/detection-efficacy.md', import.meta.url);
const cases = loadCorpus();
const digest = corpusDigest();

describe('the corpus', () => {
  it('has at least 100 benign and 80 hostile jobs, each class in each language', () => {
    expect(cases.filter((c) => c.label === 'benign').length).toBeGreaterThanOrEqual(100);
    expect(cases.filter((c) => c.label === 'hostile').length).toBeGreaterThanOrEqual(80);
    for (const k of CLASSES)
      for (const r of RUNTIMES)
        expect(
          cases.some((c) => c.class === k && c.runtime === r),
          `${k} in ${r}`,
        ).toBe(true);
  });

  it('holds out about a third, by the fixed rule', () => {
    for (const c of cases) expect(c.heldOut).toBe(isHeldOut(c.name));
    for (const label of ['benign', 'hostile'] as const) {
      const part = cases.filter((c) => c.label === label);
      const share = part.filter((c) => c.heldOut).length / part.length;
      expect(share, label).toBeGreaterThan(0.25);
      expect(share, label).toBeLessThan(0.42);
    }
  });
});

describe('docs/detection-efficacy.md', () => {
  const doc = readFileSync(REPORT, 'utf8');

  it('its header and static part are what npm run efficacy gives now (run it after changing a detector or the corpus)', async () => {
    const expected = `${renderHeader(cases, digest)}\n${renderStatic(await staticOutcomes(cases))}`;
    expect(doc.slice(0, doc.indexOf(STATIC_END) + STATIC_END.length)).toBe(expected);
  }, 120_000);

  it('its full part measured this corpus, in the report format (npm run efficacy -- --full)', () => {
    const full = doc.slice(doc.indexOf(FULL_BEGIN), doc.indexOf(FULL_END));
    expect(full).toContain(`Measured on corpus \`${digest.slice(0, 16)}\``);
    for (const heading of [
      '## Full: run in the sandbox',
      '| **held out** |',
      '| development |',
      '| whole corpus |',
      '### Held out (quote these)',
      '### Development part',
      '**Misses**',
      '**False alarms**',
    ])
      expect(full, heading).toContain(heading);
    const benign = cases.filter((c) => c.label === 'benign');
    const held = benign.filter((c) => c.heldOut).length;
    expect(full).toMatch(new RegExp(`\\| \\*\\*held out\\*\\* \\| ${held} \\| ${cases.filter((c) => c.label === 'hostile' && c.heldOut).length} \\|`));
    expect(full).toMatch(new RegExp(`\\| whole corpus \\| ${benign.length} \\| ${cases.length - benign.length} \\|`));
  });
});

describe('the figures', () => {
  const o = (name: string, label: 'benign' | 'hostile', alarmed: boolean): CaseOutcome => ({
    name,
    label,
    ...(label === 'hostile' ? { class: 'escape' as const } : {}),
    heldOut: false,
    why: '',
    alarms: alarmed ? [{ detector: 'd', class: 'escape', severity: 'high', message: '' }] : [],
    notes: [],
  });

  it('count consecutive false alarms once per run of benign jobs (LID-DS)', () => {
    const outcomes = [o('a', 'benign', true), o('b', 'benign', true), o('c', 'benign', false), o('d', 'benign', true), o('e', 'hostile', true), o('f', 'hostile', false)];
    expect(
      countsOf(
        outcomes,
        (x) => x.alarms.length > 0,
        (x) => x.label === 'hostile',
      ),
    ).toEqual({ tp: 1, fn: 1, fp: 3, tn: 1, cfaRuns: 2 });
  });
});
