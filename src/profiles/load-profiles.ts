import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AppError, canonicalJson, sha256Hex } from '../shared/index.js';
import { ProfileSchema, type LoadedProfile } from './profile-schema.js';

/**
 * Loads and validates every `<dir>/*.json` profile and the seccomp policy each names.
 * Any problem stops start-up with a message naming the file and the field.
 */
export function loadProfiles(dir: string): ReadonlyMap<string, LoadedProfile> {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new AppError('CONFIG_INVALID', `no profiles (*.json) found in ${dir}`);
  const out = new Map<string, LoadedProfile>();
  const seccompCache = new Map<string, { json: string; digest: string }>();
  for (const f of files) {
    const file = join(dir, f);
    const profile = parseProfile(file);
    if (`${profile.name}.json` !== f) throw invalid(file, 'name', `must match the file name (${f.replace(/\.json$/, '')})`);
    if (out.has(profile.name)) throw invalid(file, 'name', `duplicate profile name ${profile.name}`);
    const seccompPath = resolve(dir, profile.seccomp);
    let seccomp = seccompCache.get(seccompPath);
    if (seccomp === undefined) {
      seccomp = loadSeccomp(seccompPath, file);
      seccompCache.set(seccompPath, seccomp);
    }
    out.set(profile.name, { profile, digest: sha256Hex(canonicalJson(profile)), seccompJson: seccomp.json, seccompDigest: seccomp.digest, file });
  }
  return out;
}

function parseProfile(file: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `profile ${file}: not readable JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = ProfileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new AppError('CONFIG_INVALID', `profile ${file} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/** The worker refuses to start on a missing or malformed policy: never fall back to the engine default. */
export function loadSeccomp(path: string, profileFile = path): { json: string; digest: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `profile ${profileFile}: seccomp policy ${path} is missing`, { cause: err });
  }
  let policy: unknown;
  try {
    policy = JSON.parse(text);
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `seccomp policy ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const p = policy as { defaultAction?: unknown; syscalls?: unknown };
  if (typeof p.defaultAction !== 'string' || !Array.isArray(p.syscalls)) {
    throw new AppError('CONFIG_INVALID', `seccomp policy ${path} needs a string defaultAction and a syscalls array`);
  }
  if (p.defaultAction === 'SCMP_ACT_ALLOW' || p.defaultAction === 'SCMP_ACT_LOG') {
    throw new AppError('CONFIG_INVALID', `seccomp policy ${path}: defaultAction ${p.defaultAction} is not a sandbox (use an errno or kill default)`);
  }
  // send compact JSON: it travels in every create request
  return { json: JSON.stringify(policy), digest: sha256Hex(text) };
}

function invalid(file: string, field: string, message: string): AppError {
  return new AppError('CONFIG_INVALID', `profile ${file} is invalid:\n  ${field}: ${message}`);
}
