import { randomBytes } from 'node:crypto';

/** Random, URL-safe, unguessable id with a readable prefix (`job_…`, `key_…`). */
export function newId(prefix: string, bytes = 12): string {
  return `${prefix}_${randomBytes(bytes).toString('base64url')}`;
}

const ID_PATTERN = /^[a-z]+_[A-Za-z0-9_-]{8,64}$/;

export function isWellFormedId(value: string, prefix: string): boolean {
  return value.startsWith(`${prefix}_`) && ID_PATTERN.test(value);
}
