/**
 * How a job's input is stored in Redis: so that the bytes kept (for the job's life and
 * AIRLOCK_RESULT_TTL_S after) stay close to the bytes received. An `archive` arrives as a
 * compressed tar and the API expands it into files to validate it; stored as JSON those files
 * were base64 text, 1.33x their size (a 167 KB request became 25 MB in Redis for 7 days).
 * Here base64 file contents are kept as raw bytes beside a JSON header, and the whole is
 * gzipped: what the client compressed is stored compressed again.
 *
 * Exact round trip: `decodeJobInput(encodeJobInput(x))` deep-equals `x` (the code digest the
 * worker records must be the one recorded at submit), so a base64 content that would not
 * re-encode to the same text (non-canonical padding bits) stays in the header as text.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { z } from 'zod';
import { LimitsSchema } from '../profiles/index.js';
import { corruptStored, parseStoredJson } from '../shared/index.js';
import type { JobFileInput, JobInput } from './job-types.js';

const MAGIC = Buffer.from('AJI1'); // Airlock job input, format 1
const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Bounds what a stored value may inflate to (the API caps an input far below this). */
const MAX_DECODED_BYTES = 256 * 1024 * 1024;

/** A job's input as stored: the shape the API validated, checked again when read back. */
export const JobInputSchema = z.object({
  profile: z.string(),
  argv: z.array(z.string()),
  files: z.array(z.object({ path: z.string(), content: z.string(), encoding: z.enum(['utf8', 'base64']), executable: z.boolean().optional() })),
  stdin: z.string(),
  patch: z.string().optional(),
  outputs: z.array(z.string()).optional(),
  tools: z.array(z.string()).optional(),
  lineage: z.string().optional(),
  env: z.record(z.string(), z.string()),
  limits: LimitsSchema,
}) satisfies z.ZodType<JobInput>;

const Offset = z.number().int().nonnegative();
const HeaderSchema = z.object({
  input: JobInputSchema,
  /** [index in input.files, offset in the blob, length]: files whose content is those bytes, base64-encoded */
  blobs: z.array(z.tuple([Offset, Offset, Offset])),
});
type Header = z.infer<typeof HeaderSchema>;

export async function encodeJobInput(input: JobInput): Promise<Buffer> {
  const blobs: Header['blobs'] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  const files = input.files.map((f, i): JobFileInput => {
    if (f.encoding !== 'base64') return f;
    const bytes = Buffer.from(f.content, 'base64');
    if (bytes.toString('base64') !== f.content) return f;
    blobs.push([i, offset, bytes.length]);
    parts.push(bytes);
    offset += bytes.length;
    return { ...f, content: '' };
  });
  const header = Buffer.from(JSON.stringify({ input: { ...input, files }, blobs } satisfies { input: JobInput; blobs: Header['blobs'] }));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(header.length);
  return Buffer.concat([MAGIC, await gzipAsync(Buffer.concat([length, header, ...parts]))]);
}

/** Reads what encodeJobInput wrote, or the plain JSON stored before it existed; `what` names it in a corrupt-record error. */
export async function decodeJobInput(raw: Buffer, what = 'job input'): Promise<JobInput> {
  if (!raw.subarray(0, MAGIC.length).equals(MAGIC)) return parseStoredJson(JobInputSchema, raw.toString('utf8'), what);
  let body: Buffer;
  try {
    body = await gunzipAsync(raw.subarray(MAGIC.length), { maxOutputLength: MAX_DECODED_BYTES });
  } catch (err) {
    throw corruptStored(what, `not gzip: ${(err as Error).message}`);
  }
  if (body.length < 4 || 4 + body.readUInt32BE(0) > body.length) throw corruptStored(what, 'its header runs past the end');
  const headerEnd = 4 + body.readUInt32BE(0);
  const header: Header = parseStoredJson(HeaderSchema, body.subarray(4, headerEnd).toString('utf8'), what);
  const files = [...header.input.files];
  for (const [i, at, length] of header.blobs) {
    const f = files[i];
    if (f !== undefined) files[i] = { ...f, content: body.subarray(headerEnd + at, headerEnd + at + length).toString('base64') };
  }
  return { ...header.input, files };
}
