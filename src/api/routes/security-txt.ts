/**
 * GET /.well-known/security.txt (RFC 9116): where and how to report a vulnerability in Airlock.
 * Public (no key, like the JWKS) and audited like any request. The disclosure policy it
 * summarises is SECURITY.md; both name the same contact, which a deployment that exposes its
 * API should replace with its own security team's.
 */
import type { FastifyInstance } from 'fastify';

export const SECURITY_TXT_PATH = '/.well-known/security.txt';
export const SECURITY_CONTACT = 'mailto:security@airlock.example';
/** RFC 9116 asks for less than a year ahead: test/security-txt.redis.test.ts fails once it has passed. */
export const SECURITY_TXT_EXPIRES = '2027-11-30T00:00:00.000Z';

export function securityTxt(): string {
  return [
    '# Airlock: report vulnerabilities privately; see SECURITY.md in the source for the policy.',
    '# We acknowledge within 3 working days, agree a fix date within 14, and disclose',
    '# within 90 days of the report or at the fix, whichever comes first.',
    `Contact: ${SECURITY_CONTACT}`,
    `Expires: ${SECURITY_TXT_EXPIRES}`,
    'Preferred-Languages: en',
    '',
  ].join('\n');
}

export function securityTxtRoutes(app: FastifyInstance): void {
  app.get(SECURITY_TXT_PATH, (_req, reply) => reply.type('text/plain; charset=utf-8').send(securityTxt()));
}
