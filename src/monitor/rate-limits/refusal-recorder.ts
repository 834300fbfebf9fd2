/**
 * Refusals by a limit as `ratelimit.refused` audit records, summed so a flood cannot flood the
 * log (the gateway's refused calls are summed the same way): per subject (a key, or a source
 * address) and limit, the first refusal of a window is recorded at once (an operator sees it
 * now), the rest of the window's refusals in one summary record when the window closes.
 * Built structurally so the monitor does not depend on the audit module; the events are
 * AuditEvents.
 */
import type { LimitName } from './rate-limiter.js';

export type RefusalActor = { readonly type: 'key'; readonly keyId: string; readonly role: string };

/** Who was refused: a key, or a source address no key vouched for. */
export type RefusedSubject = { readonly keyId: string; readonly role: string } | { readonly address: string };

export interface RefusalEvent {
  readonly actor: RefusalActor;
  readonly action: 'ratelimit.refused';
  readonly target: string | null;
  readonly outcome: { readonly result: 'refused'; readonly error: string };
  readonly details: Readonly<Record<string, unknown>>;
}

export interface RefusalRecorderOptions {
  readonly append: (event: RefusalEvent) => Promise<unknown>;
  readonly windowMs: number;
  readonly now: () => number;
  /** A record that could not be written (the caller logs it; the refusal stands). */
  readonly onError: (err: unknown) => void;
}

interface Window {
  readonly subject: RefusedSubject;
  readonly limit: LimitName;
  readonly code: string;
  readonly firstMs: number;
  lastMs: number;
  /** Refusals after the first (the first has its own record). */
  more: number;
  timer: NodeJS.Timeout;
}

/** Anonymous traffic's actor: the same `anonymous` key id the HTTP audit hook uses. */
const ANONYMOUS: RefusalActor = { type: 'key', keyId: 'anonymous', role: 'unauthenticated' };

export class RefusalRecorder {
  private readonly windows = new Map<string, Window>();
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly opts: RefusalRecorderOptions) {}

  /** One refusal. Resolves once the window's first record is written (later ones are only counted). */
  refused(subject: RefusedSubject, limit: LimitName, code: string): Promise<void> {
    const id = `${'keyId' in subject ? subject.keyId : `addr:${subject.address}`}|${limit}`;
    const nowMs = this.opts.now();
    const open = this.windows.get(id);
    if (open !== undefined) {
      open.more++;
      open.lastMs = nowMs;
      return Promise.resolve();
    }
    const timer = setTimeout(() => void this.close(id), this.opts.windowMs);
    timer.unref();
    this.windows.set(id, { subject, limit, code, firstMs: nowMs, lastMs: nowMs, more: 0, timer });
    return this.write(eventOf(subject, limit, code, { count: 1, firstAt: iso(nowMs) }));
  }

  /** Writes every open window's summary now (shutdown, tests). */
  async flush(): Promise<void> {
    for (const id of [...this.windows.keys()]) void this.close(id);
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private close(id: string): Promise<void> {
    const w = this.windows.get(id);
    if (w === undefined) return Promise.resolve();
    clearTimeout(w.timer);
    this.windows.delete(id);
    if (w.more === 0) return Promise.resolve();
    return this.write(eventOf(w.subject, w.limit, w.code, { count: w.more, summary: true, firstAt: iso(w.firstMs), lastAt: iso(w.lastMs) }));
  }

  private write(event: RefusalEvent): Promise<void> {
    const p = this.opts.append(event).then(
      () => undefined,
      (err: unknown) => this.opts.onError(err),
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

function eventOf(subject: RefusedSubject, limit: LimitName, code: string, counts: Record<string, unknown>): RefusalEvent {
  const byKey = 'keyId' in subject;
  return {
    actor: byKey ? { type: 'key', keyId: subject.keyId, role: subject.role } : ANONYMOUS,
    action: 'ratelimit.refused',
    target: byKey ? subject.keyId : null,
    outcome: { result: 'refused', error: code },
    details: { limit, ...(byKey ? {} : { address: subject.address }), ...counts },
  };
}
