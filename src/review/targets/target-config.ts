/**
 * Configuration of staging targets, and the one factory that turns a parsed entry into a
 * target. Secrets appear here by name only; the caller's resolver supplies the value.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../../shared/index.js';
import type { StagingTarget } from '../promotion-target.js';
import { webhookOptions, WebhookOverridesShape } from '../review-options.js';
import { DirectoryTarget } from './directory-target.js';
import { GitTarget, SAFE_BRANCH_PATTERN } from './git-target.js';
import { unsafePathReason } from './promoted-paths.js';
import { WebhookTarget } from './webhook-target.js';

const hostPath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'must not contain NUL');

/** A secret is named, never written into a config file: resolved from AIRLOCK_SECRET_<NAME> or the secrets file. */
export const SecretName = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'must be the NAME of a secret (A-Z, 0-9, _), resolved from AIRLOCK_SECRET_<NAME> or the secrets file');

const httpUrl = z.url({ protocol: /^https?$/ }).refine((u) => {
  const parsed = new URL(u);
  return parsed.username === '' && parsed.password === '';
}, 'must not carry credentials');

export const TargetConfigSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('directory'), path: hostPath }),
  z.strictObject({
    type: z.literal('git'),
    repo: hostPath,
    branch: z.string().max(100).regex(SAFE_BRANCH_PATTERN, 'must be a plain branch name (letters, digits, _ - . /)').default('staging'),
    subdir: z
      .string()
      .refine((p) => unsafePathReason(p) === undefined, 'must be a plain relative path inside the repository')
      .optional(),
  }),
  z.strictObject({
    type: z.literal('webhook'),
    url: httpUrl,
    secret: SecretName,
    ...WebhookOverridesShape,
  }),
]);
export type TargetConfig = z.infer<typeof TargetConfigSchema>;

export interface TargetDeps {
  readonly resolveSecret: (name: string) => string | undefined;
  /** Relative `path` and `repo` resolve against it. */
  readonly baseDir: string;
  readonly nowS: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export function createTarget(name: string, config: TargetConfig, deps: TargetDeps): StagingTarget {
  const fromBase = (p: string) => (isAbsolute(p) ? p : resolve(deps.baseDir, p));
  switch (config.type) {
    case 'directory':
      return new DirectoryTarget({ name, path: fromBase(config.path) });
    case 'git':
      return new GitTarget({ name, repo: fromBase(config.repo), branch: config.branch, subdir: config.subdir });
    case 'webhook': {
      const secret = deps.resolveSecret(config.secret);
      if (secret === undefined || secret === '') throw new AppError('CONFIG_INVALID', `staging target ${name}: secret ${config.secret} is not set`);
      const { attempts, backoffMs, timeoutMs } = config;
      return new WebhookTarget({ name, url: config.url, secret, ...webhookOptions({ attempts, backoffMs, timeoutMs }), nowS: deps.nowS, sleep: deps.sleep });
    }
  }
}
