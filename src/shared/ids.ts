import { randomBytes } from 'node:crypto';

/** Random, URL-safe, unguessable id with a readable prefix (`job_…`, `key_…`). */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

/** The ids newId makes for `prefix` (6 to 48 random bytes): checks an id from a URL before any lookup. */
export function idPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}_[A-Za-z0-9_-]{8,64}$`);
}
