/**
 * What a job token says, what a verification can conclude, and the RFC 7662 introspection
 * answer. Pure types and schemas.
 */
import { z } from 'zod';

export const JobGrantSchema = z.strictObject({
  jobId: z.string().min(1).max(200),
  /** Id of the API key that submitted the job (`key_…`), never the key itself. */
  keyId: z.string().min(1).max(200),
  profile: z.string().min(1).max(200),
  /** Tool names this job may call through the gateway. */
  tools: z.array(z.string().min(1).max(64)).max(256),
});
export type JobGrant = z.infer<typeof JobGrantSchema>;

const numericDate = z.number().int().nonnegative();

/** The payload of a job token. Unknown extra claims are tolerated (and ignored). */
export const JobClaimsSchema = z.object({
  iss: z.string().min(1),
  sub: z.string().min(1),
  aud: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  iat: numericDate,
  nbf: numericDate,
  exp: numericDate,
  jti: z.string().min(1).max(200),
  airlock: JobGrantSchema,
});
export type JobClaims = z.infer<typeof JobClaimsSchema>;

/** Why a token is not active. Goes to our logs and audit records, never to the token's holder. */
export const CREDENTIAL_FAILURE_REASONS = ['malformed', 'bad_signature', 'unknown_key', 'wrong_issuer', 'expired', 'not_yet_valid', 'wrong_audience', 'revoked'] as const;
export type CredentialFailureReason = (typeof CREDENTIAL_FAILURE_REASONS)[number];

export type VerifyOutcome = { readonly ok: true; readonly claims: JobClaims } | { readonly ok: false; readonly reason: CredentialFailureReason };

/** RFC 7662 §2.2. An inactive token gets exactly `{ active: false }`: the caller never learns why. */
export type IntrospectionResponse =
  | {
      readonly active: true;
      readonly jobId: string;
      readonly sub: string;
      readonly tools: readonly string[];
      readonly profile: string;
      readonly keyId: string;
      readonly exp: number;
      readonly iat: number;
      readonly jti: string;
      readonly aud: string | readonly string[];
      readonly iss: string;
      readonly token_type: 'Bearer';
    }
  | { readonly active: false };

export interface Introspection {
  /** What the API returns to the caller. */
  readonly response: IntrospectionResponse;
  /** Why the token is inactive, for our logs only; undefined when active. */
  readonly reason: CredentialFailureReason | undefined;
}

export function audiences(aud: string | readonly string[]): readonly string[] {
  return typeof aud === 'string' ? [aud] : aud;
}
