export { ApiKeyStore, apiKeyRedisKey, parseApiKey, ROLES, type ApiKeyInfo, type CreatedApiKey, type KeyState, type Role } from './api-key-store.js';
export { CREDENTIAL_START_SLACK_MS, JobCredentialOptionsSchema, parseJobCredentialOptions, type JobCredentialOptions } from './job-credential-options.js';
export {
  CREDENTIAL_FAILURE_REASONS,
  JobClaimsSchema,
  JobGrantSchema,
  type CredentialFailureReason,
  type Introspection,
  type IntrospectionResponse,
  type JobClaims,
  type JobGrant,
  type VerifyOutcome,
} from './job-claims.js';
export { JobCredentialVerifier, type JobCredentialVerifierOptions, type VerifyOptions } from './job-credential-verifier.js';
export { JobCredentialIssuer, type JobCredentialIssuerOptions, type MintInput, type MintedCredential, type RotationResult } from './job-credential-issuer.js';
export { credentialKeys, type CredentialKeys, type Jwks } from './published-keys.js';
export { type Ed25519Jwk } from './compact-jws.js';
