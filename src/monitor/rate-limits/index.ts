export {
  KeyLimitOverridesSchema,
  KeyLimitsSchema,
  LIMIT_DEFAULTS,
  LimitOptionsSchema,
  type KeyLimitOverrides,
  type KeyLimits,
  type LimitOptions,
  type LimitRole,
} from './limit-options.js';
export { LimitRefusal, RateLimiter, type Admission, type AdmissionKeys, type LimitName, type RateDecision, type RateLimiterOptions, type Throttle } from './rate-limiter.js';
export { RefusalRecorder, type RefusalEvent, type RefusedSubject } from './refusal-recorder.js';
export { rateLimitHeaders } from './rate-limit-headers.js';
