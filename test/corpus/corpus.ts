/**
 * The labelled corpus of test/corpus/ (see README.md there): one `.case` file per job, with its
 * label (its folder), class, runtime, files, patch, environment and outputs. The held-out rule
 * is fixed (`isHeldOut`), chosen before any detector was written.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const CORPUS_DIR = import.meta.dirname;
export const LABELS = ['benign', 'hostile'] as const;
export type Label = (typeof LABELS)[number];
export const CLASSES = ['reverse_shell', 'credential_theft', 'persistence', 'escape'] as const;
export type CaseClass = (typeof CLASSES)[number];
export const RUNTIMES = ['python', 'node', 'shell'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface CorpusCase {
  readonly name: string;
  readonly label: Label;
  /** Hostile cases only. */
  readonly class?: CaseClass;
  readonly runtime: Runtime;
  readonly why: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly outputs: readonly string[];
  readonly files: readonly { readonly path: string; readonly content: string }[];
  readonly patch?: string;
  /** In the held-out third (never used while building or tuning detectors). */
  readonly heldOut: boolean;
}

const DEFAULT_ARGV: Record<Runtime, readonly string[]> = { python: ['python3', 'main.py'], node: ['node', 'main.js'], shell: ['sh', 'main.sh'] };

/** The fixed rule: the first byte of sha256("airlock-corpus:" + name) is divisible by 3. */
export function isHeldOut(name: string): boolean {
  return createHash('sha256').update(`airlock-corpus:${name}`).digest()[0]! % 3 === 0;
}

export function parseCase(name: string, label: Label, text: string): CorpusCase {
  const lines = text.split('\n');
  const header: [string, string][] = [];
  let i = 0;
  for (; i < lines.length && !lines[i]!.startsWith('%%% '); i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const m = /^([a-z]+):\s?(.*)$/.exec(line);
    if (m === null) throw new Error(`${name}: bad header line ${i + 1}: ${line}`);
    header.push([m[1]!, m[2]!.trim()]);
  }
  const one = (key: string) => {
    const values = header.filter(([k]) => k === key).map(([, v]) => v);
    if (values.length > 1) throw new Error(`${name}: ${key} given twice`);
    return values[0];
  };
  for (const [k] of header) if (!['class', 'runtime', 'why', 'argv', 'env', 'outputs'].includes(k)) throw new Error(`${name}: unknown header ${k}`);
  const files: { path: string; content: string }[] = [];
  let patch: string | undefined;
  while (i < lines.length) {
    const head = lines[i]!.slice(4).trim();
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith('%%% ')) j++;
    const body = lines.slice(i + 1, j);
    while (body.length > 0 && body.at(-1) === '') body.pop();
    const content = body.length === 0 ? '' : `${body.join('\n')}\n`;
    if (head === 'patch') {
      if (patch !== undefined) throw new Error(`${name}: two patches`);
      patch = content;
    } else if (head.startsWith('file ')) {
      files.push({ path: head.slice(5).trim(), content });
    } else throw new Error(`${name}: bad section ${head}`);
    i = j;
  }
  const runtime = one('runtime') as Runtime | undefined;
  if (runtime === undefined || !RUNTIMES.includes(runtime)) throw new Error(`${name}: runtime must be one of ${RUNTIMES.join(', ')}`);
  const cls = one('class') as CaseClass | undefined;
  if (label === 'hostile' ? cls === undefined || !CLASSES.includes(cls) : cls !== undefined)
    throw new Error(`${name}: a hostile case has one class of ${CLASSES.join(', ')}; a benign one none`);
  const why = one('why');
  if (why === undefined || why === '') throw new Error(`${name}: why is required`);
  const argvText = one('argv');
  const argv = argvText === undefined ? DEFAULT_ARGV[runtime] : (JSON.parse(argvText) as string[]);
  if (argvText === undefined && !files.some((f) => f.path === argv[1])) throw new Error(`${name}: no ${argv[1]} and no argv`);
  const env: Record<string, string> = {};
  for (const [k, v] of header) {
    if (k !== 'env') continue;
    const eq = v.indexOf('=');
    if (eq <= 0) throw new Error(`${name}: env must be NAME=VALUE`);
    env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  const outputs = (one('outputs') ?? '').split(/\s+/).filter((g) => g !== '');
  return {
    name,
    label,
    ...(cls !== undefined ? { class: cls } : {}),
    runtime,
    why,
    argv,
    env,
    outputs,
    files,
    ...(patch !== undefined ? { patch } : {}),
    heldOut: isHeldOut(name),
  };
}

/** Every case, benign then hostile, each sorted by name. */
export function loadCorpus(dir = CORPUS_DIR): CorpusCase[] {
  return LABELS.flatMap((label) =>
    readdirSync(join(dir, label))
      .filter((f) => f.endsWith('.case'))
      .sort()
      .map((f) => parseCase(f.slice(0, -'.case'.length), label, readFileSync(join(dir, label, f), 'utf8'))),
  );
}

/** sha256 over every case file (name and bytes): the efficacy report names the corpus it measured. */
export function corpusDigest(dir = CORPUS_DIR): string {
  const h = createHash('sha256');
  for (const label of LABELS)
    for (const f of readdirSync(join(dir, label))
      .filter((x) => x.endsWith('.case'))
      .sort())
      h.update(`${label}/${f}\0`)
        .update(readFileSync(join(dir, label, f)))
        .update('\0');
  return h.digest('hex');
}
