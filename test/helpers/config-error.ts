import { expect } from 'vitest';
import { AppError } from '../../src/shared/index.js';

/** Runs `fn`, expects it to refuse with CONFIG_INVALID, and returns the message (which lists the problems). */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('CONFIG_INVALID');
    return (err as AppError).message;
  }
  throw new Error('expected a CONFIG_INVALID error');
}
