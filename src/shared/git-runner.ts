/**
 * Runs git without a shell, in a scrubbed environment: no user or system config, no
 * prompts, no hooks in our clone, only the local file transport, and no repository found
 * above the private home it works in. Shared by the git staging target and the patch reader.
 */
import { execFile } from 'node:child_process';
import { dirname, isAbsolute } from 'node:path';

const TIMEOUT_MS = 120_000;
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;

export class GitCommandError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    cause: unknown,
  ) {
    super(`git ${args[0] ?? ''} failed: ${stderr.trim().slice(0, 2000) || (cause instanceof Error ? cause.message : String(cause))}`, { cause });
    this.name = 'GitCommandError';
  }
}

export interface GitRunOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: Readonly<Record<string, string>>;
  /** Defaults: 120 s, 64 MiB of output. */
  timeoutMs?: number;
  maxOutputBytes?: number;
}

export interface GitRunner {
  (args: readonly string[], opts?: GitRunOptions): Promise<string>;
}

/** Standard system locations (like sudo's secure_path); a git elsewhere is named by absolute path. */
const SAFE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A runner whose HOME is `home` (a private temp dir), so nothing of the host user's git setup applies.
 * Nothing of our own environment is passed on (it holds secrets), PATH included.
 */
export function gitRunner(binary: string, home: string): GitRunner {
  const baseEnv: Record<string, string> = {
    PATH: isAbsolute(binary) ? `${dirname(binary)}:${SAFE_PATH}` : SAFE_PATH,
    HOME: home,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_ALLOW_PROTOCOL: 'file',
    // `home` is a fresh folder: never discover a repository above it
    GIT_CEILING_DIRECTORIES: dirname(home),
  };
  const fixed = ['-c', 'core.hooksPath=/dev/null', '-c', 'commit.gpgsign=false', '-c', 'core.autocrlf=false'];
  return (args, opts = {}) =>
    new Promise<string>((resolve, reject) => {
      const child = execFile(
        binary,
        [...fixed, ...args],
        {
          cwd: opts.cwd ?? home,
          env: { ...baseEnv, ...opts.env },
          encoding: 'utf8',
          timeout: opts.timeoutMs ?? TIMEOUT_MS,
          maxBuffer: opts.maxOutputBytes ?? MAX_OUTPUT_BYTES,
          killSignal: 'SIGKILL',
        },
        (err, stdout, stderr) => (err ? reject(new GitCommandError(args, stderr, err)) : resolve(stdout)),
      );
      // git may exit before reading all of stdin; the exit status reports that, not EPIPE
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(opts.input ?? '');
    });
}
