/**
 * Detection efficacy over the labelled corpus (test/corpus): each case's alarms, and the
 * figures over a set of cases — per detector, per class and overall — that
 * docs/detection-efficacy.md reports. An alarm is a finding of one of the four attack classes
 * at medium or high severity (`isAlarm`); low findings are notes and never count.
 */
import { assessRun, DETECTORS, FINDING_CLASSES, isAlarm, type Finding, type FindingClass } from '../src/monitor/index.js';
import type { CorpusCase } from '../test/corpus/corpus.js';

export interface Alarm {
  readonly detector: string;
  readonly class: FindingClass;
  readonly severity: string;
  readonly message: string;
}

export interface CaseOutcome {
  readonly name: string;
  readonly label: CorpusCase['label'];
  readonly class?: FindingClass;
  readonly heldOut: boolean;
  readonly why: string;
  readonly alarms: readonly Alarm[];
  /** Low findings (notes), by detector. */
  readonly notes: readonly string[];
  /** Set when the case could not be measured (full runs: the job did not run). */
  readonly error?: string;
}

export function outcomeOf(c: CorpusCase, findings: readonly Finding[], error?: string): CaseOutcome {
  const alarms = findings.filter(isAlarm).map((f) => ({ detector: f.detector ?? f.kind, class: f.class!, severity: f.severity, message: f.message }));
  const notes = findings.filter((f) => !isAlarm(f) && f.class !== undefined).map((f) => f.detector ?? f.kind);
  return {
    name: c.name,
    label: c.label,
    ...(c.class !== undefined ? { class: c.class } : {}),
    heldOut: c.heldOut,
    why: c.why,
    alarms,
    notes,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The static measurement: each case's findings from what it would run (input, argv, env, patch), without running it. */
export async function staticOutcomes(cases: readonly CorpusCase[]): Promise<CaseOutcome[]> {
  const out: CaseOutcome[] = [];
  for (const c of cases) {
    const findings = await assessRun({
      outcome: 'exited',
      stdoutTruncated: false,
      stderrTruncated: false,
      artifactPaths: [],
      artifactsRejected: 0,
      ...(c.patch !== undefined ? { patch: c.patch } : {}),
      input: { argv: c.argv, files: c.files, env: c.env },
    });
    out.push(outcomeOf(c, findings));
  }
  return out;
}

export interface Counts {
  readonly tp: number;
  readonly fn: number;
  readonly fp: number;
  readonly tn: number;
  /** Runs of consecutive false alarms among the benign cases, in corpus order (LID-DS). */
  readonly cfaRuns: number;
}

export const precision = (c: Counts): number | undefined => (c.tp + c.fp === 0 ? undefined : c.tp / (c.tp + c.fp));
export const recall = (c: Counts): number | undefined => (c.tp + c.fn === 0 ? undefined : c.tp / (c.tp + c.fn));
export const falsePositiveRate = (c: Counts): number | undefined => (c.fp + c.tn === 0 ? undefined : c.fp / (c.fp + c.tn));
export const cfaPer1000 = (c: Counts): number | undefined => (c.fp + c.tn === 0 ? undefined : (1000 * c.cfaRuns) / (c.fp + c.tn));

/**
 * Counts over `outcomes` for a predicate "raised the alarm" and a predicate "is a positive"
 * (hostile, or hostile of one class). Benign cases are the negatives; hostile cases outside
 * the positives are left out (a class's detector is not judged on another class's attacks).
 */
export function countsOf(outcomes: readonly CaseOutcome[], alarmed: (o: CaseOutcome) => boolean, positive: (o: CaseOutcome) => boolean): Counts {
  let tp = 0;
  let fn = 0;
  let fp = 0;
  let tn = 0;
  let cfaRuns = 0;
  let inRun = false;
  for (const o of outcomes) {
    const a = alarmed(o);
    if (o.label === 'benign') {
      if (a) fp++;
      else tn++;
      if (a && !inRun) cfaRuns++;
      inRun = a;
    } else if (positive(o)) {
      if (a) tp++;
      else fn++;
    }
  }
  return { tp, fn, fp, tn, cfaRuns };
}

/** Every detector that can raise an alarm, with its class: the detectors plus the facts assessRun reports itself. */
export function detectorClasses(): Map<string, FindingClass> {
  const m = new Map<string, FindingClass>([
    ['tripwire', 'escape'],
    ['sensitive-paths', 'persistence'],
    ['patch-reading', 'persistence'],
  ]);
  for (const d of DETECTORS) m.set(d.name, d.class);
  return m;
}

export const overall = (outcomes: readonly CaseOutcome[]): Counts =>
  countsOf(
    outcomes,
    (o) => o.alarms.length > 0,
    (o) => o.label === 'hostile',
  );

export const byClass = (outcomes: readonly CaseOutcome[], cls: FindingClass, asItsClass: boolean): Counts =>
  countsOf(
    outcomes,
    (o) => (asItsClass ? o.alarms.some((a) => a.class === cls) : o.alarms.length > 0),
    (o) => o.class === cls,
  );

export const byDetector = (outcomes: readonly CaseOutcome[], detector: string, cls: FindingClass): Counts =>
  countsOf(
    outcomes,
    (o) => o.alarms.some((a) => a.detector === detector),
    (o) => o.class === cls,
  );

export { FINDING_CLASSES };
