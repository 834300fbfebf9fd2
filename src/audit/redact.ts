/**
 * Redaction of audit events: the shared policy (src/shared/redact.ts), the same function the
 * logger's serializers use, so a secret masked in a record is masked in the log too. Every
 * event passes `redact` before it is validated and hashed (audit-record.ts).
 */
export { redact, redactString, isSecretKey, REDACTED } from '../shared/index.js';
