import { z } from 'zod';

const positiveInt = z.number().int().positive();

export const LimitsSchema = z.strictObject({
  timeoutMs: positiveInt.max(3_600_000),
  memoryBytes: positiveInt.min(16 * 1024 * 1024),
  cpus: z.number().positive().max(64),
  pids: positiveInt.min(8).max(4096),
  stdoutBytes: positiveInt,
  stderrBytes: positiveInt,
  scratchBytes: positiveInt,
  tmpBytes: positiveInt,
  shmBytes: positiveInt,
  fileSizeBytes: positiveInt,
  openFiles: positiveInt.min(16).max(65536),
  /** Caps on collected artifacts (files matching a job's `outputs`). */
  artifactFiles: positiveInt.max(10_000),
  artifactBytes: positiveInt,
});
export type Limits = z.infer<typeof LimitsSchema>;
export const LIMIT_NAMES = Object.keys(LimitsSchema.shape) as (keyof Limits)[];

export const ProfileSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes'),
  description: z.string().max(200).default(''),
  /** Runtime image name, as recorded in <dataDir>/images.json by the image build. */
  image: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
  command: z.array(z.string().min(1)).min(1),
  network: z.literal('none'),
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
