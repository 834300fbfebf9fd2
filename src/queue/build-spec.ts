/**
 * Turns a stored job input into what the sandbox is made of (fixed at create) and what it runs
 * (per run), and a sandbox outcome into a job status (the result: job-result.ts).
 */
import type { LoadedProfile } from '../profiles/index.js';
import {
  containerLimitsOf,
  jobIds,
  type ContainerLimits,
  type OutputListener,
  type PoolTemplate,
  type SandboxResult,
  type SandboxRun,
  type SandboxSpec,
} from '../sandbox/index.js';
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

/**
 * What is fixed at create for a job on `profile` with `limits` (a warm pool's containers are
 * made from the profile's own limits; a job takes one when its template fits). `tools`: the
 * container gets a gateway folder; its pool is `<profile>+tools`.
 */
export function sandboxTemplateOf(profile: LoadedProfile, imageId: string, limits: ContainerLimits, tools: boolean): PoolTemplate {
  return {
    name: tools ? `${profile.profile.name}+tools` : profile.profile.name,
    imageId,
    seccompJson: profile.seccompJson,
    profileDigest: profile.digest,
    limits: containerLimitsOf(limits),
    // the profile's tier (SandboxIsolation and the profiles' IsolationTier name the same tiers)
    isolation: profile.profile.isolation,
    tools,
  };
}

/** The pools a worker keeps: one per profile whose image is built, and `+tools` ones when it serves tools and the profile lists some. */
export function poolTemplatesOf(profiles: ReadonlyMap<string, LoadedProfile>, images: ReadonlyMap<string, string>, servesTools: boolean): PoolTemplate[] {
  const out: PoolTemplate[] = [];
  for (const p of profiles.values()) {
    const imageId = images.get(p.profile.image);
    if (imageId === undefined) continue;
    out.push(sandboxTemplateOf(p, imageId, p.profile.limits, false));
    if (servesTools && p.profile.tools.length > 0) out.push(sandboxTemplateOf(p, imageId, p.profile.limits, true));
  }
  return out;
}

/** A cold sandbox: the job's template, ids of its own, its labels and gateway folder. */
export function sandboxSpecOf(s: SpecSource): SandboxSpec {
  const t = sandboxTemplateOf(s.profile, s.imageId, s.input.limits, s.runDir !== undefined);
  return {
    jobId: s.jobId,
    imageId: t.imageId,
    // ids of the job's own: its uid and gid are nobody else's
    ...jobIds(),
    limits: t.limits,
    seccompJson: t.seccompJson,
    ...(t.isolation !== 'container' ? { isolation: t.isolation } : {}),
    ...(s.labels !== undefined ? { labels: s.labels } : {}),
    ...(s.runDir !== undefined ? { runDir: s.runDir } : {}),
  };
}

export function sandboxRunOf(input: JobInput, signal: AbortSignal, onOutput?: OutputListener): SandboxRun {
  return {
    argv: input.argv,
    files: input.files.map((f) => ({ path: f.path, content: Buffer.from(f.content, f.encoding), ...(f.executable ? { mode: 0o755 } : {}) })),
    stdin: Buffer.from(input.stdin, 'utf8'),
    ...(input.patch !== undefined ? { patch: input.patch } : {}),
    ...(input.outputs !== undefined ? { outputs: input.outputs } : {}),
    env: input.env,
    limits: input.limits,
    signal,
    ...(onOutput !== undefined ? { onOutput } : {}),
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
