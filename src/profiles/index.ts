export { LIMIT_NAMES, limitRangeIssue, LimitsSchema, ProfileSchema, type LimitRangeIssue, type Limits, type LoadedProfile, type Profile } from './profile-schema.js';
export { loadProfiles, loadSeccomp } from './load-profiles.js';
export { tightenLimits } from './tighten-limits.js';
export { capabilityMatrix, formatCapabilityMatrix, type CapabilityMatrix, type MatrixKey, type MatrixTool } from './capability-matrix.js';
