/**
 * What a tool is: an upstream origin the gateway may call on a job's behalf, with the
 * methods and path prefixes allowed, and headers carrying secrets it adds on the way out.
 * Validated once at start-up; every error names the tool and the field.
 */
import { z } from 'zod';
import { AppError } from '../shared/index.js';
import { DEFAULT_FORWARD_HEADERS, unforwardableReason } from './forward-headers.js';
import { prefixSegments } from './request-target.js';

export const TOOL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type ToolMethod = (typeof TOOL_METHODS)[number];

const MiB = 1024 * 1024;
const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Headers a tool may not set: the gateway owns framing and routing. */
export const FORBIDDEN_INJECT_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'proxy-connection',
]);

function exactOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return u.origin === value && (u.protocol === 'https:' || (u.protocol === 'http:' && LOOPBACK.has(u.hostname)));
  } catch {
    return false;
  }
}

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;

function headerNameProblem(name: string): string | undefined {
  if (!HEADER_NAME.test(name)) return 'must be an HTTP header name';
  if (FORBIDDEN_INJECT_HEADERS.has(name.toLowerCase())) return 'is a header the gateway sets itself';
  return undefined;
}

export const InjectHeaderSchema = z.strictObject({
  /** Name of the secret, looked up through the resolver the gateway is given (never the value). */
  secret: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be a secret name (letters, digits, underscore)'),
  /** Put before the secret value, e.g. `Bearer `. */
  prefix: z
    .string()
    .regex(/^[\x20-\x7e]{0,64}$/, 'must be printable ASCII')
    .default(''),
});

export const ToolSchema = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'lowercase letters, digits and dashes, starting with a letter'),
  type: z.literal('http'),
  /** Exact origin, no path: `https://host[:port]`, or `http://127.0.0.1:port` (loopback only). */
  origin: z.string().refine(exactOrigin, 'must be an exact origin: https://host[:port] (or http:// on 127.0.0.1), with no path, query, credentials or trailing slash'),
  methods: z
    .array(z.enum(TOOL_METHODS))
    .min(1)
    .transform((m) => [...new Set(m)]),
  /** Allowed path prefixes, compared segment by segment: `/fixtures/` allows `/fixtures/a`, not `/fixtures-x`. */
  pathPrefixes: z.array(z.string().refine((p) => prefixSegments(p) !== undefined, 'must start with / and contain no empty, "." or ".." segments, %, \\, ? or #')).min(1),
  injectHeaders: z
    .record(z.string(), InjectHeaderSchema)
    .superRefine(
      (headers, ctx) => {
        for (const name of Object.keys(headers)) {
          const problem = headerNameProblem(name);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem });
        }
      },
      { when: () => true },
    ) // names are checked even when a value is wrong too
    .default({}),
  /** Headers of the job's request passed on to the upstream (case-insensitive); the override family is refused. */
  forwardHeaders: z
    .array(
      z
        .string()
        .regex(HEADER_NAME, 'must be an HTTP header name')
        .superRefine((name, ctx) => {
          const why = unforwardableReason(name);
          if (why !== undefined) ctx.addIssue({ code: 'custom', message: `${name} ${why}` });
        }),
    )
    .max(64)
    .default([...DEFAULT_FORWARD_HEADERS])
    .transform((names) => [...new Set(names.map((n) => n.toLowerCase()))]),
  maxRequestBytes: z
    .number()
    .int()
    .positive()
    .max(64 * MiB)
    .default(MiB),
  maxResponseBytes: z
    .number()
    .int()
    .positive()
    .max(256 * MiB)
    .default(4 * MiB),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
});
export type Tool = z.infer<typeof ToolSchema>;

function configError(issues: string[]): AppError {
  return new AppError('CONFIG_INVALID', `invalid tools configuration:\n${issues.map((i) => `  ${i}`).join('\n')}`);
}

/** Validates a list of tools (e.g. the parsed tools file); all problems at once, each naming tool and field. */
export function parseTools(raw: unknown): Tool[] {
  if (!Array.isArray(raw)) throw configError(['the tools configuration must be a JSON array of tools']);
  const issues: string[] = [];
  const tools: Tool[] = [];
  const seen = new Set<string>();
  raw.forEach((item: unknown, i) => {
    const declared = item !== null && typeof item === 'object' ? (item as Record<string, unknown>)['name'] : undefined;
    const label = typeof declared === 'string' && declared.length > 0 ? `tool "${declared.slice(0, 64)}"` : `tool #${i}`;
    if (typeof declared === 'string') {
      if (seen.has(declared)) issues.push(`${label}: name: defined more than once`);
      seen.add(declared);
    }
    const parsed = ToolSchema.safeParse(item);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) issues.push(`${label}: ${issue.path.join('.') || '(tool)'}: ${issue.message}`);
      return;
    }
    const lower = Object.keys(parsed.data.injectHeaders).map((h) => h.toLowerCase());
    if (new Set(lower).size !== lower.length) issues.push(`${label}: injectHeaders: a header is named twice (names are case-insensitive)`);
    tools.push(parsed.data);
  });
  if (issues.length > 0) throw configError(issues);
  return tools;
}

/** Looks up a secret by name (the caller reads a secrets file or the environment). */
export type SecretResolver = (name: string) => string | undefined;

export const MIN_SECRET_CHARS = 8;

/**
 * Resolves every injected header of every tool, or throws CONFIG_INVALID naming each tool,
 * header and secret NAME that is missing or unusable (never a value). Call it at start-up.
 */
export function resolveToolSecrets(tools: readonly Tool[], resolve: SecretResolver): Map<string, ReadonlyMap<string, { value: string; secret: string }>> {
  const issues: string[] = [];
  const out = new Map<string, Map<string, { value: string; secret: string }>>();
  for (const tool of tools) {
    const headers = new Map<string, { value: string; secret: string }>();
    for (const [header, spec] of Object.entries(tool.injectHeaders)) {
      const secret = resolve(spec.secret);
      const where = `tool "${tool.name}": injectHeaders.${header}: secret ${spec.secret}`;
      if (secret === undefined || secret.length === 0) issues.push(`${where} is not set`);
      else if (secret.length < MIN_SECRET_CHARS) issues.push(`${where} is shorter than ${MIN_SECRET_CHARS} characters`);
      else if (!/^[\x20-\x7e]+$/.test(secret)) issues.push(`${where} must be printable ASCII (no line breaks)`);
      else headers.set(header.toLowerCase(), { value: `${spec.prefix}${secret}`, secret });
    }
    out.set(tool.name, headers);
  }
  if (issues.length > 0) throw configError(issues);
  return out;
}
