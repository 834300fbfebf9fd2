/**
 * Turns a stored job input into what the sandbox is made of (fixed at create) and what it runs
 * (per run), and a sandbox outcome into a job status (the result: job-result.ts).
 */
import type { LoadedProfile } from '../profiles/index.js';
import { jobIds, type SandboxResult, type SandboxRun, type SandboxSpec } from '../sandbox/index.js';
import type { JobInput, TerminalStatus } from './job-types.js';

export interface SpecSource {
  readonly jobId: string;
  readonly input: JobInput;
  readonly profile: LoadedProfile;
  readonly imageId: string;
  /** Extra container labels (tests find theirs by them). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** The job's gateway folder, when it was granted tools. */
  readonly runDir?: string | undefined;
}

export function sandboxSpecOf(s: SpecSource): SandboxSpec {
  return {
    jobId: s.jobId,
    imageId: s.imageId,
    // ids of the job's own: its uid and gid are nobody else's
    ...jobIds(),
    limits: s.input.limits,
    seccompJson: s.profile.seccompJson,
    ...(s.labels !== undefined ? { labels: s.labels } : {}),
    ...(s.runDir !== undefined ? { runDir: s.runDir } : {}),
  };
}

export function sandboxRunOf(input: JobInput, signal: AbortSignal): SandboxRun {
  return {
    argv: input.argv,
    files: input.files.map((f) => ({ path: f.path, content: Buffer.from(f.content, f.encoding), ...(f.executable ? { mode: 0o755 } : {}) })),
    stdin: Buffer.from(input.stdin, 'utf8'),
    ...(input.patch !== undefined ? { patch: input.patch } : {}),
    ...(input.outputs !== undefined ? { outputs: input.outputs } : {}),
    env: input.env,
    limits: input.limits,
    signal,
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
