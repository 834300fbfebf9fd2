/** The Redis seam: typed Lua scripts, one translation of Redis failures, checked MULTI, stored JSON parsed with schemas, the deployment's key root. */
export { LuaScript, type LuaScriptSpec, type ScriptArg } from './lua-script.js';
export { isRedisOutage, redisCall, redisFailure, RedisFailure, replyCode } from './redis-errors.js';
export { execChecked } from './checked-exec.js';
export { corruptStored, integerText, jsonText, parseStored, parseStoredJson } from './stored-json.js';
export { keyRoot } from './key-root.js';
export { releaseLock, RELEASE_LOCK_SCRIPT, tryLock } from './redis-lock.js';
export { connectRedis, parseSentinelHosts, redisOptions, type RedisEndpoint, type SentinelEndpoint } from './connect-redis.js';
