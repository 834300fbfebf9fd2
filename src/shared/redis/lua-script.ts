/**
 * A typed Lua script: named KEYS and ARGV, a parsed reply, run with EVALSHA (the script's body
 * is sent once per Redis, not on every call) and EVAL as the fallback when Redis answers
 * NOSCRIPT (a restart, a failover or SCRIPT FLUSH emptied its cache; EVAL loads it again).
 *
 * The script's header is generated from its declaration, so it cannot drift from the call:
 * a comment listing every KEYS and ARGV slot, then `KEY` and `ARG` tables binding each name
 * to its slot. The body reads `KEY.job`, `ARG.workerId`, never a bare index (`KEY_REST` /
 * `ARG_REST` give the first index of a variable tail).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ZodType } from 'zod';
import { redisFailure, RedisFailure } from './redis-errors.js';

export type ScriptArg = string | number | Buffer;

export interface LuaScriptSpec<K extends string, A extends string, R> {
  /** Names the script in errors (kebab-case, e.g. `job-start`). */
  readonly name: string;
  /** What the script does and what it returns: the header's first lines. */
  readonly doc: string;
  /** KEYS in order, name → what the key holds. Names are Lua identifiers. */
  readonly keys: Readonly<Record<K, string>>;
  /** Declares a variable tail of KEYS after the named ones, and what it holds. */
  readonly restKeys?: string;
  /** ARGV in order, name → what the value is. */
  readonly args: Readonly<Record<A, string>>;
  /** Declares a variable tail of ARGV after the named ones. */
  readonly restArgs?: string;
  /** The reply's shape; a reply that does not fit is a bug (INTERNAL). */
  readonly reply: ZodType<R>;
  /** Bulk strings come back as Buffers (a binary value in the reply). */
  readonly binaryReply?: boolean;
  /** The Lua body, after the generated header. */
  readonly body: string;
  /**
   * Redis 7 script flags (a `#!lua flags=…` first line), e.g. `allow-oom` for a small bookkeeping
   * write that must keep working when Redis is at maxmemory (a limiter that fails there would
   * refuse every read along with the writes).
   */
  readonly flags?: readonly ('allow-oom' | 'no-writes' | 'allow-stale')[];
}

const LUA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class LuaScript<K extends string, A extends string, R> {
  /** The full text sent to Redis: the generated header, then the body. */
  readonly source: string;
  readonly sha1: string;
  readonly name: string;
  private readonly keyNames: readonly K[];
  private readonly argNames: readonly A[];

  constructor(private readonly spec: LuaScriptSpec<K, A, R>) {
    this.name = spec.name;
    this.keyNames = Object.keys(spec.keys) as K[];
    this.argNames = Object.keys(spec.args) as A[];
    for (const n of [...this.keyNames, ...this.argNames]) if (!LUA_NAME.test(n)) throw new Error(`script ${spec.name}: ${n} is not a Lua name`);
    const shebang = spec.flags === undefined ? '' : `#!lua flags=${spec.flags.join(',')}\n`;
    this.source = `${shebang}${header(spec, this.keyNames, this.argNames)}\n${spec.body.trim()}\n`;
    this.sha1 = createHash('sha1').update(this.source).digest('hex');
  }

  /** Runs the script: EVALSHA, or EVAL once when Redis does not know it yet. */
  async run(
    redis: Redis,
    keys: Readonly<Record<K, string>>,
    args: Readonly<Record<A, ScriptArg>>,
    rest: { keys?: readonly string[]; args?: readonly ScriptArg[] } = {},
  ): Promise<R> {
    const keyList = [...this.keyNames.map((n) => keys[n]), ...(rest.keys ?? [])];
    const argList = [...this.argNames.map((n) => args[n]), ...(rest.args ?? [])];
    const binary = this.spec.binaryReply === true;
    let raw: unknown;
    try {
      try {
        raw = binary
          ? await redis.callBuffer('EVALSHA', [this.sha1, keyList.length, ...keyList, ...argList])
          : await redis.evalsha(this.sha1, keyList.length, ...keyList, ...argList);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        raw = binary
          ? await redis.callBuffer('EVAL', [this.source, keyList.length, ...keyList, ...argList])
          : await redis.eval(this.source, keyList.length, ...keyList, ...argList);
      }
    } catch (err) {
      throw redisFailure(`script ${this.name}`, err);
    }
    const parsed = this.spec.reply.safeParse(raw);
    if (!parsed.success)
      throw new RedisFailure(
        'INTERNAL',
        `script ${this.name} replied with an unexpected shape: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'reply'}: ${i.message}`).join('; ')}`,
      );
    return parsed.data;
  }
}

function header(spec: LuaScriptSpec<string, string, unknown>, keyNames: readonly string[], argNames: readonly string[]): string {
  const lines = [
    `-- ${spec.name}`,
    ...spec.doc
      .trim()
      .split('\n')
      .map((l) => `-- ${l.trim()}`),
  ];
  keyNames.forEach((n, i) => lines.push(`-- KEYS[${i + 1}] ${n}: ${spec.keys[n]}`));
  if (spec.restKeys !== undefined) lines.push(`-- KEYS[${keyNames.length + 1}..] ${spec.restKeys}`);
  argNames.forEach((n, i) => lines.push(`-- ARGV[${i + 1}] ${n}: ${spec.args[n]}`));
  if (spec.restArgs !== undefined) lines.push(`-- ARGV[${argNames.length + 1}..] ${spec.restArgs}`);
  lines.push(`local KEY = {${keyNames.map((n, i) => `${n} = KEYS[${i + 1}]`).join(', ')}}`);
  lines.push(`local ARG = {${argNames.map((n, i) => `${n} = ARGV[${i + 1}]`).join(', ')}}`);
  lines.push(`local KEY_REST, ARG_REST = ${keyNames.length + 1}, ${argNames.length + 1}`);
  return lines.join('\n');
}
