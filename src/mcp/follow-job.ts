/**
 * A submitted job followed to its end inside one tool call: MCP progress notifications while it
 * runs (when the caller asked for them with a progress token), and the caller's cancellation
 * cancels the job (a running job is killed, its container removed).
 */
import { isFinalJobState, type JobView } from '../client/index.js';
import type { McpBackend } from './mcp-backend.js';

export interface CallContext {
  /** The key's role, and the tools listed for it. */
  readonly role: string;
  readonly toolNames: readonly string[];
  /** Aborted when the caller cancels the request (or goes away). */
  readonly signal: AbortSignal;
  /** Sends one progress notification; absent when the caller gave no progress token. */
  readonly progress?: (progress: number, message: string) => Promise<void>;
}

/** Seconds of one wait step (a long-poll over stdio). */
const WAIT_STEP_S = 20;
const PROGRESS_EVERY_MS = 2_000;

export async function followJob(job: JobView, backend: McpBackend, ctx: CallContext): Promise<JobView> {
  let current = job;
  const startedMs = Date.now();
  const timer =
    ctx.progress === undefined
      ? undefined
      : setInterval(() => {
          const s = Math.round((Date.now() - startedMs) / 1000);
          ctx.progress?.(s, `job ${job.id} ${current.status} (${s} s)`).catch(() => undefined);
        }, PROGRESS_EVERY_MS);
  try {
    while (!isFinalJobState(current.status)) {
      current = await untilAborted(backend.awaitJob(current.id, WAIT_STEP_S), ctx.signal);
    }
    return current;
  } catch (e) {
    // the caller cancelled: the job goes too (a job that ended meanwhile is refused, which is fine)
    if (ctx.signal.aborted) await backend.cancelJob(job.id).catch(() => undefined);
    throw e;
  } finally {
    clearInterval(timer);
  }
}

function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    void p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
