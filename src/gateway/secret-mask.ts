/**
 * Masks secret values inside strings and bodies: what an upstream echoes back (a debug
 * endpoint returning request headers) must not hand the job an injected secret, and no
 * report may carry the job's token. An echo is rarely literal, so each secret is masked in
 * the forms common encoders give it (secretForms). Bodies are masked whole, after decoding
 * (response-decoding.ts), so neither a chunk boundary nor a compression hides a secret. What
 * this cannot catch (a secret re-encoded twice, encrypted, split into fields, case-folded)
 * is why an endpoint that reflects its request must never be configured as a tool.
 */
import { secretForms } from '../shared/secret-forms.js';

export const REDACTED = '[redacted]';

/** Longest first, so a prefixed value (`Bearer s3cr3t…`) is masked whole before its bare secret. */
const longestFirst = (forms: Iterable<string>): string[] => [...new Set(forms)].sort((a, b) => b.length - a.length);

function maskAll(text: string, forms: readonly string[]): string {
  let out = text;
  for (const form of forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
  return out;
}

export class SecretMask {
  private readonly forms: readonly string[];

  constructor(values: Iterable<string>) {
    this.forms = longestFirst([...values].flatMap(secretForms));
  }

  text(text: string, ...extra: ReadonlyArray<string | undefined>): string {
    const more = extra.filter((v): v is string => v !== undefined && v.length > 0);
    return maskAll(text, more.length === 0 ? this.forms : longestFirst([...more.flatMap(secretForms), ...this.forms]));
  }

  /** Masks the whole body at once. Forms are ASCII, so a byte-for-byte (latin1) view finds them in any text encoding that keeps ASCII as is. */
  body(body: Buffer): Buffer {
    const view = body.toString('latin1');
    const masked = maskAll(view, this.forms);
    return masked === view ? body : Buffer.from(masked, 'latin1');
  }
}
