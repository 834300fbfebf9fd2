/**
 * What a detector is, and the helpers every detector uses to find a pattern in the layers of a
 * run's texts and to turn what it found into a finding with evidence.
 */
import type { Layer } from '../decode-layers.js';
import type { Evidence, Finding, FindingClass, Severity } from '../finding.js';
import type { RunContext, ScanText, TextKind } from '../run-context.js';

export interface Detector {
  /** Stable name (kebab-case), reported per detector in docs/detection-efficacy.md. */
  readonly name: string;
  readonly class: FindingClass;
  detect(ctx: RunContext): Finding[];
}

export interface Hit {
  readonly text: ScanText;
  readonly layer: Layer;
  readonly index: number;
  readonly match: string;
}

const MAX_HITS = 50;
const EXCERPT_CHARS = 160;

/** Every match of `rx` in the layers of `texts` (of the given kinds), at most a few per layer. */
export function findAll(texts: readonly ScanText[], rx: RegExp, kinds: readonly TextKind[] = ['code']): Hit[] {
  const g = new RegExp(rx.source, rx.flags.includes('g') ? rx.flags : `${rx.flags}g`);
  const hits: Hit[] = [];
  for (const text of texts) {
    if (!kinds.includes(text.kind)) continue;
    for (const layer of text.layers) {
      let n = 0;
      for (const m of layer.text.matchAll(g)) {
        hits.push({ text, layer, index: m.index, match: m[0] });
        if (++n >= 5 || hits.length >= MAX_HITS) break;
      }
      if (hits.length >= MAX_HITS) return hits;
    }
  }
  return hits;
}

/** Whether any layer of `text` matches `rx`. */
export function anyLayer(text: ScanText, rx: RegExp): boolean {
  return text.layers.some((l) => rx.test(l.text));
}

/** The line around a hit, cut to a readable excerpt with control characters escaped. */
export function excerptAt(text: string, index: number): string {
  const start = text.lastIndexOf('\n', index - 1) + 1;
  let end = text.indexOf('\n', index);
  if (end < 0) end = text.length;
  let from = start;
  let to = end;
  if (to - from > EXCERPT_CHARS) {
    from = Math.max(start, index - EXCERPT_CHARS / 2);
    to = Math.min(end, from + EXCERPT_CHARS);
  }
  const body = text.slice(from, to).trim();
  // eslint-disable-next-line no-control-regex
  const safe = body.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `${from > start ? '…' : ''}${safe}${to < end ? '…' : ''}`;
}

export function evidenceOf(hit: Hit): Evidence {
  const original = hit.layer.decoded.length === 0;
  const line = original ? hit.layer.text.slice(0, hit.index).split('\n').length : undefined;
  const decoded = hit.layer.executed ? [...hit.layer.decoded, 'executed'] : hit.layer.decoded;
  return {
    source: hit.text.source,
    ...(hit.text.path !== undefined ? { path: hit.text.path } : {}),
    ...(line !== undefined ? { line } : {}),
    excerpt: excerptAt(hit.layer.text, hit.index),
    ...(decoded.length > 0 ? { decoded } : {}),
  };
}

/** One finding of `detector` over `evidence` (deduplicated, at most 10 kept). */
export function finding(detector: Detector, kind: string, severity: Severity, message: string, evidence: readonly Evidence[]): Finding {
  const seen = new Set<string>();
  const kept = evidence.filter((e) => {
    const key = `${e.source}|${e.path ?? ''}|${e.line ?? ''}|${e.excerpt}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const first = kept[0];
  const where =
    first === undefined
      ? ''
      : ` (${first.path ?? first.source}${first.line !== undefined ? `:${first.line}` : ''}${first.decoded !== undefined ? `, ${first.decoded.join(' → ')}` : ''})`;
  return { kind, severity, message: `${message}${where}`, detector: detector.name, class: detector.class, evidence: kept.slice(0, 10) };
}

export const maxSeverity = (a: Severity, b: Severity): Severity => (['low', 'medium', 'high'].indexOf(a) >= ['low', 'medium', 'high'].indexOf(b) ? a : b);
