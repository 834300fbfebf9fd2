import { z } from 'zod';
import { LIMIT_RANGES, type LimitName } from '../shared/index.js';

/** Details of a limit outside its range, carried on the zod issue so the API can answer with them. */
export interface LimitRangeIssue {
  readonly field: LimitName;
  readonly min: number;
  readonly max: number;
}

/**
 * One limit's schema, from the one range table: the type (integers are refused, never rounded,
 * where the engine needs them), then the range, whose issue carries `{ field, min, max }`.
 */
function limitSchema(name: LimitName) {
  const r = LIMIT_RANGES[name];
  const range: LimitRangeIssue = { field: name, min: r.min, max: r.max };
  return (r.integer ? z.number().int() : z.number()).refine((v) => v >= r.min && v <= r.max, {
    message: `must be between ${r.min} and ${r.max}`,
    params: { limitRange: range },
  });
}

export const LimitsSchema = z.strictObject({
  timeoutMs: limitSchema('timeoutMs'),
  memoryBytes: limitSchema('memoryBytes'),
  cpus: limitSchema('cpus'),
  pids: limitSchema('pids'),
  stdoutBytes: limitSchema('stdoutBytes'),
  stderrBytes: limitSchema('stderrBytes'),
  scratchBytes: limitSchema('scratchBytes'),
  tmpBytes: limitSchema('tmpBytes'),
  shmBytes: limitSchema('shmBytes'),
  fileSizeBytes: limitSchema('fileSizeBytes'),
  openFiles: limitSchema('openFiles'),
  /** Caps on collected artifacts (files matching a job's `outputs`). */
  artifactFiles: limitSchema('artifactFiles'),
  artifactBytes: limitSchema('artifactBytes'),
} satisfies Record<LimitName, z.ZodType<number>>);
export type Limits = z.infer<typeof LimitsSchema>;
export const LIMIT_NAMES = Object.keys(LimitsSchema.shape) as (keyof Limits)[];

/** The range a zod issue of a limit field carries, if it is one. */
export function limitRangeIssue(issue: z.core.$ZodIssue | undefined): LimitRangeIssue | undefined {
  if (issue?.code !== 'custom') return undefined;
  return (issue.params as { limitRange?: LimitRangeIssue } | undefined)?.limitRange;
}

/**
 * Isolation tiers: `container` runs the job on the host's kernel behind our seccomp policy (runc);
 * `gvisor` runs it on gVisor's user-space kernel (runsc), whose own calls to the host kernel are
 * few and filtered. The sandbox's SandboxIsolation names the same tiers (the queue assigns one to
 * the other, so a tier added here and not there does not compile).
 */
export const ISOLATION_TIERS = ['container', 'gvisor'] as const;
export type IsolationTier = (typeof ISOLATION_TIERS)[number];

export const ProfileSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes'),
  description: z.string().max(200).default(''),
  /** Runtime image name, as recorded in <dataDir>/images.json by the image build. */
  image: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  command: z.array(z.string().min(1)).min(1),
  network: z.literal('none'),
  /** The isolation tier (part of the profile digest, and of every result); never downgraded: a host without it refuses the profile's jobs. */
  isolation: z.enum(ISOLATION_TIERS).default('container'),
  /** Seccomp policy file, relative to the profiles directory. */
  seccomp: z
    .string()
    .regex(/^[A-Za-z0-9_./-]+\.json$/)
    .refine((p) => !p.split('/').includes('..'), 'must stay inside the profiles directory'),
  limits: LimitsSchema,
  /** Tools (by name, from the tools file) a job on this profile may be granted; none by default. */
  tools: z.array(z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/)).default([]),
  /** What a job on this profile may ask for. */
  allow: z.strictObject({
    command: z.boolean().default(true),
    env: z.boolean().default(true),
    stdin: z.boolean().default(true),
    patch: z.boolean().default(true),
  }),
});
export type Profile = z.infer<typeof ProfileSchema>;

/** A profile as the service uses it: validated, with the digests results record. */
export interface LoadedProfile {
  readonly profile: Profile;
  /** sha256 of the profile's canonical JSON. */
  readonly digest: string;
  readonly seccompJson: string;
  /** sha256 of the seccomp policy file bytes. */
  readonly seccompDigest: string;
  readonly file: string;
}
