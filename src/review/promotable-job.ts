/**
 * A finished job as review needs it. The API builds it from the queue's records (review does
 * not import the queue), so a promotion is judged on exactly what the job record says.
 *
 * The fields of a job result that review reads are declared here, once: the queue's
 * `JobResultSchema` extends `PromotableResultSchema` (review may not import the queue, so the
 * shared part lives on this side), and the reviewer's snapshot picks from it.
 */
import { z } from 'zod';
import { ArtifactRefSchema } from '../artifacts/index.js';
import { FindingSchema } from '../monitor/index.js';
import { ISOLATION_TIERS } from '../profiles/index.js';
import type { PrincipalRef } from './promotion-types.js';

/** Characters of stdout/stderr a snapshot keeps. */
const EXCERPT_CHARS = 4096;

const EncodingSchema = z.enum(['utf8', 'base64']);
const ByteCount = z.number().int().nonnegative();

/** How much a job wrote, in which encoding, and whether the run cut it at the output limit. */
export const OutputFactsSchema = z.object({
  stdoutEncoding: EncodingSchema,
  stderrEncoding: EncodingSchema,
  stdoutBytes: ByteCount,
  stderrBytes: ByteCount,
  stdoutTruncated: z.boolean(),
  stderrTruncated: z.boolean(),
});
export type OutputFacts = Readonly<z.infer<typeof OutputFactsSchema>>;

/** The part of a job result review judges (the queue's JobResultSchema is this plus the queue's own fields). */
export const PromotableResultSchema = OutputFactsSchema.extend({
  exitCode: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  durationMs: z.number().nonnegative(),
  imageDigest: z.string(),
  profileDigest: z.string(),
  seccompDigest: z.string(),
  /** The isolation tier it ran on (its profile's; results stored before tiers existed ran on `container`). */
  isolation: z.enum(ISOLATION_TIERS).default('container'),
  /** A seccomp tripwire fired: `syscall` as the kernel recorded it (`verified`), null when only the exit status says so. */
  violation: z.object({ syscall: z.string().nullable(), verified: z.boolean() }).readonly().optional(),
  /** Collected files, sorted by path; `artifactDigest` covers the whole set. */
  artifacts: z.array(ArtifactRefSchema).readonly(),
  artifactDigest: z.string().nullable(),
  /** sha256 of a tar of all artifacts, kept in the artifact store (GET …/artifacts.tar). */
  artifactsTarSha256: z.string().nullable(),
  /** sha256 of what ran (argv, files, patch): the digest job.submit and job.start record. */
  codeDigest: z.string(),
  /** The monitor's findings about this run (high ones keep a result from automatic promotion). */
  findings: z.array(FindingSchema).readonly(),
});
export type PromotableResult = Readonly<z.infer<typeof PromotableResultSchema>>;

export interface PromotableJob {
  readonly id: string;
  readonly status: string;
  readonly profile: string;
  /** The key that submitted the job, and its principal: never allowed to approve it. */
  readonly submitter: PrincipalRef;
  readonly result: PromotableResult | undefined;
  /** What it ran (undefined once the record's input expired). */
  readonly input:
    | {
        readonly argv: readonly string[];
        readonly files: readonly { readonly path: string; readonly content: string; readonly encoding: 'utf8' | 'base64' }[];
        readonly patch?: string;
        readonly lineage?: string;
      }
    | undefined;
}

/** The result fields a reviewer's snapshot keeps as they are. */
const SnapshotResultSchema = PromotableResultSchema.pick({
  exitCode: true,
  durationMs: true,
  stdoutEncoding: true,
  stderrEncoding: true,
  stdoutBytes: true,
  stderrBytes: true,
  stdoutTruncated: true,
  stderrTruncated: true,
  artifacts: true,
  artifactsTarSha256: true,
  imageDigest: true,
  seccompDigest: true,
  isolation: true,
});

/** What the reviewer is shown about the job, captured when promotion is requested (a job record expires; this does not). */
export const JobSnapshotSchema = SnapshotResultSchema.extend({
  status: z.string(),
  profile: z.string(),
  argv: z.array(z.string()).readonly(),
  files: z.array(z.object({ path: z.string(), bytes: ByteCount }).readonly()).readonly(),
  stdoutExcerpt: z.string(),
  stderrExcerpt: z.string(),
  /** sha256 of the job's patch in the artifact store (read back, digest-checked, when shown or applied). */
  patchSha256: z.string().nullable(),
});
export type JobSnapshot = Readonly<z.infer<typeof JobSnapshotSchema>>;

/** The snapshot of a job with a result: the picked result fields, the command, and excerpts of its output. */
export function jobSnapshot(job: PromotableJob, result: PromotableResult, patchSha256: string | null): JobSnapshot {
  return {
    // parsing with the picked schema keeps exactly its fields (nothing the snapshot does not declare)
    ...SnapshotResultSchema.parse(result),
    status: job.status,
    profile: job.profile,
    argv: job.input?.argv ?? [],
    files: (job.input?.files ?? []).map((f) => ({ path: f.path, bytes: f.encoding === 'base64' ? Buffer.from(f.content, 'base64').length : Buffer.byteLength(f.content) })),
    stdoutExcerpt: result.stdout.slice(0, EXCERPT_CHARS),
    stderrExcerpt: result.stderr.slice(0, EXCERPT_CHARS),
    patchSha256,
  };
}
