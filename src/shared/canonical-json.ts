/**
 * Canonical JSON: object keys sorted, no whitespace, `undefined` members dropped.
 * Used wherever bytes are hashed or signed, so the same value always gives the same digest.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortValue(value));
}

function sortValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortValue(member);
    }
    return out;
  }
  return value;
}
