/**
 * Signed webhooks, Stripe-style: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
 * Binding the timestamp into the MAC lets a receiver refuse replays of old deliveries.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SIGNATURE_HEADER = 'x-airlock-signature';

const HEX_SHA256 = /^[0-9a-f]{64}$/;

function mac(secret: string, body: string, timestampS: number): string {
  return createHmac('sha256', secret).update(`${timestampS}.${body}`).digest('hex');
}

/** Header value for `body` sent at `timestampS` (whole seconds since the epoch). */
export function signWebhook(secret: string, body: string, timestampS: number): string {
  if (!Number.isSafeInteger(timestampS) || timestampS < 0) throw new RangeError('timestampS must be a non-negative integer (seconds)');
  return `t=${timestampS},v1=${mac(secret, body, timestampS)}`;
}

/**
 * True when `header` carries a valid v1 signature of `body` made within `toleranceS` of `nowS`.
 * Several v1 entries are accepted (a sender rotating secrets may send one per secret).
 */
export function verifyWebhookSignature(secret: string, body: string, header: string | null | undefined, nowS: number, toleranceS = 300): boolean {
  if (typeof header !== 'string' || header.length > 4096) return false;
  let timestamp: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined || !/^\d{1,15}$/.test(value)) return false;
      timestamp = Number(value);
    } else if (key === 'v1' && HEX_SHA256.test(value)) {
      candidates.push(value);
    }
  }
  if (timestamp === undefined || candidates.length === 0) return false;
  if (!(Math.abs(nowS - timestamp) <= toleranceS)) return false;
  const expected = Buffer.from(mac(secret, body, timestamp), 'hex');
  let ok = false;
  // compare every candidate, so the time taken does not reveal which one matched
  for (const c of candidates) ok = timingSafeEqual(expected, Buffer.from(c, 'hex')) || ok;
  return ok;
}
