/** The tools file and the secrets, read once at start-up (worker: tool secrets; API: the approval policy's hook secrets). */
import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import { parseTools, type Tool } from '../gateway/index.js';
import { AppError } from '../shared/index.js';

/** The tools file (no secrets in it), validated at start-up; none configured: no tools. */
export function loadTools(config: Config): Tool[] {
  if (config.tools.file === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(config.tools.file, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG_INVALID', `tools file ${config.tools.file}: ${(err as Error).message}`, { cause: err });
  }
  return parseTools(raw);
}

/** Secrets by name: the secrets file, then AIRLOCK_SECRET_<NAME> variables (which win). */
export function secretResolver(config: Config): (name: string) => string | undefined {
  let fileSecrets: Record<string, string> = {};
  if (config.tools.secretsFile !== undefined) {
    try {
      fileSecrets = JSON.parse(readFileSync(config.tools.secretsFile, 'utf8')) as Record<string, string>;
    } catch (err) {
      throw new AppError('CONFIG_INVALID', `secrets file ${config.tools.secretsFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  const secrets = new Map<string, string>(Object.entries({ ...fileSecrets, ...config.tools.envSecrets }).filter((kv): kv is [string, string] => typeof kv[1] === 'string'));
  return (name) => secrets.get(name);
}
