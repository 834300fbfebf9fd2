/**
 * /.well-known/security.txt (RFC 9116) from the running API: public, plain text, the required
 * fields, an Expires still in the future (this test fails once it has passed: renew it with
 * SECURITY.md), and the same contact SECURITY.md names.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SECURITY_CONTACT } from '../src/api/routes/security-txt.js';
import { startTestAirlock, type TestAirlock } from './helpers/airlock.js';

let t: TestAirlock;
beforeAll(async () => {
  t = await startTestAirlock('security-txt', { AIRLOCK_ROLE: 'api' });
});
afterAll(async () => t?.stop());

describe('security.txt', () => {
  it('is served without a key, as text, with Contact and an Expires less than a year ahead', async () => {
    const res = await fetch(`${t.baseUrl}/.well-known/security.txt`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const fields = new Map(
      (await res.text())
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    );
    expect(fields.get('Contact')).toBe(SECURITY_CONTACT);
    const expires = Date.parse(fields.get('Expires') ?? '');
    expect(expires).toBeGreaterThan(Date.now());
    expect(expires - Date.now()).toBeLessThan(366 * 24 * 3600 * 1000);
    expect(readFileSync(new URL('../SECURITY.md', import.meta.url), 'utf8')).toContain(SECURITY_CONTACT.replace('mailto:', ''));
  });
});
