/** A job record as stored: one Redis hash, its JSON fields parsed with their schemas. */
import { z } from 'zod';
import { integerText, jsonText, parseStored } from '../shared/index.js';
import { JobResultSchema } from './job-result.js';
import { JOB_STATUSES, type JobError, type JobRecord } from './job-types.js';

export const JobErrorSchema = z.object({ code: z.string(), message: z.string() }) satisfies z.ZodType<JobError>;

const JobHashSchema = z.object({
  id: z.string().min(1),
  status: z.enum(JOB_STATUSES),
  ownerKeyId: z.string(),
  profile: z.string(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  attempts: integerText.optional(),
  workerId: z.string().optional(),
  cancelRequested: z.enum(['0', '1']).optional(),
  result: jsonText(JobResultSchema).optional(),
  error: jsonText(JobErrorSchema).optional(),
});

/** The record a job hash holds; undefined for an empty hash (no such job, or it expired). */
export function jobRecordOf(hash: Readonly<Record<string, string>>, id: string): JobRecord | undefined {
  if (Object.keys(hash).length === 0) return undefined;
  const h = parseStored(JobHashSchema, hash, `job record ${id}`);
  return {
    id: h.id,
    status: h.status,
    ownerKeyId: h.ownerKeyId,
    profile: h.profile,
    createdAt: h.createdAt,
    ...(h.startedAt ? { startedAt: h.startedAt } : {}),
    ...(h.finishedAt ? { finishedAt: h.finishedAt } : {}),
    attempts: h.attempts ?? 0,
    ...(h.workerId ? { workerId: h.workerId } : {}),
    cancelRequested: h.cancelRequested === '1',
    ...(h.result !== undefined ? { result: h.result } : {}),
    ...(h.error !== undefined ? { error: h.error } : {}),
  };
}

/** HGETALL's flat [field, value, …] reply (a Lua script's) as an object. */
export function hashOf(flat: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
