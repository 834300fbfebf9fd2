import { AppError } from './errors.js';

/** Runs a Redis call; a driver failure becomes a retryable REDIS_UNAVAILABLE (our own AppErrors pass through). */
export async function guardRedis<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new AppError('REDIS_UNAVAILABLE', `Redis request failed: ${(err as Error).message}`, { retryable: true, cause: err });
  }
}
