import type * as OpenTelemetry from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import { classifyError } from './errors.js';
import { OUTCOMES, outcomeOf, STORE_OPERATIONS, type StoreOperation } from './metrics.js';

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

/** What the store needs from tracing: a wrapper per operation, and a way to mark a cache hit. */
export class StoreTracing {
  private constructor(
    private readonly api: Api,
    private readonly tracer: Tracer,
  ) {}

  /** Tracing when `@opentelemetry/api` is installed and the option allows it; else undefined. */
  static async load(enabled: boolean, version: string): Promise<StoreTracing | undefined> {
    if (!enabled) return undefined;
    const api = await loadApi();
    return api === undefined ? undefined : new StoreTracing(api, api.trace.getTracer('redis-session-store', version));
  }

  /** Records on the current span whether a read was answered from the session cache. */
  cacheHit(hit: boolean): void {
    this.api.trace.getActiveSpan()?.setAttribute('session_store.cache_hit', hit);
  }

  /** Records on the current span how many sessions of a batch the session cache answered. */
  cacheHits(count: number): void {
    this.api.trace.getActiveSpan()?.setAttribute('session_store.cache_hits', count);
  }

  /**
   * Wraps each public operation in one client span, `session_store <operation>`, active while
   * the call runs (so the app's request span is its parent, and spans started by ioredis
   * instrumentation nest under it). Attributes are bounded values only: the operation, the
   * outcome as the metrics name it, the error code, the batch size. Never a token, session id
   * or user id.
   */
  wrap(store: object): void {
    const target = store as Record<StoreOperation, (a?: unknown, b?: unknown) => Promise<unknown>>;
    const { api, tracer } = this;
    const options = { kind: api.SpanKind.CLIENT };
    const failure = api.SpanStatusCode.ERROR;
    for (const operation of STORE_OPERATIONS) {
      const inner = target[operation];
      const name = `session_store ${operation}`;
      const attributes: Attributes = { 'db.system.name': 'redis', 'session_store.operation': operation };
      target[operation] = function traced(a?: unknown, b?: unknown): Promise<unknown> {
        // The parent is the caller's active span. Without an SDK (or when sampled out) the span
        // records nothing: the call then runs as if untraced, with no context or promise layer.
        const span: Span = tracer.startSpan(name, options);
        if (!span.isRecording()) return inner.call(store, a, b);
        span.setAttributes(attributes);
        if (operation === 'getSessions' && Array.isArray(a)) span.setAttribute('session_store.batch_size', a.length);
        const active = api.trace.setSpan(api.context.active(), span);
        return api.context
          .with(active, () => inner.call(store, a, b))
          .then(
            (result) => {
              span.setAttribute('session_store.outcome', result === null || result === false ? 'not_found' : 'ok');
              span.end();
              return result;
            },
            (err: unknown) => {
              const typed = classifyError(err);
              span.setAttribute('session_store.outcome', OUTCOMES[outcomeOf(typed)]!);
              span.setAttribute('error.type', typed.code);
              span.setStatus({ code: failure, message: typed.code });
              span.end();
              throw err;
            },
          );
      };
    }
  }
}
