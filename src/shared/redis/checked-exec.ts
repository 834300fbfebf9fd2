/**
 * MULTI and pipelines with every reply checked. ioredis's `exec()` resolves with one
 * `[error, result]` per command (a command can fail inside a transaction that still ran) or
 * with null (the transaction was aborted); neither may pass unnoticed.
 */
import type { ChainableCommander } from 'ioredis';
import { redisFailure, RedisFailure } from './redis-errors.js';

/** Sends the batch and returns each command's result in order; the first failed command (or an aborted MULTI) throws. */
export async function execChecked(batch: ChainableCommander, what: string): Promise<unknown[]> {
  let replies: [Error | null, unknown][] | null;
  try {
    replies = await batch.exec();
  } catch (err) {
    throw redisFailure(what, err);
  }
  if (replies === null) throw new RedisFailure('REDIS_UNAVAILABLE', `Redis aborted the transaction (${what})`, { retryable: true });
  return replies.map(([err, result]) => {
    if (err !== null) throw redisFailure(what, err);
    return result;
  });
}
