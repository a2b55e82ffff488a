import type * as OpenTelemetry from '@opentelemetry/api';
import type { Attributes, Span, SpanOptions, Tracer, TracerProvider } from '@opentelemetry/api';
import { classifyError } from './errors.js';
import { OPERATIONS, OUTCOMES, outcomeOf, resultOutcome, type Operation } from './operations.js';

// OpenTelemetry is an optional peer dependency: loaded once, if installed. Without a registered
// SDK its tracer hands out non-recording spans, so the cost is a few calls per operation.
type Api = typeof OpenTelemetry;

let loaded: Promise<Api | undefined> | undefined;

function loadApi(): Promise<Api | undefined> {
  loaded ??= import('@opentelemetry/api').then(
    (api) => api,
    () => undefined,
  );
  return loaded;
}

/**
 * One client span per call, `session_store <operation>`, active while the call runs (so the
 * app's request span is its parent, and spans started by ioredis instrumentation nest under it).
 * Attributes are bounded values only: the operation, the outcome as the metrics name it, the
 * error code, the batch size, cache hits. Never a token, session id or user id.
 */
export class StoreTracing {
  readonly #names = new Map<Operation, { name: string; attributes: Attributes }>(
    OPERATIONS.map((operation) => [
      operation,
      {
        name: `session_store ${operation}`,
        attributes: { 'db.system.name': 'redis', 'session_store.operation': operation },
      },
    ]),
  );
  readonly #options: SpanOptions;
  /** What the API's own provider delegates to until an SDK registers: the no-op provider. */
  readonly #noop: TracerProvider;
  /** Marks the context of a call this store traces, with its span. */
  readonly #own: symbol;
  /** Spans of this store not yet ended: while there are none, no call can be annotated. */
  #open = 0;

  private constructor(
    private readonly api: Api,
    private readonly tracer: Tracer,
  ) {
    this.#options = { kind: api.SpanKind.CLIENT };
    this.#noop = new api.ProxyTracerProvider().getDelegate();
    this.#own = api.createContextKey('redis-session-store call');
  }

  /** Tracing when `@opentelemetry/api` is installed and the option allows it; else undefined. */
  static async load(enabled: boolean, version: string): Promise<StoreTracing | undefined> {
    if (!enabled) return undefined;
    const api = await loadApi();
    return api === undefined ? undefined : new StoreTracing(api, api.trace.getTracer('redis-session-store', version));
  }

  /**
   * A recording span for one call of `operation`, child of the caller's active span; undefined
   * without an SDK or when sampled out (the call then runs as if untraced: no context, no promise layer).
   */
  start(operation: Operation): Span | undefined {
    if (!this.#sdk()) return undefined;
    const { name, attributes } = this.#names.get(operation)!;
    const span = this.tracer.startSpan(name, this.#options);
    if (!span.isRecording()) return undefined;
    span.setAttributes(attributes);
    return span;
  }

  /**
   * Whether an SDK is registered. Without one no span can record, so none is built (measured:
   * 0.4 us per call). Asked on every call: an SDK registered after the store gets its spans.
   */
  #sdk(): boolean {
    const provider = this.api.trace.getTracerProvider();
    return !(provider instanceof this.api.ProxyTracerProvider && provider.getDelegate() === this.#noop);
  }

  /** Runs `work` with `span` active, then records its outcome on the span and ends it. */
  within<R>(span: Span, work: () => Promise<R>): Promise<R> {
    const api = this.api;
    const traced = api.trace.setSpan(api.context.active(), span).setValue(this.#own, span);
    this.#open++;
    return api.context.with(traced, work).then(
      (result) => {
        this.#open--;
        span.setAttribute('session_store.outcome', OUTCOMES[resultOutcome(result)]!);
        span.end();
        return result;
      },
      (err: unknown) => {
        this.#open--;
        const typed = classifyError(err);
        span.setAttribute('session_store.outcome', OUTCOMES[outcomeOf(typed)]!);
        span.setAttribute('error.type', typed.code);
        span.setStatus({ code: api.SpanStatusCode.ERROR, message: typed.code });
        span.end();
        throw err;
      },
    );
  }

  /**
   * Sets a bounded attribute on the current call's span: only a span this store started. A call
   * whose span was not started (no SDK, or sampled out) runs in its caller's context, and the
   * caller's span must not get the store's attributes.
   */
  annotate(
    name: 'session_store.cache_hit' | 'session_store.cache_hits' | 'session_store.batch_size',
    value: boolean | number,
  ): void {
    // The common case, no SDK or every call sampled out, costs one comparison per call.
    if (this.#open === 0) return;
    const active = this.api.context.active();
    const span = this.api.trace.getSpan(active);
    if (span !== undefined && span === active.getValue(this.#own)) span.setAttribute(name, value);
  }
}
