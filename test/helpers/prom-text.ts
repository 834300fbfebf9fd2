/**
 * A strict reader of the Prometheus text exposition format (0.0.4): HELP and TYPE lines, samples
 * with escaped label values, one TYPE per family declared before its samples. Anything else
 * throws, so a malformed /metrics fails the test that reads it. promtool (`check metrics`) is the
 * reference parser; this one gives the test the values.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Exposition {
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the one sample with this name and these labels (all of them); undefined when none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const fail = (why: string) => new Error(`line ${i + 1}: ${why}: ${line}`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a comment
      if (!NAME.test(m[2]!)) throw fail('bad metric name');
      if (m[1] === 'TYPE') {
        if (!TYPES.has(m[3]!)) throw fail('unknown type');
        if (types.has(m[2]!)) throw fail('second TYPE');
        types.set(m[2]!, m[3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    if (m === null) throw fail('not a sample');
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4] === 'NaN' ? NaN : Number(m[4]);
    if (Number.isNaN(value) && m[4] !== 'NaN') throw fail('bad value');
    const family = [...types.keys()].find((f) => m[1] === f || (/_(bucket|sum|count|total|created)$/.test(m[1]!) && m[1]!.replace(/_(bucket|sum|count|total|created)$/, '') === f));
    if (family === undefined) throw fail('sample before its TYPE');
    samples.push({ name: m[1]!, labels: parseLabels(m[3] ?? '', fail), value });
  }
  return {
    types,
    samples,
    value(name, labels = {}) {
      const want = Object.entries(labels);
      const found = samples.filter((s) => s.name === name && Object.keys(s.labels).length === want.length && want.every(([k, v]) => s.labels[k] === v));
      if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${found.length} samples`);
      return found[0]?.value;
    },
  };
}

function parseLabels(text: string, fail: (why: string) => Error): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = text;
  while (rest !== '') {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/.exec(rest);
    if (m === null) throw fail('bad labels');
    if (m[1]! in out) throw fail('repeated label');
    out[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(m[0].length);
  }
  return out;
}
