/**
 * Findings from one finished run: facts a reviewer must see before a result goes anywhere.
 * Pure and cheap, so the worker computes them for every job and stores them with the result.
 */
import type { SandboxResult } from '../sandbox/index.js';
import type { Finding } from './finding.js';

/**
 * Paths whose change alters how code is built, tested or deployed (or hooks into git):
 * a patch or artifact touching them can turn staging into a foothold.
 */
const SENSITIVE_PATHS: readonly RegExp[] = [
  /^\.github\//,
  /^\.gitlab-ci\.ya?ml$/,
  /^\.circleci\//,
  /^\.ci\//,
  /(^|\/)Jenkinsfile$/,
  /^\.buildkite\//,
  /(^|\/)\.git\//,
  /(^|\/)\.gitmodules$/,
  /(^|\/)\.npmrc$/,
];

export interface RunFacts {
  readonly outcome: SandboxResult['outcome'];
  readonly violation?: SandboxResult['violation'];
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly artifactPaths: readonly string[];
  readonly artifactsRejected: number;
  /** The job's patch, if it had one. */
  readonly patch?: string;
}

export function assessRun(run: RunFacts): Finding[] {
  const findings: Finding[] = [];
  // a tripwire counts whatever the run's end: a child may trip the policy, then the job time out
  if (run.outcome === 'policy_violation' || run.violation !== undefined) {
    findings.push({
      kind: 'policy_violation',
      severity: 'high',
      message: `the program tripped the sandbox policy${run.violation?.syscall ? ` (syscall ${run.violation.syscall})` : ''}${run.outcome === 'policy_violation' ? '' : `, then ended as ${run.outcome}`}`,
      details: { syscall: run.violation?.syscall ?? null, verified: run.violation?.verified ?? false },
    });
  }
  const touched = [...new Set([...patchPaths(run.patch ?? ''), ...run.artifactPaths])].filter((p) => SENSITIVE_PATHS.some((re) => re.test(p))).sort();
  if (touched.length > 0) {
    findings.push({
      kind: 'ci_config_change',
      severity: 'high',
      message: `changes build, CI or git configuration: ${touched.slice(0, 5).join(', ')}`,
      details: { paths: touched.slice(0, 50) },
    });
  }
  if (run.artifactsRejected > 0) {
    findings.push({ kind: 'artifacts_rejected', severity: 'medium', message: `${run.artifactsRejected} output file(s) were refused (links, specials or over the limits)` });
  }
  if (run.stdoutTruncated || run.stderrTruncated) {
    findings.push({ kind: 'output_truncated', severity: 'low', message: 'stdout or stderr hit the output limit; a reviewer sees only the first part' });
  }
  return findings;
}

/** Paths a unified diff touches (both sides of renames), without the a/ b/ prefixes. */
export function patchPaths(patch: string): string[] {
  const out = new Set<string>();
  for (const line of patch.split('\n')) {
    const m = /^(?:\+\+\+|---) (?:[ab]\/)?(\S+)/.exec(line) ?? /^diff --git a\/(\S+) b\/(\S+)/.exec(line);
    if (m === null) continue;
    for (const p of m.slice(1)) if (p !== undefined && p !== '/dev/null') out.add(p);
  }
  return [...out];
}
