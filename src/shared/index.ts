export { AppError, ERROR_CODES, isAppError, type ErrorCode } from './errors.js';
export { systemClock, type Clock } from './clock.js';
export { newId, idPattern } from './ids.js';
export { canonicalJson } from './canonical-json.js';
export { sha256Hex } from './digest.js';
export { GitCommandError, gitRunner, type GitRunner, type GitRunOptions } from './git-runner.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { compileGlob, invalidGlobReason, matchesAny, type GlobMatcher } from './glob.js';
export { guardRedis } from './redis-guard.js';
