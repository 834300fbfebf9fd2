/**
 * What we read back from Redis is parsed with the schema of what we wrote: a record that does
 * not fit (damaged, written by a different version, planted) is a clear INTERNAL error naming
 * the record, never a value cast to a type it may not have.
 */
import { z, type ZodType } from 'zod';
import { AppError } from '../errors.js';

/** A string field holding JSON of `schema` (e.g. a hash field with a JSON document). */
export function jsonText<T>(schema: ZodType<T>) {
  return z
    .string()
    .transform((text, ctx): unknown => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** A hash field holding a decimal integer. */
export const integerText = z
  .string()
  .regex(/^-?\d+$/, 'not an integer')
  .transform((s) => Number(s));

/** The error for a stored value that is not what we wrote: INTERNAL, naming it (`what`, e.g. "job record job_x") and why. */
export function corruptStored(what: string, reason: string): AppError {
  return new AppError('INTERNAL', `stored ${what} is corrupt: ${reason}`);
}

/** `value` as `schema` describes it; anything else is corruptStored. */
export function parseStored<T>(schema: ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw corruptStored(what, parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
}

/** JSON text as `schema` describes it (see parseStored). */
export function parseStoredJson<T>(schema: ZodType<T>, text: string, what: string): T {
  return parseStored(jsonText(schema), text, what);
}
