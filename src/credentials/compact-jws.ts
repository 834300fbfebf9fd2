/**
 * Compact JWS with Ed25519 (RFC 7515 / RFC 8037), pure: encode, split, sign, check a
 * signature. Base64url is decoded strictly (canonical form only), so one token has exactly
 * one spelling and a re-encoded or padded variant is malformed, never a second valid token.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';

/** Upper bound on a token we even try to parse: a job token is well under 1 KiB. */
export const MAX_TOKEN_CHARS = 8192;

const B64URL = /^[A-Za-z0-9_-]*$/;

export function b64urlEncode(data: string | Uint8Array): string {
  return Buffer.from(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).toString('base64url');
}

/** Decodes canonical base64url; undefined for anything else (padding, other alphabets, stray bits). */
export function b64urlDecode(text: string): Buffer | undefined {
  if (!B64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

export interface JwsParts {
  readonly header: Record<string, unknown>;
  /** The raw payload JSON object; not yet trusted. */
  readonly payload: Record<string, unknown>;
  readonly signingInput: string;
  readonly signature: Buffer;
}

function jsonObject(bytes: Buffer | undefined): Record<string, unknown> | undefined {
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Splits `header.payload.signature`; undefined when the shape is not a compact JWS of JSON objects. */
export function splitJws(token: string): JwsParts | undefined {
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS) return undefined;
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [h, p, s] = parts as [string, string, string];
  const header = jsonObject(b64urlDecode(h));
  const payload = jsonObject(b64urlDecode(p));
  const signature = b64urlDecode(s);
  if (header === undefined || payload === undefined || signature === undefined) return undefined;
  return { header, payload, signingInput: `${h}.${p}`, signature };
}

export function signJws(header: Record<string, unknown>, payload: Record<string, unknown>, privateKey: KeyObject): string {
  const signingInput = `${b64urlEncode(JSON.stringify(header))}.${b64urlEncode(JSON.stringify(payload))}`;
  return `${signingInput}.${b64urlEncode(sign(null, Buffer.from(signingInput, 'ascii'), privateKey))}`;
}

export function signatureValid(parts: JwsParts, publicKey: KeyObject): boolean {
  if (parts.signature.length !== 64) return false;
  try {
    return verify(null, Buffer.from(parts.signingInput, 'ascii'), publicKey, parts.signature);
  } catch {
    return false;
  }
}

/** The public members of an Ed25519 JWK (RFC 8037). */
export interface Ed25519Jwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

/** The JWK of an Ed25519 public key; `kid` is its RFC 7638 thumbprint (sha256, base64url). */
export function ed25519Jwk(publicKey: KeyObject): Ed25519Jwk {
  const { x } = publicKey.export({ format: 'jwk' });
  if (publicKey.asymmetricKeyType !== 'ed25519' || typeof x !== 'string') throw new TypeError('not an Ed25519 public key');
  // RFC 7638: the required members only, in lexicographic order, no whitespace
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: 'Ed25519', kty: 'OKP', x }))
    .digest('base64url');
  return { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' };
}
