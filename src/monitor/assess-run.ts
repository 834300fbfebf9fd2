/**
 * Findings from one finished run: facts a reviewer must see before a result goes anywhere.
 * The worker computes them for every job and stores them with the result. A patch's files
 * are git's reading of it (shared/read-patch), the one the review gate and the git target use.
 */
import { PATCH_REFUSED_PREFIX, type SandboxResult } from '../sandbox/index.js';
import { irregularChanges, isAppError, readPatch, type PatchView } from '../shared/index.js';
import type { Finding } from './finding.js';
import { DEFAULT_SENSITIVE_PATH_RULES, pathFindings, type SensitivePathRules } from './sensitive-paths.js';

export interface RunFacts {
  readonly outcome: SandboxResult['outcome'];
  readonly violation?: SandboxResult['violation'];
  readonly stdoutTruncated: boolean;
  readonly stderrTruncated: boolean;
  readonly artifactPaths: readonly string[];
  readonly artifactsRejected: number;
  /** The job's patch, if it had one. */
  readonly patch?: string;
  /** The launcher's message when the patch was not applied. */
  readonly patchMessage?: string;
}

export async function assessRun(run: RunFacts, rules: SensitivePathRules = DEFAULT_SENSITIVE_PATH_RULES): Promise<Finding[]> {
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
  const patch = run.patch === undefined ? undefined : await patchFacts(run.patch);
  if (run.outcome === 'patch_failed' && run.patchMessage?.startsWith(PATCH_REFUSED_PREFIX)) {
    findings.push({ kind: 'patch_refused', severity: 'high', message: run.patchMessage.split('\n')[0]!.slice(0, 500) });
  } else if (patch?.unreadable !== undefined) {
    findings.push({ kind: 'patch_refused', severity: 'high', message: patch.unreadable.slice(0, 500) });
  }
  findings.push(...pathFindings(new Set([...(patch?.view?.paths ?? []), ...run.artifactPaths]), rules, { automatic: false }));
  const irregular = patch?.view === undefined ? [] : irregularChanges(patch.view);
  if (irregular.length > 0) {
    findings.push({
      kind: 'patch_file_mode',
      severity: 'high',
      message: `the patch ${irregular.slice(0, 3).join('; ')} (promotions carry regular files only)`,
      details: { changes: irregular.slice(0, 50) },
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

/** git's reading of the patch, or why git cannot read it (itself a high finding). */
async function patchFacts(patch: string): Promise<{ view?: PatchView; unreadable?: string }> {
  try {
    return { view: await readPatch(patch) };
  } catch (err) {
    if (isAppError(err) && err.code === 'INVALID_PATCH') return { unreadable: err.message };
    throw err;
  }
}
