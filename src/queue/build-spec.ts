/** Turns a stored job input into what the sandbox runs, and a sandbox result into a job result. */
import type { Finding } from '../monitor/index.js';
import type { LoadedProfile } from '../profiles/index.js';
import { jobIds, type SandboxResult, type SandboxSpec } from '../sandbox/index.js';
import type { ArtifactRef } from '../artifacts/index.js';
import type { JobInput, JobResult, TerminalStatus } from './job-types.js';

export function buildSpec(jobId: string, input: JobInput, profile: LoadedProfile, imageId: string, labels?: Record<string, string>, runDir?: string): SandboxSpec {
  return {
    jobId,
    imageId,
    // ids of the job's own: its uid and gid are nobody else's
    ...jobIds(),
    argv: input.argv,
    files: input.files.map((f) => ({ path: f.path, content: Buffer.from(f.content, f.encoding), ...(f.executable ? { mode: 0o755 } : {}) })),
    stdin: Buffer.from(input.stdin, 'utf8'),
    ...(input.patch !== undefined ? { patch: input.patch } : {}),
    ...(input.outputs !== undefined ? { outputs: input.outputs } : {}),
    env: input.env,
    limits: input.limits,
    seccompJson: profile.seccompJson,
    ...(labels ? { labels } : {}),
    ...(runDir !== undefined ? { runDir } : {}),
  };
}

export function statusOf(r: SandboxResult): TerminalStatus {
  switch (r.outcome) {
    case 'exited':
      return r.exitCode === 0 ? 'succeeded' : 'failed';
    case 'timeout':
    case 'oom':
    case 'output_limit':
    case 'killed':
    case 'policy_violation':
    case 'patch_failed':
      return r.outcome;
  }
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
