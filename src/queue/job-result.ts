/**
 * A finished job's result: its one shape (`JobResultSchema`) and everything derived from it —
 * the result the worker builds from a sandbox run, what GET /v1/jobs/:id shows of it, and what
 * the job.finish audit record states. Review reads most of it and may not import the queue, so
 * the fields review reads are declared there (`PromotableResultSchema`) and extended here: a
 * job's result is a promotable result by construction, and the reviewer's snapshot picks from it.
 */
import { z } from 'zod';
import type { ArtifactRef } from '../artifacts/index.js';
import type { AuditEvent } from '../audit/index.js';
import type { Finding } from '../monitor/index.js';
import type { LoadedProfile } from '../profiles/index.js';
import { PromotableResultSchema, type PromotableJob } from '../review/index.js';
import type { SandboxResult } from '../sandbox/index.js';
import { sha256Hex } from '../shared/index.js';
import type { JobInput, JobRecord, TerminalStatus } from './job-types.js';

export const JobResultSchema = PromotableResultSchema.extend({
  /** The profile it ran under (the job's own `profile`). */
  profile: z.string(),
  /** The launcher's message when the patch did not apply (status patch_failed). */
  patchMessage: z.string().optional(),
  /** Files an output pattern matched that were not collected, and why (symlink, unsafe_path, too_large, …). */
  artifactsRejected: z.array(z.object({ path: z.string(), reason: z.string() }).readonly()).readonly(),
  /** Where the job ran: a container from the warm pool (`pooled`), and how long the claim waited for one. Absent on results from before the pool. */
  sandbox: z
    .object({ pooled: z.boolean(), waitMs: z.number().int().min(0) })
    .readonly()
    .optional(),
});
export type JobResult = Readonly<z.infer<typeof JobResultSchema>>;

/**
 * What GET /v1/jobs/:id shows of a result: all of it, except `profile`, which the job's own
 * field already states. A field added to the schema is shown unless it is omitted here.
 */
export const JobResultViewSchema = JobResultSchema.omit({ profile: true });
export type JobResultView = Readonly<z.infer<typeof JobResultViewSchema>>;

export function resultView(r: JobResult): JobResultView {
  const { profile: _profile, ...shown } = r;
  return shown;
}

/** A job as review judges it: its record's result as stored (a promotable result by construction) and what it ran. */
export function promotableJobOf(rec: JobRecord, input: JobInput | undefined, submitterPrincipal: string): PromotableJob {
  return { id: rec.id, status: rec.status, profile: rec.profile, submitter: { keyId: rec.ownerKeyId, principal: submitterPrincipal }, result: rec.result, input };
}

export interface StoredArtifacts {
  readonly entries: readonly ArtifactRef[];
  readonly digest: string | null;
  readonly tarSha256: string | null;
}

export function toJobResult(r: SandboxResult, profile: LoadedProfile, imageId: string, artifacts: StoredArtifacts, codeDigest: string, findings: readonly Finding[]): JobResult {
  const out = encode(r.stdout);
  const err = encode(r.stderr);
  return {
    exitCode: r.exitCode,
    stdout: out.text,
    stdoutEncoding: out.encoding,
    stderr: err.text,
    stderrEncoding: err.encoding,
    stdoutBytes: r.stdoutBytes,
    stderrBytes: r.stderrBytes,
    stdoutTruncated: r.stdoutTruncated,
    stderrTruncated: r.stderrTruncated,
    durationMs: r.durationMs,
    imageDigest: imageId,
    profile: profile.profile.name,
    profileDigest: profile.digest,
    seccompDigest: profile.seccompDigest,
    // the tier its sandbox was made for (a pooled one fits only a template of the same tier)
    isolation: profile.profile.isolation,
    ...(r.patchMessage !== undefined ? { patchMessage: r.patchMessage } : {}),
    ...(r.violation !== undefined ? { violation: r.violation } : {}),
    artifacts: artifacts.entries,
    artifactDigest: artifacts.digest,
    artifactsTarSha256: artifacts.tarSha256,
    artifactsRejected: r.artifactsRejected,
    codeDigest,
    findings,
  };
}

/** Output is returned as UTF-8 when it is valid UTF-8 (a cut multi-byte tail is tolerated), else base64. */
function encode(buf: Buffer): { text: string; encoding: 'utf8' | 'base64' } {
  const text = buf.toString('utf8');
  if (!text.slice(0, -1).includes('\uFFFD')) return { text, encoding: 'utf8' };
  return { text: buf.toString('base64'), encoding: 'base64' };
}

/** A finding as job.finish states it: what it is and who says so (the evidence stays in the result). */
function findingAudit(f: Finding): { kind: string; severity: string; detector?: string; class?: string } {
  return { kind: f.kind, severity: f.severity, ...(f.detector !== undefined ? { detector: f.detector } : {}), ...(f.class !== undefined ? { class: f.class } : {}) };
}

/** What a run leaves that its result does not keep: the container, and hashes of the raw output bytes. */
export type RunTrace = Pick<SandboxResult, 'containerId' | 'stdout' | 'stderr'>;

/**
 * The job.finish record of a run, from its result (the event's actor and target are the worker's
 * and the job's: `workerEvent(workerId, 'job.finish', jobId, jobFinishAudit(…))`).
 */
export function jobFinishAudit(status: TerminalStatus, r: JobResult, run: RunTrace): Omit<AuditEvent, 'action' | 'actor' | 'target'> {
  return {
    outcome: { result: status },
    durationMs: r.durationMs,
    bytes: { request: 0, response: r.stdoutBytes + r.stderrBytes },
    details: {
      containerId: run.containerId,
      exitCode: r.exitCode,
      stdoutBytes: r.stdoutBytes,
      stderrBytes: r.stderrBytes,
      // of the bytes the program wrote (the result may carry them base64-encoded)
      stdoutSha256: sha256Hex(run.stdout),
      stderrSha256: sha256Hex(run.stderr),
      stdoutTruncated: r.stdoutTruncated,
      stderrTruncated: r.stderrTruncated,
      artifactDigest: r.artifactDigest,
      artifacts: r.artifacts.length,
      artifactsRejected: r.artifactsRejected,
      findings: r.findings.map(findingAudit),
    },
  };
}
