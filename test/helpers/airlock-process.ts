/**
 * Airlock as its own process (`bin/airlock.js serve`), as a host would run it: its own data folder,
 * its own environment (no AIRLOCK_* of the test's), reached only over HTTP, Redis and the bucket.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface AirlockProcess {
  readonly name: string;
  /** The API's base URL (API roles only). */
  readonly url: string | undefined;
  /** The first admin key, printed once by an API on its first start. */
  readonly bootstrapKey: string | undefined;
  /** Everything it wrote (stdout and stderr). */
  output(): string;
  /** SIGTERM (drain), then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now, as a crash (resolves once it has exited). */
  kill(): Promise<void>;
}

export async function startAirlockProcess(name: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<AirlockProcess> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AIRLOCK_')));
  const proc: ChildProcess = spawn(process.execPath, [resolve(ROOT, 'bin/airlock.js'), 'serve'], {
    cwd: ROOT,
    env: { ...base, AIRLOCK_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const deadline = Date.now() + readyTimeoutMs;
  while (!/airlock .* ready/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`${name} exited ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`${name} not ready within ${readyTimeoutMs} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // the banner is written in one piece once everything listens
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1]?.replace('0.0.0.0', '127.0.0.1');
  const bootstrapKey = /^\s+(ak_[A-Za-z0-9_-]+)\s*$/m.exec(out)?.[1];
  return {
    name,
    url,
    bootstrapKey,
    output: () => out,
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGKILL');
      await exited;
    },
    async stop(graceMs = 30_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
