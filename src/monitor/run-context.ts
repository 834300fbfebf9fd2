/**
 * What detectors read, built once per run from its facts: the texts of what ran (input files,
 * the patch's added lines, inline scripts in argv), each with its decoded layers; the texts
 * it left (stdout, stderr, artifacts); the files a promotion would land (patch additions and
 * artifacts); the secrets it could reach; and the kernel's behaviour records.
 */
import type { PatchView } from '../shared/index.js';
import { decodeLayers, type Layer } from './decode-layers.js';
import type { EvidenceSource } from './finding.js';
import type { RunBehaviour, RunFacts } from './run-facts.js';
import { envSecrets, fileSecrets, type SecretValue } from './secrets.js';

export type TextKind = 'code' | 'config' | 'doc' | 'data';

export interface ScanText {
  readonly source: EvidenceSource;
  readonly path?: string;
  readonly kind: TextKind;
  readonly layers: readonly Layer[];
}

/** A file a promotion would put on staging: what a patch adds to it, or an artifact's content. */
export interface LandingFile {
  readonly path: string;
  readonly source: 'patch' | 'artifact';
  readonly text: string;
}

export interface RunContext {
  /** What ran: code files of the input tree, code the patch adds, inline scripts in argv. */
  readonly code: readonly ScanText[];
  /** What it left: stdout, stderr, artifacts. */
  readonly output: readonly ScanText[];
  readonly landing: readonly LandingFile[];
  /** The input tree's text files by path. */
  readonly inputFiles: ReadonlyMap<string, string>;
  readonly env: Readonly<Record<string, string>>;
  readonly secrets: readonly SecretValue[];
  readonly behaviour?: RunBehaviour;
}

const MAX_FILE_BYTES = 1024 * 1024;
const MAX_TEXTS = 400;

const CODE_EXT = /\.(?:py|pyw|pth|js|mjs|cjs|ts|mts|cts|jsx|tsx|sh|bash|zsh|ksh|pl|pm|rb|php|ps1|lua|rs|go|c|java)$/i;
const CODE_NAME = /(?:^|\/)(?:Makefile|GNUmakefile|makefile|Dockerfile|Jenkinsfile|Rakefile|Vagrantfile)$/;
const DOC_EXT = /\.(?:md|markdown|rst|txt|adoc|html?|pdf)$/i;
const CONFIG_EXT = /\.(?:json|ya?ml|toml|ini|cfg|conf|service|timer|socket|path|cron|xml|properties|env)$|(?:^|\/)\.[\w.-]+$|(?:^|\/)(?:crontab|CODEOWNERS)$/i;

export function kindOf(path: string, text: string): TextKind {
  if (CODE_EXT.test(path) || CODE_NAME.test(path) || text.startsWith('#!')) return 'code';
  if (DOC_EXT.test(path)) return 'doc';
  if (CONFIG_EXT.test(path)) return 'config';
  return 'data';
}

/** Text of bytes when they look like text (no NUL in the first 8 KiB), else undefined. */
export function textOf(bytes: Uint8Array | string): string | undefined {
  if (typeof bytes === 'string') return bytes.length > MAX_FILE_BYTES ? bytes.slice(0, MAX_FILE_BYTES) : bytes;
  const head = bytes.subarray(0, 8192);
  if (head.includes(0)) return undefined;
  return Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, MAX_FILE_BYTES)).toString('utf8');
}

export function buildContext(facts: RunFacts, patch: PatchView | undefined): RunContext {
  const inputFiles = new Map<string, string>();
  for (const f of facts.input?.files ?? []) {
    const t = textOf(f.content);
    if (t !== undefined) inputFiles.set(f.path, t);
  }
  const argv = facts.input?.argv ?? [];
  const code: ScanText[] = [];
  const scripts = new Set(argv.filter((a) => inputFiles.has(a.replace(/^\.\//, ''))).map((a) => a.replace(/^\.\//, '')));
  for (const [path, text] of inputFiles) {
    const kind = scripts.has(path) ? 'code' : kindOf(path, text);
    if (kind === 'code' && code.length < MAX_TEXTS) code.push({ source: 'code', path, kind, layers: decodeLayers(text) });
  }
  const sections = facts.patch === undefined ? [] : patchSections(facts.patch, patch);
  for (const s of sections)
    if (kindOf(s.path, s.text) === 'code' && code.length < MAX_TEXTS) code.push({ source: 'patch', path: s.path, kind: 'code', layers: decodeLayers(s.text) });
  if (argv.length > 0) code.push({ source: 'argv', kind: 'code', layers: decodeLayers(argv.join(' ')) });
  const output: ScanText[] = [];
  for (const [source, bytes] of [
    ['stdout', facts.stdout],
    ['stderr', facts.stderr],
  ] as const) {
    const t = bytes === undefined ? undefined : textOf(bytes);
    if (t !== undefined && t !== '') output.push({ source, kind: 'data', layers: decodeLayers(t) });
  }
  const landing: LandingFile[] = sections.map((s) => ({ path: s.path, source: 'patch' as const, text: s.text }));
  for (const a of facts.artifacts ?? []) {
    const t = textOf(a.content);
    if (t === undefined) continue;
    landing.push({ path: a.path, source: 'artifact', text: t });
    if (output.length < MAX_TEXTS) output.push({ source: 'artifact', path: a.path, kind: kindOf(a.path, t), layers: decodeLayers(t) });
  }
  const env = facts.input?.env ?? {};
  const secrets: SecretValue[] = [
    ...envSecrets(env),
    ...fileSecrets(inputFiles),
    ...(facts.secrets ?? []).map((s) => ({ name: s.name, origin: 'credential' as const, value: s.value })),
  ];
  return { code, output, landing, inputFiles, env, secrets, ...(facts.behaviour !== undefined ? { behaviour: facts.behaviour } : {}) };
}

/**
 * The lines each file section of a patch adds, by path. Paths are git's reading (`view`) when
 * it lines up with the sections found here; otherwise the `+++` line's, without its prefix.
 */
export function patchSections(patch: string, view: PatchView | undefined): { path: string; text: string }[] {
  const sections: { path: string; lines: string[] }[] = [];
  let current: { path: string; lines: string[] } | undefined;
  let inHunk = false;
  for (const line of patch.split('\n')) {
    if (line.startsWith('diff --git ')) {
      current = undefined;
      inHunk = false;
    } else if (line.startsWith('+++ ') && !inHunk) {
      const raw = line
        .slice(4)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      current = { path: raw === '/dev/null' ? '' : raw.replace(/^[^/]+\//, ''), lines: [] };
      sections.push(current);
    } else if (line.startsWith('@@')) inHunk = current !== undefined;
    else if (inHunk && line.startsWith('+')) current?.lines.push(line.slice(1));
    else if (inHunk && !line.startsWith('-') && !line.startsWith(' ') && !line.startsWith('\\')) inHunk = false;
  }
  const gitPaths = view?.files.map((f) => f.path) ?? [];
  const aligned = gitPaths.length === sections.length;
  return sections.map((s, i) => ({ path: aligned ? gitPaths[i]! : s.path, text: s.lines.join('\n') })).filter((s) => s.path !== '');
}
