export {
  ISOLATION_TIERS,
  LIMIT_NAMES,
  limitRangeIssue,
  LimitsSchema,
  ProfileSchema,
  type IsolationTier,
  type LimitRangeIssue,
  type Limits,
  type LoadedProfile,
  type Profile,
} from './profile-schema.js';
export { checkInputFits, inputNeeds, LAUNCHER_MEMORY_BYTES, type InputSizes } from './check-input-fits.js';
export { loadProfiles, loadSeccomp } from './load-profiles.js';
export { tightenLimits } from './tighten-limits.js';
export { capabilityMatrix, formatCapabilityMatrix, type CapabilityMatrix, type MatrixKey, type MatrixTool } from './capability-matrix.js';
export {
  credentialDeadlineMs,
  credentialLifetimeMs,
  grantableTools,
  jobGrant,
  JOB_ROLES,
  runsJobs,
  type CredentialTerms,
  type GrantKey,
  type GrantProfile,
  type JobGrant,
  type ToolRefusal,
} from './job-grant.js';
