/**
 * Redis key layout of the audit log, in one place. Everything lives under `{prefix}:audit:` (the
 * deployment's hash tag, so the append script's keys share one Redis Cluster slot).
 * Index keys embed caller-supplied ids (keyId, target); Redis keys are binary-safe, so no
 * escaping is needed, and the `:` separators before them keep families apart.
 */
import { keyRoot } from '../shared/index.js';
import type { Actor } from './audit-record.js';

/** An actor as far as indexing goes: the role of a key is not part of its identity. */
export type ActorFilter = { type: 'key'; keyId: string } | { type: 'system' } | { type: 'worker'; workerId: string };

export interface AuditKeys {
  /** string: canonical JSON {seq, hash, time} of the last record appended */
  readonly head: string;
  /** string: canonical JSON {seq, hash, time} of the last record retention removed (absent: none) */
  readonly base: string;
  /** hash: seq → canonical JSON record */
  readonly records: string;
  /** string: id of the appender that lost the last race and goes next (short TTL) */
  readonly claim: string;
  /** zset: member seq, score time in ms (time is monotonic in seq, so this maps times to seqs) */
  readonly time: string;
  /** set: names of every index zset below, so retention can prune them */
  readonly indexRegistry: string;
  /** zset: member checkpoint JSON, score seq (convenience copies; the file sink is authoritative) */
  readonly checkpoints: string;
  /** zset per actor / action / target: member seq, score seq */
  actor(actor: Actor | ActorFilter): string;
  action(action: string): string;
  target(target: string): string;
}

export function auditKeys(prefix: string): AuditKeys {
  const root = `${keyRoot(prefix)}:audit`;
  return {
    head: `${root}:head`,
    base: `${root}:base`,
    records: `${root}:records`,
    claim: `${root}:claim`,
    time: `${root}:idx:time`,
    indexRegistry: `${root}:idx:registry`,
    checkpoints: `${root}:checkpoints`,
    actor: (actor) => `${root}:idx:actor:${actorIndexId(actor)}`,
    action: (action) => `${root}:idx:action:${action}`,
    target: (target) => `${root}:idx:target:${target}`,
  };
}

export function actorIndexId(actor: Actor | ActorFilter): string {
  switch (actor.type) {
    case 'key':
      return `key:${actor.keyId}`;
    case 'worker':
      return `worker:${actor.workerId}`;
    case 'system':
      return 'system';
  }
}
