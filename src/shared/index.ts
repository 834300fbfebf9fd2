export { AppError, ERROR_CODES, isAppError, type ErrorCode } from './errors.js';
export { systemClock, type Clock } from './clock.js';
export { AsyncDisposableStack, DisposalError, type AsyncDisposableStackLike } from './async-disposable-stack.js';
export { newId, idPattern } from './ids.js';
export { canonicalJson } from './canonical-json.js';
export { sha256Hex } from './digest.js';
export { GitCommandError, gitRunner, type GitRunner, type GitRunOptions } from './git-runner.js';
export { irregularChanges, readPatch, REGULAR_FILE_MODE, type PatchFile, type PatchView } from './read-patch.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { containProcessErrors, currentJobScope, runInJobScope, type ContainOptions, type JobComponentScope } from './contain-errors.js';
export { compileGlob, invalidGlobReason, matchesAny, type GlobMatcher } from './glob.js';
export { isGitName, SAFE_PATH_MAX_CHARS, SAFE_PATH_MAX_DEPTH, unsafePath, type SafePathOptions, type UnsafePath, type UnsafePathProblem } from './safe-path.js';
export {
  corruptStored,
  execChecked,
  integerText,
  isRedisOutage,
  jsonText,
  keyRoot,
  LuaScript,
  parseStored,
  parseStoredJson,
  redisCall,
  redisFailure,
  RedisFailure,
  releaseLock,
  RELEASE_LOCK_SCRIPT,
  replyCode,
  tryLock,
  type LuaScriptSpec,
  type ScriptArg,
} from './redis/index.js';
export { LIMIT_RANGES, limitRangeProblem, PAGE_BYTES, type LimitName, type LimitRange } from './limit-ranges.js';
export { redact, redactString, isSecretKey, REDACTED, MAX_STRING_LENGTH } from './redact.js';
export { NO_METRICS, type Metrics, type MetricsAuditEvent } from './metrics.js';
export { withTimeout } from './with-timeout.js';
