/**
 * Findings from one finished run: facts a reviewer must see before a result goes anywhere.
 * The worker computes them for every job and stores them with the result. A patch's files
 * are git's reading of it (shared/read-patch), the one the review gate and the git target use.
 * Besides the facts of the result (tripwires, sensitive paths, refused files), every detector
 * (detectors/) reads what ran and what it left; a detector that fails makes a `high` finding,
 * so a run it could not judge is never promoted without the security group.
 */
import { PATCH_REFUSED_PREFIX } from '../sandbox/index.js';
import { irregularChanges, isAppError, readPatch, type PatchView } from '../shared/index.js';
import { DETECTORS } from './detectors/index.js';
import type { Finding } from './finding.js';
import { buildContext } from './run-context.js';
import type { RunFacts } from './run-facts.js';
import { DEFAULT_SENSITIVE_PATH_RULES, pathFindings, type SensitivePathRules } from './sensitive-paths.js';

export type { RunBehaviour, RunFacts, RunInput } from './run-facts.js';

export async function assessRun(run: RunFacts, rules: SensitivePathRules = DEFAULT_SENSITIVE_PATH_RULES): Promise<Finding[]> {
  const findings: Finding[] = [];
  // a tripwire counts whatever the run's end: a child may trip the policy, then the job time out
  if (run.outcome === 'policy_violation' || run.violation !== undefined) {
    const syscall = run.violation?.syscall ?? null;
    findings.push({
      kind: 'policy_violation',
      severity: 'high',
      message: `the program tripped the sandbox policy${syscall !== null ? ` (syscall ${syscall})` : ''}${run.outcome === 'policy_violation' ? '' : `, then ended as ${run.outcome}`}`,
      details: { syscall, verified: run.violation?.verified ?? false },
      detector: 'tripwire',
      class: 'escape',
      evidence: [{ source: 'kernel', excerpt: syscall !== null ? `seccomp kill: ${syscall}` : 'killed by SIGSYS (exit 159), no kernel record' }],
    });
  }
  const patch = run.patch === undefined ? undefined : await patchFacts(run.patch);
  if (run.outcome === 'patch_failed' && run.patchMessage?.startsWith(PATCH_REFUSED_PREFIX)) {
    findings.push(patchFinding('patch_refused', run.patchMessage.split('\n')[0]!.slice(0, 500)));
  } else if (patch?.unreadable !== undefined) {
    findings.push(patchFinding('patch_refused', patch.unreadable.slice(0, 500)));
  }
  findings.push(...pathFindings(new Set([...(patch?.view?.paths ?? []), ...run.artifactPaths]), rules, { automatic: false }));
  const irregular = patch?.view === undefined ? [] : irregularChanges(patch.view);
  if (irregular.length > 0) {
    findings.push({
      ...patchFinding('patch_file_mode', `the patch ${irregular.slice(0, 3).join('; ')} (promotions carry regular files only)`),
      details: { changes: irregular.slice(0, 50) },
    });
  }
  findings.push(...withKernelEvidence(detectorFindings(run, patch?.view), run));
  if (run.artifactsRejected > 0) {
    findings.push({
      kind: 'artifacts_rejected',
      severity: 'medium',
      message: `${run.artifactsRejected} output file(s) were refused (links, specials or over the limits)`,
      detector: 'collection',
    });
  }
  if (run.stdoutTruncated || run.stderrTruncated) {
    findings.push({ kind: 'output_truncated', severity: 'low', message: 'stdout or stderr hit the output limit; a reviewer sees only the first part', detector: 'collection' });
  }
  return findings;
}

function patchFinding(kind: 'patch_refused' | 'patch_file_mode', message: string): Finding {
  return { kind, severity: 'high', message, detector: 'patch-reading', class: 'persistence', evidence: [{ source: 'patch', excerpt: message.slice(0, 160) }] };
}

function detectorFindings(run: RunFacts, view: PatchView | undefined): Finding[] {
  const ctx = buildContext(run, view);
  const out: Finding[] = [];
  for (const d of DETECTORS) {
    try {
      out.push(...d.detect(ctx));
    } catch (err) {
      out.push({
        kind: 'detector_failed',
        severity: 'high',
        message: `detector ${d.name} could not judge this run: ${(err as Error).message.slice(0, 200)}`,
        detector: d.name,
        class: d.class,
      });
    }
  }
  return out;
}

/** Kernel records of socket attempts and named pipes back a static reverse-shell or exfiltration finding. */
function withKernelEvidence(findings: Finding[], run: RunFacts): Finding[] {
  const b = run.behaviour;
  if (b?.observed !== true || (b.socketAttempts === 0 && b.fifosMade === 0)) return findings;
  const kernel = { source: 'kernel' as const, excerpt: `${b.socketAttempts} inet socket attempt(s), ${b.fifosMade} named pipe(s), recorded by the kernel` };
  return findings.map((f) => (f.class === 'reverse_shell' && f.detector !== 'network-attempt' && f.severity !== 'low' ? { ...f, evidence: [kernel, ...(f.evidence ?? [])] } : f));
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
