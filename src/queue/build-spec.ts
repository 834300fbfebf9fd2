/** Turns a stored job input into what the sandbox runs, and a sandbox outcome into a job status (the result: job-result.ts). */
import type { LoadedProfile } from '../profiles/index.js';
import { jobIds, type SandboxResult, type SandboxSpec } from '../sandbox/index.js';
import type { JobInput, TerminalStatus } from './job-types.js';

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
