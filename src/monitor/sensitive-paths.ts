/**
 * Paths whose change alters how code is built, tested, deployed or reviewed, or that hooks
 * into git or a package manager: a patch or artifact touching one can turn staging into a
 * foothold. The one list and the one matcher: the worker's findings use the default, the
 * approval policy (`sensitivePaths`) may replace it, and the review gate passes the policy's
 * rules in, so a job's finding and a promotion's risk are read the same way.
 */
import { compileGlob, isGitName, type GlobMatcher } from '../shared/index.js';
import type { Finding } from './finding.js';

/**
 * Globs (shared/glob.ts: `*` one segment, `**` any depth, a folder matches what is under it),
 * matched case-insensitively: on a case-insensitive checkout `.GitHub/` is `.github/`.
 */
export const DEFAULT_SENSITIVE_PATHS: readonly string[] = [
  // CI systems: GitHub, GitLab, CircleCI, Buildkite, Jenkins, Travis, Azure, Bitbucket, Drone, and kin
  '.github',
  '.gitlab',
  '.gitlab-ci.yml',
  '.gitlab-ci.yaml',
  '.circleci',
  '.buildkite',
  'buildkite.yml',
  'buildkite.yaml',
  '**/Jenkinsfile',
  '**/Jenkinsfile.*',
  '**/*.jenkinsfile',
  '.jenkins',
  '.travis.yml',
  '.travis.yaml',
  '.travis',
  'azure-pipelines.yml',
  'azure-pipelines.yaml',
  '.azure-pipelines',
  '.azuredevops',
  '.pipelines',
  'bitbucket-pipelines.yml',
  'bitbucket-pipelines.yaml',
  '.drone.yml',
  '.drone.yaml',
  '.drone.jsonnet',
  '.drone.star',
  '.ci',
  'appveyor.yml',
  '.appveyor.yml',
  '.woodpecker',
  '.woodpecker.yml',
  '.woodpecker.yaml',
  '.cirrus.yml',
  '.cirrus.star',
  '.semaphore',
  '.tekton',
  'cloudbuild.yaml',
  'cloudbuild.yml',
  'buildspec.yml',
  'buildspec.yaml',
  'codefresh.yml',
  // who must review what
  'CODEOWNERS',
  'docs/CODEOWNERS',
  // git hooks and git config (a `.git` segment anywhere is always sensitive: see pathFindings)
  '**/.gitmodules',
  '**/.gitattributes',
  '.husky',
  '.githooks',
  '.pre-commit-config.yaml',
  '.pre-commit-hooks.yaml',
  'lefthook.yml',
  'lefthook.yaml',
  '.lefthook.yml',
  '.lefthook.yaml',
  '.lefthook',
  // package manager config (registries, tokens, install scripts, wrappers that download code)
  '**/.npmrc',
  '**/.yarnrc',
  '**/.yarnrc.yml',
  '.yarn',
  '**/.pnpmfile.cjs',
  '**/bunfig.toml',
  '**/.pypirc',
  '**/pip.conf',
  '**/.condarc',
  '**/.cargo/config',
  '**/.cargo/config.toml',
  '**/.gemrc',
  '**/.bundle/config',
  '**/nuget.config',
  '**/.mvn',
  '**/gradle/wrapper',
  // run on open or on cd
  '.devcontainer',
  '.vscode/tasks.json',
  '.envrc',
];

export interface SensitivePathRules {
  /** Sensitive on every target: a change is a high finding (the security group decides). */
  readonly paths: readonly string[];
  /**
   * Root dotfiles (a path whose first segment starts with `.`) are sensitive on automatic
   * targets (deny by default) unless one of these globs matches, e.g. `.editorconfig`.
   */
  readonly allowRootDotfiles: readonly string[];
}

export const DEFAULT_SENSITIVE_PATH_RULES: SensitivePathRules = { paths: DEFAULT_SENSITIVE_PATHS, allowRootDotfiles: [] };

/** Kinds of the findings below: the review gate recomputes them with the policy's rules. */
export const PATH_FINDING_KINDS: ReadonlySet<string> = new Set(['ci_config_change', 'root_dotfile_change']);

const compiled = new WeakMap<readonly string[], GlobMatcher[]>();
function matchers(globs: readonly string[]): GlobMatcher[] {
  let m = compiled.get(globs);
  if (m === undefined) compiled.set(globs, (m = globs.map((g) => compileGlob(g.toLowerCase()))));
  return m;
}

const matchesAny = (path: string, globs: readonly string[]) => matchers(globs).some((m) => m.test(path.toLowerCase()));

/**
 * Findings for the paths a result touches: `ci_config_change` (high) for the sensitive list;
 * `root_dotfile_change` for other root dotfiles, high where `automatic` (no human would
 * look), medium otherwise.
 */
export function pathFindings(paths: Iterable<string>, rules: SensitivePathRules, opts: { automatic: boolean }): Finding[] {
  const sensitive = new Set<string>();
  const dotfiles = new Set<string>();
  for (const p of paths) {
    if (p.split('/').some(isGitName) || matchesAny(p, rules.paths)) sensitive.add(p);
    else if (p.startsWith('.') && !matchesAny(p, rules.allowRootDotfiles)) dotfiles.add(p);
  }
  const findings: Finding[] = [];
  if (sensitive.size > 0) {
    const list = [...sensitive].sort();
    findings.push({
      kind: 'ci_config_change',
      severity: 'high',
      message: `changes build, CI, review, git or package-manager configuration: ${list.slice(0, 5).join(', ')}`,
      details: { paths: list.slice(0, 50) },
      ...pathEvidence(list),
    });
  }
  if (dotfiles.size > 0) {
    const list = [...dotfiles].sort();
    findings.push({
      kind: 'root_dotfile_change',
      severity: opts.automatic ? 'high' : 'medium',
      message: `changes root dotfiles${opts.automatic ? ' (never promoted automatically)' : ''}: ${list.slice(0, 5).join(', ')}`,
      details: { paths: list.slice(0, 50) },
      ...pathEvidence(list),
    });
  }
  return findings;
}

/** The detector fields of a path finding: its paths as evidence. */
function pathEvidence(paths: readonly string[]): Pick<Finding, 'detector' | 'class' | 'evidence'> {
  return { detector: 'sensitive-paths', class: 'persistence', evidence: paths.slice(0, 10).map((p) => ({ source: 'paths', path: p, excerpt: p })) };
}
