/**
 * Who asks for a mutation, and through what. Every mutation is a service method that appends its
 * record where it mutates, whoever calls it (HTTP, the command line, a process at start-up); the
 * origin adds its own facts to what the service knows: an HTTP request its route, status, bytes
 * and duration (api/http-origin.ts), a command its name.
 */
import type { AuditAction } from './audit-actions.js';
import type { Actor, AuditEvent } from './audit-record.js';
import type { AuditStore } from './audit-store.js';

/** What a service knows about one of its mutations. */
export interface MutationFacts {
  readonly action: AuditAction;
  /** The object changed (the new job or key, the promotion); null when there is none. */
  readonly target: string | null;
  /** How it ended, when a mutation can end more than one way (`cancelled`, `killing`). */
  readonly result?: string;
  /** What a submission runs (see codeDigestOf). */
  readonly codeDigest?: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

export interface AuditOrigin<R = unknown> {
  readonly actor: Actor;
  /** The record of a mutation that produced `value` (an HTTP origin describes the answer it gives for it). */
  event(facts: MutationFacts, value: R): AuditEvent;
  /** Told once the record is written: an HTTP request then needs no record of its own. */
  recorded?(): void;
}

/** Appends a mutation's record; throws AUDIT_UNAVAILABLE when it cannot be written (the caller then undoes, or refuses). */
export async function recordMutation<R>(audit: AuditStore, origin: AuditOrigin<R>, facts: MutationFacts, value: R): Promise<void> {
  await audit.append(origin.event(facts, value));
  origin.recorded?.();
}

/** A mutation an operator asks for on the command line (`command`: `airlock keys create`): actor `{type: 'system', via: 'cli'}`. */
export function commandOrigin(command: string): AuditOrigin {
  return systemOrigin('cli', { method: 'CLI', route: command });
}

/** A mutation a process makes at its own start-up (the first admin key): actor `{type: 'system', via: 'startup'}`. */
export function startupOrigin(): AuditOrigin {
  return systemOrigin('startup', undefined);
}

function systemOrigin(via: 'cli' | 'startup', request: { method: string; route: string } | undefined): AuditOrigin {
  const actor: Actor = { type: 'system', via };
  return {
    actor,
    event: (f) => ({
      actor,
      action: f.action,
      target: f.target,
      ...(request !== undefined ? { request: { ...request, ...(f.codeDigest !== undefined ? { codeDigest: f.codeDigest } : {}) } } : {}),
      ...(f.result !== undefined ? { outcome: { result: f.result } } : {}),
      ...(f.details !== undefined ? { details: { ...f.details } } : {}),
    }),
  };
}
