/**
 * Every Redis key of a deployment starts with `{<prefix>}:` (AIRLOCK_REDIS_PREFIX is the name
 * inside the braces). The braces are a hash tag: Redis Cluster puts every key of the
 * deployment in one slot, so each multi-key script and MULTI stays legal there. BullMQ's
 * prefix is the same root.
 */
import { AppError } from '../errors.js';

export function keyRoot(prefix: string): string {
  if (prefix === '' || /[{}]/.test(prefix))
    throw new AppError('CONFIG_INVALID', `Redis prefix ${JSON.stringify(prefix)} must be non-empty and without braces (it is the name inside the hash tag)`);
  return `{${prefix}}`;
}
