/**
 * The review gate's reading of a job about to be promoted: the monitor's findings, with the
 * path findings recomputed under the approval policy's `sensitivePaths` for this target (the
 * paths as they land in the target's tree, root dotfiles denied on automatic targets), and
 * the patch read by git, the parser the git target applies it with. A patch-only promotion
 * carries regular files only, as artifacts do: a symlink, gitlink, executable or mode change
 * is refused here, before anyone reviews it, and again by the git target. A target that requires
 * an isolation tier (`requireIsolation`) refuses a job run on a weaker one, whatever else it is.
 */
import { PATH_FINDING_KINDS, pathFindings, type Finding } from '../monitor/index.js';
import { AppError, irregularChanges, isAppError, readPatch, unsafePath, type PatchView } from '../shared/index.js';
import { isolationShortfall, type ApprovalPolicy, type TargetPolicy } from './approval-policy.js';
import type { PromotableJob } from './promotable-job.js';

export async function promotionFindings(job: PromotableJob, kind: 'artifacts' | 'patch', policy: ApprovalPolicy, target: TargetPolicy): Promise<Finding[]> {
  const shortfall = isolationShortfall(target, job.result?.isolation ?? 'container');
  if (shortfall !== undefined) throw notPromotable(job, shortfall);
  const findings = jobFindings(job).filter((f) => !PATH_FINDING_KINDS.has(f.kind));
  const patch = job.input?.patch;
  let view: PatchView | undefined;
  if (patch !== undefined && patch !== '') {
    try {
      view = await readPatch(patch);
    } catch (err) {
      if (!isAppError(err) || err.code !== 'INVALID_PATCH') throw err;
      if (kind === 'patch') throw notPromotable(job, err.message);
      findings.push({ kind: 'patch_refused', severity: 'high', message: err.message.slice(0, 500) });
    }
  }
  if (kind === 'patch' && view !== undefined) checkPatchPromotable(job, view);
  const paths = [...(view?.paths ?? []), ...(job.result?.artifacts ?? []).map((a) => a.path)];
  const automatic = target.approval.mode === 'auto';
  findings.push(...pathFindings(inTargetTree(paths, target), policy.sensitivePaths, { automatic }));
  return findings;
}

/** The same rules as for artifacts: paths that stay where they are put, regular files only. */
function checkPatchPromotable(job: PromotableJob, view: PatchView): void {
  for (const p of view.paths) {
    const unsafe = unsafePath(p);
    if (unsafe !== undefined) throw notPromotable(job, `its patch names ${JSON.stringify(p.slice(0, 200))}, which ${unsafe.message}`);
  }
  const irregular = irregularChanges(view);
  if (irregular.length > 0) {
    throw notPromotable(job, `its patch ${irregular.slice(0, 5).join('; ')}; a promotion carries regular files (mode 100644) only, as artifacts do`);
  }
}

/** Each path as the job names it and as it lands in a git target's `subdir`: a rule matching either counts. */
function inTargetTree(paths: readonly string[], target: TargetPolicy): Set<string> {
  const subdir = target.target.type === 'git' ? target.target.subdir : undefined;
  return new Set(subdir === undefined ? paths : paths.flatMap((p) => [p, `${subdir}/${p}`]));
}

/** The monitor's findings, plus the job's own status: a policy violation is high risk even when no finding says so. */
function jobFindings(job: PromotableJob): Finding[] {
  const findings = [...(job.result?.findings ?? [])];
  if (job.status === 'policy_violation' && !findings.some((f) => f.kind === 'policy_violation')) {
    findings.push({ kind: 'policy_violation', severity: 'high', message: 'the job ended in policy_violation', details: { syscall: job.result?.violation?.syscall ?? null } });
  }
  return findings;
}

function notPromotable(job: PromotableJob, why: string): AppError {
  return new AppError('NOT_PROMOTABLE', `job ${job.id} cannot be promoted: ${why}`);
}
