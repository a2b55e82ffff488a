import { classifyError } from './errors.js';
import type { StoreMetrics } from './metrics.js';
import type { Operation } from './operations.js';
import type { StoreTracing } from './tracing.js';

/**
 * A call's work. `at` is the one clock reading (performance.now()) the call starts with: the
 * latency is measured from it, and work that judges time by it (a cache hit's expiry) reads no
 * clock of its own.
 */
export type Work<S, A, B, R> = (this: S, a: A, b: B, at: number) => R | Promise<R>;

/**
 * The one place a call's outcome is recorded: the store's and the adapter's own methods call
 * `run`, which traces (outermost, so the span covers everything) and times the call. Nothing
 * replaces a method on an instance. With neither metrics nor tracing, `run` is the call itself.
 *
 * `fn` may return a value instead of a promise (a cache hit, a token that cannot exist): that
 * call settles without a promise layer of its own. A synchronous throw rejects, typed.
 */
export class Observer {
  constructor(
    readonly metrics: StoreMetrics | undefined,
    readonly tracing: StoreTracing | undefined,
  ) {}

  run<S, A, B, R>(operation: Operation, self: S, fn: Work<S, A, B, R>, a: A, b: B): Promise<R> {
    const span = this.tracing?.start(operation);
    if (span === undefined) return this.#timed(operation, self, fn, a, b);
    return this.tracing!.within(span, () => this.#timed(operation, self, fn, a, b));
  }

  /** Whether a read was answered from the cache, on the call's span. */
  cacheHit(hit: boolean): void {
    this.tracing?.annotate('session_store.cache_hit', hit);
  }

  /** How many sessions of a batch the cache answered, on the call's span. */
  cacheHits(count: number): void {
    this.tracing?.annotate('session_store.cache_hits', count);
  }

  /** A getSessions call's size: the histogram and the span. */
  batch(size: number): void {
    this.metrics?.batchSize.observe(size);
    this.tracing?.annotate('session_store.batch_size', size);
  }

  #timed<S, A, B, R>(operation: Operation, self: S, fn: Work<S, A, B, R>, a: A, b: B): Promise<R> {
    const metrics = this.metrics;
    const started = performance.now();
    let result: R | Promise<R>;
    try {
      result = fn.call(self, a, b, started);
    } catch (err) {
      const typed = classifyError(err);
      metrics?.failed(operation, started, typed);
      return Promise.reject(typed);
    }
    if (!(result instanceof Promise)) {
      metrics?.done(operation, started, result);
      return Promise.resolve(result);
    }
    if (metrics === undefined) return result;
    return result.then(
      (value) => {
        metrics.done(operation, started, value);
        return value;
      },
      (err: unknown) => {
        metrics.failed(operation, started, err);
        throw err;
      },
    );
  }
}
