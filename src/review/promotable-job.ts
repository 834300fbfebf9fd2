/**
 * A finished job as review needs it. The API builds it from the queue's records (review does
 * not import the queue), so a promotion is judged on exactly what the job record says.
 */
import type { ArtifactRef } from '../artifacts/index.js';
import type { Finding } from '../monitor/index.js';
import type { OutputFacts, PrincipalRef } from './promotion-types.js';

export interface PromotableJob {
  readonly id: string;
  readonly status: string;
  readonly profile: string;
  /** The key that submitted the job, and its principal: never allowed to approve it. */
  readonly submitter: PrincipalRef;
  readonly result:
    | (OutputFacts & {
        readonly exitCode: number | null;
        readonly durationMs: number;
        readonly stdout: string;
        readonly stderr: string;
        readonly artifacts: readonly ArtifactRef[];
        readonly artifactDigest: string | null;
        readonly artifactsTarSha256: string | null;
        readonly profileDigest: string;
        readonly imageDigest: string;
        readonly seccompDigest: string;
        readonly codeDigest?: string;
        readonly findings?: readonly Finding[];
        readonly violation?: { readonly syscall: string | null; readonly verified: boolean };
      })
    | undefined;
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
