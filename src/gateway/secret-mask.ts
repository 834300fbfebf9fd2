/**
 * Masks secret values inside strings and bodies: what an upstream echoes back (a debug
 * endpoint returning request headers) must not hand the job an injected secret, and no
 * report may carry the job's token.
 */
export const REDACTED = '[redacted]';

export class SecretMask {
  /** Longest first, so a prefixed value (`Bearer s3cr3t…`) is masked whole before its bare secret. */
  private readonly values: readonly string[];

  constructor(values: Iterable<string>) {
    this.values = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
  }

  text(text: string, ...extra: ReadonlyArray<string | undefined>): string {
    let out = text;
    for (const value of [...extra, ...this.values]) if (value !== undefined && value.length > 0) out = out.split(value).join(REDACTED);
    return out;
  }

  body(body: Buffer): Buffer {
    let out = body;
    for (const value of this.values) {
      const needle = Buffer.from(value, 'utf8');
      if (out.indexOf(needle) < 0) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, from)) {
        parts.push(out.subarray(from, at), Buffer.from(REDACTED));
        from = at + needle.length;
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }
}
