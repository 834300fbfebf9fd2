/**
 * POST /v1/jobs body: zod for the shape (unknown fields refused), then explicit checks for
 * paths and caps so each gets its own stable error code.
 */
import { posix } from 'node:path';
import { z } from 'zod';
import type { ApiKeyInfo } from '../credentials/index.js';
import { checkInputFits, JOB_ROLES, jobGrant, limitRangeIssue, LimitsSchema, tightenLimits, type GrantProfile, type LoadedProfile } from '../profiles/index.js';
import type { JobFileInput, JobInput } from '../queue/index.js';
import { AppError, invalidGlobReason } from '../shared/index.js';
import { expandArchive } from './archive-input.js';
import { RoleDeniedError } from './auth.js';
import { checkPath, checkTreeConflicts } from './check-path.js';
import { INPUT_CAPS } from './input-caps.js';

const FileSchema = z.strictObject({
  path: z.string().min(1),
  content: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
});

export const JobRequestSchema = z.strictObject({
  runtime: z.enum(['python', 'node', 'shell']).optional(),
  profile: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/)
    .optional(),
  files: z.array(FileSchema).default([]),
  command: z.union([z.string().min(1), z.array(z.string()).min(1)]).optional(),
  stdin: z.string().default(''),
  patch: z.string().optional(),
  /** base64 tar.gz of a tree (e.g. a repository snapshot), expanded before `files` are added */
  archive: z.string().min(1).optional(),
  /** globs under the work dir collected as artifacts after the command */
  outputs: z.array(z.string()).optional(),
  /** tools to be granted through the gateway; each must be grantable on the profile and to the key */
  tools: z.array(z.string().max(64)).max(32).optional(),
  /** names a line of work (a PR, a branch): a newer promotion of the same lineage and target supersedes older ones */
  lineage: z
    .string()
    .regex(/^[A-Za-z0-9._:/#-]{1,128}$/, 'lineage: 1-128 of A-Z a-z 0-9 . _ : / # -')
    .optional(),
  env: z.record(z.string(), z.string()).default({}),
  timeoutMs: LimitsSchema.shape.timeoutMs.optional(),
  limits: LimitsSchema.partial().optional(),
});
export type JobRequest = z.infer<typeof JobRequestSchema>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Names the sandbox itself controls, and every dynamic-loader variable. */
const RESERVED_ENV = new Set(['PATH', 'HOME', 'HOSTNAME', 'USER', 'LOGNAME']);
const isReservedEnv = (name: string) => RESERVED_ENV.has(name) || name.startsWith('LD_');
/** Canonical base64: length a multiple of 4, padding only at the end. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Who asks, and which tools exist: a job gets only what `jobGrant` grants (the rule the capability matrix reports). */
export interface GrantContext {
  readonly key: Pick<ApiKeyInfo, 'id' | 'role' | 'profiles' | 'tools'>;
  readonly knownTools: ReadonlySet<string>;
  /** Receives why each tool was refused, for the operators' record only: the caller gets one answer whatever the reason. */
  readonly onToolsRefused?: (refused: readonly { tool: string; reason: string }[]) => void;
}

export function parseJobRequest(body: unknown, profiles: ReadonlyMap<string, LoadedProfile>, grant: GrantContext): JobInput {
  const parsed = JobRequestSchema.safeParse(body);
  if (!parsed.success) throw zodToAppError(parsed.error);
  const req = parsed.data;

  const profileName = req.profile ?? req.runtime;
  if (profileName === undefined) throw new AppError('INVALID_REQUEST', 'runtime (python | node | shell) or profile is required', { details: { field: 'runtime' } });
  const loaded = profiles.get(profileName);
  if (loaded === undefined) throw new AppError('PROFILE_NOT_FOUND', `no profile named ${profileName}`);
  const profile = loaded.profile;
  const tools = grantTools(req.tools ?? [], profile, grant);
  if (req.runtime !== undefined && req.profile !== undefined && profile.image !== req.runtime) {
    throw new AppError('INVALID_REQUEST', `profile ${profile.name} runs ${profile.image}, not ${req.runtime}`, { details: { field: 'runtime' } });
  }

  const files = mergeFiles(req.archive === undefined ? [] : expandArchive(checkBase64(req.archive, 'archive')), checkFiles(req.files));
  const outputs = checkOutputs(req.outputs);
  for (const [name, value] of Object.entries(req.env)) {
    if (!ENV_NAME.test(name)) throw new AppError('INVALID_REQUEST', `env name ${JSON.stringify(name.slice(0, 64))} is not a valid variable name`, { details: { field: 'env' } });
    if (isReservedEnv(name)) throw new AppError('INVALID_REQUEST', `env name ${name} is reserved`, { details: { field: 'env' } });
    if (value.length > INPUT_CAPS.envValueChars)
      throw new AppError('INPUT_TOO_LARGE', `env ${name} is longer than ${INPUT_CAPS.envValueChars} characters (cap envValueChars)`, { details: { cap: 'envValueChars' } });
  }
  if (Object.keys(req.env).length > INPUT_CAPS.envVars)
    throw new AppError('INPUT_TOO_LARGE', `more than ${INPUT_CAPS.envVars} env variables (cap envVars)`, { details: { cap: 'envVars' } });
  if (Buffer.byteLength(req.stdin) > INPUT_CAPS.stdinBytes)
    throw new AppError('INPUT_TOO_LARGE', `stdin is larger than ${INPUT_CAPS.stdinBytes} bytes (cap stdinBytes)`, { details: { cap: 'stdinBytes' } });
  if (req.patch !== undefined && Buffer.byteLength(req.patch) > INPUT_CAPS.patchBytes)
    throw new AppError('INPUT_TOO_LARGE', `patch is larger than ${INPUT_CAPS.patchBytes} bytes (cap patchBytes)`, { details: { cap: 'patchBytes' } });

  const forbid = (field: keyof typeof profile.allow, present: boolean) => {
    if (present && !profile.allow[field]) throw new AppError('FORBIDDEN', `profile ${profile.name} does not allow a job to set ${field}`, { details: { field } });
  };
  forbid('command', req.command !== undefined);
  forbid('env', Object.keys(req.env).length > 0);
  forbid('stdin', req.stdin !== '');
  forbid('patch', req.patch !== undefined);

  let argv: string[] = [...profile.command];
  if (typeof req.command === 'string') {
    if (req.command.length > INPUT_CAPS.commandChars)
      throw new AppError('INPUT_TOO_LARGE', `command is longer than ${INPUT_CAPS.commandChars} characters (cap commandChars)`, { details: { cap: 'commandChars' } });
    argv = ['/bin/sh', '-c', req.command];
  } else if (req.command !== undefined) {
    if (req.command.length > INPUT_CAPS.argvItems || req.command.join(' ').length > INPUT_CAPS.commandChars)
      throw new AppError('INPUT_TOO_LARGE', `command is too long (cap commandChars)`, { details: { cap: 'commandChars' } });
    // the launcher hands the job's env to `env` as NAME=VALUE words before argv
    if (req.command[0]!.includes('=')) throw new AppError('INVALID_REQUEST', 'command[0] must be a program name, not contain "="', { details: { field: 'command' } });
    argv = req.command;
  }

  const limits = tightenLimits(profile.name, profile.limits, { ...req.limits, ...(req.timeoutMs !== undefined ? { timeoutMs: req.timeoutMs } : {}) });
  checkInputFits(profile.name, profile.limits, limits, {
    fileBytes: files.map((f) => Buffer.byteLength(f.content, f.encoding)),
    stdinBytes: Buffer.byteLength(req.stdin),
    ...(req.patch !== undefined ? { patchBytes: Buffer.byteLength(req.patch) } : {}),
  });
  return {
    profile: profile.name,
    argv,
    files,
    stdin: req.stdin,
    ...(req.patch !== undefined ? { patch: req.patch } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    ...(tools.length > 0 ? { tools } : {}),
    ...(req.lineage !== undefined ? { lineage: req.lineage } : {}),
    env: req.env,
    limits,
  };
}

/**
 * What `jobGrant` grants the key on this profile, or the refusal as the API states it. A refused
 * tool gets the same answer whether it is not configured, not grantable on the profile or not
 * granted to the key, so a caller cannot probe which tools exist; the precise reason goes to
 * `onToolsRefused` (the request's audit record).
 */
function grantTools(requested: readonly string[], profile: GrantProfile, grant: GrantContext): string[] {
  const { key } = grant;
  const g = jobGrant(key, profile, requested, grant.knownTools);
  if (g.granted) return [...g.tools];
  switch (g.refused) {
    case 'role':
      throw new RoleDeniedError(`key ${key.id} has the role ${key.role}; jobs are run by the roles ${JOB_ROLES.join(', ')}`);
    case 'profile':
      throw new AppError('PROFILE_NOT_ALLOWED', `key ${key.id} may not run jobs on profile ${profile.name} (allowed: ${key.profiles?.join(', ') || 'none'})`, {
        details: { profile: profile.name },
      });
    case 'tools': {
      grant.onToolsRefused?.(g.tools);
      const reason = `not granted to key ${key.id} on profile ${profile.name}`;
      throw new AppError('TOOL_NOT_GRANTED', `tools refused: ${g.tools.map((r) => r.tool).join(', ')} (${reason})`, {
        details: { refused: g.tools.map(({ tool }) => ({ tool, reason })) },
      });
    }
  }
}

function checkBase64(value: string, field: string): string {
  if (!BASE64.test(value)) throw new AppError('INVALID_REQUEST', `${field} is not valid base64`, { details: { field } });
  return value;
}

/** `files` may add to an archive's tree but not silently replace one of its files. */
function mergeFiles(fromArchive: JobFileInput[], files: JobFileInput[]): JobFileInput[] {
  const seen = new Set(fromArchive.map((f) => f.path));
  for (const f of files) if (seen.has(f.path)) throw new AppError('INVALID_PATH', `file path ${f.path} is also in the archive`, { details: { path: f.path } });
  const all = [...fromArchive, ...files];
  checkTreeConflicts(all.map((f) => f.path));
  return all;
}

function checkOutputs(outputs: string[] | undefined): string[] | undefined {
  if (outputs === undefined) return undefined;
  if (outputs.length > INPUT_CAPS.outputs) throw new AppError('INPUT_TOO_LARGE', `more than ${INPUT_CAPS.outputs} output patterns (cap outputs)`, { details: { cap: 'outputs' } });
  for (const o of outputs) {
    const why = invalidGlobReason(o);
    if (why !== undefined) throw new AppError('INVALID_PATH', `output pattern ${JSON.stringify(o.slice(0, 300))} ${why}`, { details: { field: 'outputs', path: o.slice(0, 300) } });
  }
  return outputs;
}

function checkFiles(files: z.infer<typeof FileSchema>[]): JobFileInput[] {
  if (files.length > INPUT_CAPS.files)
    throw new AppError('TOO_MANY_FILES', `${files.length} files exceed the cap of ${INPUT_CAPS.files} (cap files)`, { details: { cap: 'files' } });
  let total = 0;
  const seen = new Set<string>();
  for (const f of files) {
    const path = checkPath(f.path);
    if (seen.has(path)) throw new AppError('INVALID_PATH', `duplicate file path ${path}`, { details: { path } });
    seen.add(path);
    if (f.encoding === 'base64' && !BASE64.test(f.content)) throw new AppError('INVALID_REQUEST', `file ${path}: content is not valid base64`, { details: { path } });
    const bytes = f.encoding === 'base64' ? Buffer.from(f.content, 'base64').length : Buffer.byteLength(f.content);
    if (bytes > INPUT_CAPS.fileBytes)
      throw new AppError('FILE_TOO_LARGE', `file ${path} is ${bytes} bytes; the cap is ${INPUT_CAPS.fileBytes} (cap fileBytes)`, { details: { cap: 'fileBytes', path } });
    total += bytes;
  }
  if (total > INPUT_CAPS.totalBytes)
    throw new AppError('INPUT_TOO_LARGE', `files total ${total} bytes; the cap is ${INPUT_CAPS.totalBytes} (cap totalBytes)`, { details: { cap: 'totalBytes' } });
  return files.map((f) => ({ path: posix.normalize(f.path), content: f.content, encoding: f.encoding }));
}

/** Unknown fields and wrong types become INVALID_REQUEST naming the field. */
export function zodToAppError(err: z.ZodError): AppError {
  const issue = err.issues[0];
  const path = issue?.path.join('.') ?? '';
  const range = limitRangeIssue(issue);
  if (range !== undefined) {
    return new AppError('LIMIT_OUT_OF_RANGE', `${path}: ${issue?.message ?? 'out of range'}`, { details: { field: range.field, min: range.min, max: range.max } });
  }
  if (issue?.code === 'unrecognized_keys') {
    const where = path === '' ? '' : ` in ${path}`;
    return new AppError('INVALID_REQUEST', `unknown field${issue.keys.length > 1 ? 's' : ''}${where}: ${issue.keys.join(', ')}`, { details: { field: issue.keys[0] } });
  }
  return new AppError('INVALID_REQUEST', `${path || 'body'}: ${issue?.message ?? 'invalid'}`, { details: { field: path } });
}

/** Validates with `schema`; the first problem becomes the API's INVALID_REQUEST. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown): T {
  const r = schema.safeParse(value);
  if (!r.success) throw zodToAppError(r.error);
  return r.data;
}
