/**
 * `airlock review list|show|approve|reject` and `airlock promotion wait`: the human's and the
 * pipeline's side of promotion to staging. HTTP clients of the running API (AIRLOCK_URL,
 * AIRLOCK_KEY, or --url/--key); the API decides everything, these only show and ask.
 *
 * Everything shown comes from untrusted code or people (job output, the patch, notes,
 * reasons, paths): control characters are made visible and job output is fenced with a
 * gutter, so nothing in it can rewrite the terminal or pass for this command's own text.
 */
import type { Config } from '../config.js';
import { AppError, FINAL_STATES, PROMOTION_STATES, type Promotion, type PromotionState } from '../root/index.js';
import { Airlock, type PromotionSummary } from '../client/index.js';
import { promotionPath, show } from './review-show.js';
import { printable, table } from './terminal-text.js';

type Out = (s: string) => void;
type Flags = ReadonlyMap<string, string>;

/** Exit codes of `airlock promotion wait` (README and tests use these). */
export const WAIT_EXIT = {
  promoted: 0,
  error: 1,
  usage: 2,
  rejected: 3,
  expired: 4,
  failed: 5,
  superseded: 6,
  timeout: 7,
} as const;

/** Usage errors exit 2 (API errors 1). */
export const EXIT_USAGE = 2;

export const REVIEW_USAGE = [
  'usage: airlock review list [--state STATE|all] [--target T] [--job JOB_ID] [--limit N] [--json]',
  '       airlock review show PROMOTION_ID [--json]',
  '       airlock review approve PROMOTION_ID --reason TEXT [--digest DIGEST]',
  '       airlock review reject PROMOTION_ID --reason TEXT [--digest DIGEST]',
  '       (--url URL and --key KEY override AIRLOCK_URL and AIRLOCK_KEY)',
].join('\n');

export const PROMOTION_USAGE = 'usage: airlock promotion wait PROMOTION_ID [--timeout SECONDS (default 600)] [--interval MS (default 1000)]';

/** GET /v1/promotions/:id */
export type PromotionView = Promotion & { readonly url: string };

export async function reviewCommand(sub: string | undefined, args: readonly string[], flags: Flags, config: Config, out: Out, err: Out): Promise<number> {
  const positional = [...args];
  const json = booleanFlag(flags, 'json', positional);
  switch (sub) {
    case 'list':
      return await list(client(config, flags), flags, json, out);
    case 'show': {
      const id = positional[0];
      if (id === undefined) return usage(err, 'review show needs a PROMOTION_ID', REVIEW_USAGE);
      return await show(client(config, flags), id, json, out);
    }
    case 'approve':
    case 'reject': {
      const id = positional[0];
      if (id === undefined) return usage(err, `review ${sub} needs a PROMOTION_ID`, REVIEW_USAGE);
      const reason = flags.get('reason');
      // a bare `--reason` parses as "true"
      if (reason === undefined || reason === 'true' || reason.trim() === '')
        return usage(err, `review ${sub} needs --reason TEXT: every decision is recorded with its reason`, REVIEW_USAGE);
      const digest = flags.get('digest');
      if (digest === 'true' || digest?.trim() === '') return usage(err, '--digest needs the DIGEST you reviewed (as shown by `airlock review show`)', REVIEW_USAGE);
      return await decide(client(config, flags), sub, id, reason, digest, out);
    }
    default:
      return usage(err, sub === undefined ? 'review needs a subcommand' : `unknown review subcommand ${sub}`, REVIEW_USAGE);
  }
}

export async function promotionCommand(sub: string | undefined, args: readonly string[], flags: Flags, config: Config, out: Out, err: Out): Promise<number> {
  if (sub !== 'wait') return usage(err, sub === undefined ? 'promotion needs a subcommand' : `unknown promotion subcommand ${sub}`, PROMOTION_USAGE);
  const id = args[0];
  if (id === undefined) return usage(err, 'promotion wait needs a PROMOTION_ID', PROMOTION_USAGE);
  const timeoutS = numberFlag(flags, 'timeout', 600);
  const intervalMs = numberFlag(flags, 'interval', 1000);
  if (timeoutS === undefined || timeoutS < 0) return usage(err, '--timeout must be a number of seconds >= 0', PROMOTION_USAGE);
  if (intervalMs === undefined || intervalMs < 50) return usage(err, '--interval must be a number of milliseconds >= 50', PROMOTION_USAGE);
  return (await waitForPromotion(client(config, flags), id, { timeoutMs: timeoutS * 1000, intervalMs }, out, err)).exit;
}

// ---------------------------------------------------------------------------------------------
// review list

async function list(api: Airlock, flags: Flags, json: boolean, out: Out): Promise<number> {
  const state = flags.get('state') ?? 'pending_review';
  if (state !== 'all' && !(PROMOTION_STATES as readonly string[]).includes(state)) {
    throw new AppError('INVALID_REQUEST', `--state must be all or one of ${PROMOTION_STATES.join(', ')}`);
  }
  const query = new URLSearchParams();
  if (state !== 'all') query.set('state', state);
  for (const [flag, param] of [
    ['target', 'target'],
    ['job', 'jobId'],
    ['limit', 'limit'],
  ] as const) {
    const v = flags.get(flag);
    if (v !== undefined) query.set(param, v);
  }
  const qs = query.toString();
  const { promotions } = await api.json<{ promotions: PromotionSummary[] }>({ method: 'GET', path: `/v1/promotions${qs === '' ? '' : `?${qs}`}` });
  if (json) {
    out(JSON.stringify(promotions, null, 2));
    return 0;
  }
  if (promotions.length === 0) {
    out(`no promotions${state === 'all' ? '' : ` in state ${state}`}`);
    return 0;
  }
  const rows = promotions.map((p) => [
    p.id,
    p.state,
    p.target,
    p.jobId,
    p.risk,
    `${p.approvals}/${p.approvalsNeeded}`,
    `${p.deadlineAt}${p.escalatedAt !== null ? ' (escalated)' : ''}`,
    p.requester.principal,
  ]);
  for (const line of table(['ID', 'STATE', 'TARGET', 'JOB', 'RISK', 'APPROVALS', 'DEADLINE', 'REQUESTER'], rows)) out(line);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// review show

// ---------------------------------------------------------------------------------------------
// review approve | reject

async function decide(api: Airlock, decision: 'approve' | 'reject', id: string, reason: string, pinned: string | undefined, out: Out): Promise<number> {
  // a human approves what they saw: the digest is the one the API shows now, or the one they pin
  const p = await api.json<PromotionView>({ method: 'GET', path: promotionPath(id) });
  const artifactDigest = pinned ?? p.artifactDigest;
  out(`${decision === 'approve' ? 'approving' : 'rejecting'} promotion ${p.id} of job ${p.jobId} to ${p.target} (${p.state})`);
  out(`  digest ${artifactDigest} (${p.artifactKind})${pinned !== undefined && pinned !== p.artifactDigest ? `; the promotion is bound to ${p.artifactDigest}` : ''}`);
  const r = await api.json<{ decision: { outcome: string; approvals: number }; promotion: PromotionView }>({
    method: 'POST',
    path: `${promotionPath(id)}/decisions`,
    body: { decision, reason, artifactDigest },
  });
  const needed = r.promotion.requirement.approvals;
  switch (r.decision.outcome) {
    case 'recorded': {
      const group = r.promotion.requirement.requireGroup;
      const missing = group !== null && r.decision.approvals >= needed ? `; an approval from group ${group} is still needed` : '';
      out(`recorded ${r.decision.approvals}/${needed} approvals${missing}`);
      break;
    }
    case 'approved':
      out('approved: quorum reached; applying');
      break;
    case 'rejected':
      out('rejected');
      break;
    default:
      out(`${printable(r.decision.outcome)} (${r.decision.approvals}/${needed} approvals; state ${r.promotion.state})`);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// promotion wait

// a pipeline stops waiting on failed too: only an admin's retry would move it on
const WAIT_FINAL: ReadonlySet<PromotionState> = new Set([...FINAL_STATES, 'failed']);

/** Polls until the promotion is final or the timeout: state changes to `err`, one result line to `out`, and `promotion wait`'s exit code (also `airlock run --wait-review`'s). */
export async function waitForPromotion(
  api: Airlock,
  id: string,
  opts: { timeoutMs: number; intervalMs: number },
  out: Out,
  err: Out,
): Promise<{ exit: number; promotion: PromotionView | undefined }> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: PromotionView | undefined;
  let lastError = '';
  for (;;) {
    try {
      const p = await api.json<PromotionView>({ method: 'GET', path: promotionPath(id) });
      if (p.state !== last?.state) err(`${p.id}: ${p.state}`);
      last = p;
      lastError = '';
      if (WAIT_FINAL.has(p.state)) return { exit: finalLine(p, out), promotion: p };
    } catch (e) {
      // the API restarting, or Redis briefly away, should not fail a pipeline's long wait
      if (!(e instanceof AppError && e.retryable) || Date.now() >= deadline) throw e;
      const text = `${e.code}: ${e.message}`;
      if (text !== lastError) err(`airlock: ${text} (retrying until the timeout)`);
      lastError = text;
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    await sleep(Math.min(opts.intervalMs, left));
  }
  if (last === undefined) throw new AppError('INTERNAL', `no answer about ${id} before the timeout`);
  out(`timed out: ${last.id} is still ${last.state} after ${opts.timeoutMs / 1000} s`);
  return { exit: WAIT_EXIT.timeout, promotion: last };
}

function finalLine(p: PromotionView, out: Out): number {
  if (p.state === 'promoted') {
    out(`promoted ${printable(p.outcome?.location ?? '(no location recorded)')}`);
    return WAIT_EXIT.promoted;
  }
  const reason = p.state === 'failed' && p.failure !== null ? p.failure : (p.history.at(-1)?.reason ?? '');
  out(`${p.state}: ${printable(reason)}`);
  switch (p.state) {
    case 'rejected':
      return WAIT_EXIT.rejected;
    case 'expired':
      return WAIT_EXIT.expired;
    case 'failed':
      return WAIT_EXIT.failed;
    case 'superseded':
      return WAIT_EXIT.superseded;
    default:
      return WAIT_EXIT.error;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------------------------
// helpers

/** The API client for these flags: --url/--key, else AIRLOCK_URL/AIRLOCK_KEY. */
function client(config: Config, flags: Flags): Airlock {
  const url = flags.get('url') ?? config.client.url;
  const key = flags.get('key') ?? config.client.key;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
    throw new AppError('INVALID_REQUEST', `--url / AIRLOCK_URL must be an http(s) URL of the Airlock API, got ${JSON.stringify(url)}`);
  if (key === undefined || key === 'true' || key.trim() === '') {
    throw new AppError('UNAUTHORIZED', 'no API key: set AIRLOCK_KEY or pass --key KEY (a reviewer key to approve or reject; the requesting key or a reviewer key to wait)');
  }
  // retries of 503/429 are the wait loop's own (it reports them); a single call is tried once
  return new Airlock({ url, key: key.trim(), retries: 0 });
}

function usage(err: Out, message: string, text: string): number {
  err(`airlock: ${message}`);
  err(text);
  return EXIT_USAGE;
}

/**
 * parseArgs cannot know which flags take no value: `--json ID` reads ID as the flag's value.
 * Such a value is given back as the positional it was.
 */
function booleanFlag(flags: Flags, name: string, positional: string[]): boolean {
  const v = flags.get(name);
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') positional.push(v);
  return v !== 'false';
}

function numberFlag(flags: Flags, name: string, def: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return def;
  const n = Number(v);
  return v.trim() !== '' && Number.isFinite(n) ? n : undefined;
}
