/**
 * `AsyncDisposableStack` (TC39 explicit resource management) for a runtime that lacks it: Node 20
 * has `Symbol.asyncDispose` but not the stack. Same API and semantics as the standard: what is
 * added is disposed in reverse order, every disposal runs even when an earlier one throws, and
 * several failures are thrown together (each new one suppressing the ones before it).
 * The native class is used where it exists.
 */

/** What the standard's `SuppressedError` carries; thrown when more than one disposal failed. */
export class DisposalError extends Error {
  constructor(
    readonly error: unknown,
    readonly suppressed: unknown,
  ) {
    super(`${error instanceof Error ? error.message : String(error)} (and an earlier disposal failed)`, { cause: error });
    this.name = 'DisposalError';
  }
}

type Disposer = () => unknown;

/** The standard class's surface (lib.esnext.disposable), so either implementation fits. */
export interface AsyncDisposableStackLike extends AsyncDisposable {
  readonly disposed: boolean;
  use<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T;
  adopt<T>(value: T, onDisposeAsync: (value: T) => unknown): T;
  defer(onDisposeAsync: () => unknown): void;
  move(): AsyncDisposableStackLike;
  disposeAsync(): Promise<void>;
}

export class PolyfillAsyncDisposableStack implements AsyncDisposableStackLike {
  #stack: Disposer[] = [];
  #disposed = false;

  get disposed(): boolean {
    return this.#disposed;
  }

  use<T extends AsyncDisposable | Disposable | null | undefined>(value: T): T {
    this.#check();
    if (value === null || value === undefined) return value;
    const asyncDispose = (value as Partial<AsyncDisposable>)[Symbol.asyncDispose];
    const dispose = (value as Partial<Disposable>)[Symbol.dispose];
    const method = asyncDispose ?? dispose;
    if (typeof method !== 'function') throw new TypeError('the value is not disposable');
    this.#stack.push(() => method.call(value));
    return value;
  }

  adopt<T>(value: T, onDisposeAsync: (value: T) => unknown): T {
    this.#check();
    this.#stack.push(() => onDisposeAsync(value));
    return value;
  }

  defer(onDisposeAsync: () => unknown): void {
    this.#check();
    this.#stack.push(onDisposeAsync);
  }

  move(): AsyncDisposableStackLike {
    this.#check();
    const next = new PolyfillAsyncDisposableStack();
    next.#stack = this.#stack;
    this.#stack = [];
    this.#disposed = true;
    return next;
  }

  async disposeAsync(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const stack = this.#stack;
    this.#stack = [];
    let failed = false;
    let failure: unknown;
    for (let dispose = stack.pop(); dispose !== undefined; dispose = stack.pop()) {
      try {
        await dispose();
      } catch (err) {
        failure = failed ? new DisposalError(err, failure) : err;
        failed = true;
      }
    }
    if (failed) throw failure;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disposeAsync();
  }

  #check(): void {
    if (this.#disposed) throw new ReferenceError('this AsyncDisposableStack is already disposed');
  }
}

const native = (globalThis as { AsyncDisposableStack?: new () => AsyncDisposableStackLike }).AsyncDisposableStack;

/** The runtime's AsyncDisposableStack, or the polyfill above. */
export const AsyncDisposableStack: new () => AsyncDisposableStackLike = native ?? PolyfillAsyncDisposableStack;
export type AsyncDisposableStack = AsyncDisposableStackLike;
