/**
 * Process-level containment for per-job components. A component that serves one job (the
 * tool gateway) runs inside `runInJobScope`; everything it schedules (sockets, timers,
 * promises) inherits the scope through AsyncLocalStorage, and Node runs an
 * `uncaughtException` handler in the context of the throwing callback and an
 * `unhandledRejection` handler in the context of the promise. So the scope is the tag: an
 * escaped error that carries one is logged with its component and job and contained (one
 * job's component must not take down the API and every other job; stalled-job recovery would
 * only re-run the job into the same crash). An error with no scope is a genuinely unknown
 * crash: it is logged as fatal and the process exits, for the supervisor to restart.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

export interface JobComponentScope {
  /** e.g. `tool-gateway`. */
  readonly component: string;
  readonly jobId: string;
}

const scopes = new AsyncLocalStorage<JobComponentScope>();

/** Runs `fn`, and everything it schedules, as part of one job's component. */
export function runInJobScope<T>(scope: JobComponentScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/** The per-job component the current code runs for, if any. */
export function currentJobScope(): JobComponentScope | undefined {
  return scopes.getStore();
}

export interface ContainOptions {
  readonly logger: Logger;
  /** How an unknown crash ends the process (default: process.exit). */
  readonly exit?: (code: number) => void;
}

/** Installs the `uncaughtException` and `unhandledRejection` handlers; returns their removal. */
export function containProcessErrors(opts: ContainOptions): () => void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const handler =
    (kind: 'uncaughtException' | 'unhandledRejection') =>
    (err: unknown): void => {
      const scope = scopes.getStore();
      if (scope !== undefined) {
        opts.logger.error({ err, kind, component: scope.component, jobId: scope.jobId }, `contained an error that escaped the ${scope.component} of job ${scope.jobId}`);
        return;
      }
      opts.logger.fatal({ err, kind }, 'uncaught error outside any per-job component; exiting');
      exit(1);
    };
  const onException = handler('uncaughtException');
  const onRejection = handler('unhandledRejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
