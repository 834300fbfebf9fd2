/**
 * `airlock keys update|unthrottle|limits` and `airlock anomalies`: a key's own limits, lifting
 * its anomaly throttle, and the anomalies list, through the same services as the API
 * (PATCH /v1/keys/:id, DELETE /v1/keys/:id/throttle, GET /v1/keys/:id/limits, GET /v1/anomalies).
 */
import type { Config } from '../config.js';
import { AppError, keyLimits, listAnomalies, unthrottleKey, updateKeyLimits, type KeyLimitOverrides } from '../root/index.js';

/** The limit flags of `keys create` and `keys update`, checked before anything is opened. */
export const LIMIT_FLAGS: Readonly<Record<string, keyof KeyLimitOverrides>> = {
  rate: 'requestsPerMinute',
  'submit-rate': 'submitsPerMinute',
  'max-inflight': 'maxInflight',
  'input-bytes-per-day': 'inputBytesPerDay',
};

export function limitsOf(flags: ReadonlyMap<string, string>): KeyLimitOverrides {
  const limits: Record<string, number> = {};
  for (const [flag, field] of Object.entries(LIMIT_FLAGS)) {
    const v = flags.get(flag);
    if (v === undefined) continue;
    if (!/^[1-9][0-9]{0,12}$/.test(v)) throw new AppError('INVALID_REQUEST', `--${flag} must be a positive whole number`);
    limits[field] = Number(v);
  }
  return limits;
}

export async function keyLimitsCommand(sub: string, keyId: string | undefined, flags: ReadonlyMap<string, string>, config: Config, out: (s: string) => void): Promise<number> {
  if (keyId === undefined) throw new AppError('INVALID_REQUEST', `usage: airlock keys ${sub} KEY_ID`);
  if (sub === 'unthrottle') {
    const r = await unthrottleKey(config, keyId);
    out(
      r.lifted === null ? `${keyId} was not throttled` : `lifted the throttle of ${keyId} (anomaly ${r.lifted.anomalyId}, was until ${new Date(r.lifted.untilMs).toISOString()})`,
    );
    return 0;
  }
  const limits = limitsOf(flags);
  if (sub === 'update' && Object.keys(limits).length === 0)
    throw new AppError(
      'INVALID_REQUEST',
      `usage: airlock keys update KEY_ID ${Object.keys(LIMIT_FLAGS)
        .map((f) => `[--${f} N]`)
        .join(' ')}`,
    );
  const view = sub === 'update' ? await updateKeyLimits(config, keyId, limits) : await keyLimits(config, keyId);
  for (const [field, value] of Object.entries(view.limits)) out(`${field.padEnd(18)} ${String(value).padEnd(14)} ${field in view.overrides ? 'own' : 'role default'}`);
  if (view.throttle !== null)
    out(
      `throttled until ${view.throttle.until} (anomaly ${view.throttle.anomalyId}): ${view.throttle.requestsPerMinute} requests/min, ${view.throttle.submitsPerMinute} submissions/min`,
    );
  return 0;
}

export async function anomaliesCommand(flags: ReadonlyMap<string, string>, config: Config, out: (s: string) => void): Promise<number> {
  const key = flags.get('key');
  const limit = flags.get('limit');
  const list = await listAnomalies(config, { ...(key !== undefined ? { keyId: key } : {}), ...(limit !== undefined ? { limit: Number(limit) } : {}) });
  if (flags.has('json')) {
    out(JSON.stringify(list, null, 2));
    return 0;
  }
  out(['DETECTED'.padEnd(25), 'KEY'.padEnd(22), 'METRIC'.padEnd(10), 'LEVEL', 'OBSERVED', 'MEAN'.padStart(8), 'SIGMA'.padStart(7), 'Z'.padStart(6), 'THROTTLED UNTIL'].join(' '));
  for (const a of list) {
    out(
      [
        a.detectedAt.padEnd(25),
        a.keyId.padEnd(22),
        a.metric.padEnd(10),
        a.level.padEnd(5),
        String(a.observed).padStart(8),
        a.mean.toFixed(1).padStart(8),
        a.sigma.toFixed(1).padStart(7),
        a.z.toFixed(1).padStart(6),
        a.throttle.until,
      ].join(' '),
    );
  }
  return 0;
}
