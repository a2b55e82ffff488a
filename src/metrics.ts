import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { luaScripts, type ScriptName } from './lua.generated.js';

/** The store's public operations: the only values of the `operation` label. */
export type Operation =
  | 'createSession'
  | 'getSession'
  | 'getSessions'
  | 'refreshSession'
  | 'destroySession'
  | 'updateSessionMetadata'
  | 'getSessionTtl'
  | 'rotateSession'
  | 'countUserSessions'
  | 'listUserSessions'
  | 'destroyUserSessions'
  | 'revokeSession';

export const OPERATIONS: readonly Operation[] = [
  'createSession', 'getSession', 'getSessions', 'refreshSession', 'destroySession', 'updateSessionMetadata',
  'getSessionTtl', 'rotateSession', 'countUserSessions', 'listUserSessions', 'destroyUserSessions', 'revokeSession',
];

/** The only values of the `outcome` label. */
export type Outcome = 'ok' | 'not_found' | 'invalid_input' | 'unavailable' | 'error';
export const OUTCOMES: readonly Outcome[] = ['ok', 'not_found', 'invalid_input', 'unavailable', 'error'];

interface OperationSeries {
  outcomes: Record<Outcome, { inc(): void }>;
  duration: { observe(seconds: number): void };
}

export interface MetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default: `session_store_`. */
  prefix?: string;
}

export const DEFAULT_METRICS_PREFIX = 'session_store_';

// 50 us to 5 s: a loopback round trip is ~100 us, a timeout is the budget (1 s by default).
const LATENCY_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * The store's Prometheus metrics. Labels are bounded sets (operation, outcome, script name):
 * never a session id, token or user id, so cardinality stays fixed whatever the traffic.
 */
export class StoreMetrics {
  readonly operations: Counter<'operation' | 'outcome'>;
  readonly duration: Histogram<'operation'>;
  readonly scriptReloads: Counter<'script'>;
  readonly capEvictions: Counter;
  readonly userSessionsDestroyed: Counter;
  readonly batchSize: Histogram;
  readonly redisUp: Gauge;
  readonly healthCheckSeconds: Gauge;
  private up = true;
  // Label children resolved once: the hot path does no label hashing, and every series exists
  // (at 0) from the first scrape, so rate() works before the first error.
  private readonly series = new Map<Operation, OperationSeries>();

  private constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    this.operations = new Counter({
      name: `${prefix}operations_total`,
      help: 'Store calls by operation and outcome (ok, not_found, invalid_input, unavailable, error).',
      labelNames: ['operation', 'outcome'],
      registers,
    });
    this.duration = new Histogram({
      name: `${prefix}operation_duration_seconds`,
      help: 'Latency of store calls, including validation and the Redis round trip.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.scriptReloads = new Counter({
      name: `${prefix}script_reloads_total`,
      help: 'Scripts re-sent with EVAL after Redis answered NOSCRIPT (restart, failover, SCRIPT FLUSH).',
      labelNames: ['script'],
      registers,
    });
    this.capEvictions = new Counter({
      name: `${prefix}cap_evictions_total`,
      help: 'Sessions evicted by maxSessionsPerUser when a user created one more.',
      registers,
    });
    this.userSessionsDestroyed = new Counter({
      name: `${prefix}user_sessions_destroyed_total`,
      help: 'Live sessions destroyed by destroyUserSessions (log out everywhere).',
      registers,
    });
    this.batchSize = new Histogram({
      name: `${prefix}get_sessions_batch_size`,
      help: 'Number of tokens per getSessions call.',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.redisUp = new Gauge({
      name: `${prefix}redis_up`,
      help: '1 when the last health check or call reached Redis, 0 when Redis was unavailable.',
      registers,
    });
    this.healthCheckSeconds = new Gauge({
      name: `${prefix}health_check_duration_seconds`,
      help: 'Duration of the last health check (time to failure when unhealthy).',
      registers,
    });
    this.redisUp.set(1);
    for (const script of Object.keys(luaScripts) as ScriptName[]) this.scriptReloads.inc({ script }, 0);
    for (const operation of OPERATIONS) {
      for (const outcome of OUTCOMES) this.operations.inc({ operation, outcome }, 0);
      this.duration.zero({ operation });
      const outcomes = Object.fromEntries(OUTCOMES.map((outcome) => [outcome, this.operations.labels({ operation, outcome })]));
      this.series.set(operation, { outcomes: outcomes as OperationSeries['outcomes'], duration: this.duration.labels({ operation }) });
    }
  }

  /** Records one finished call. */
  record(operation: Operation, outcome: Outcome, seconds: number): void {
    const series = this.series.get(operation)!;
    series.outcomes[outcome].inc();
    series.duration.observe(seconds);
  }

  /** The per-operation counters beyond calls and latency. */
  extra(operation: Operation, args: readonly unknown[], result: unknown): void {
    if (operation === 'createSession') {
      const evicted = (result as { evictedSessionIds: readonly string[] }).evictedSessionIds.length;
      if (evicted > 0) this.capEvictions.inc(evicted);
    } else if (operation === 'destroyUserSessions') {
      if ((result as number) > 0) this.userSessionsDestroyed.inc(result as number);
    } else if (operation === 'getSessions') {
      this.batchSize.observe((args[0] as readonly unknown[]).length);
    }
  }

  /** Records Redis reachability; the gauge is written only when the state changes. */
  reachable(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.redisUp.set(up ? 1 : 0);
  }

  // prom-client throws on a second metric of the same name in one registry: one set per
  // registry and prefix, shared by every store that uses them.
  private static readonly byRegistry = new WeakMap<Registry, Map<string, StoreMetrics>>();

  static for(options: MetricsOptions = {}): StoreMetrics {
    const registry = options.registry ?? globalRegistry;
    const prefix = options.prefix ?? DEFAULT_METRICS_PREFIX;
    let byPrefix = StoreMetrics.byRegistry.get(registry);
    if (byPrefix === undefined) StoreMetrics.byRegistry.set(registry, (byPrefix = new Map()));
    let metrics = byPrefix.get(prefix);
    if (metrics === undefined) byPrefix.set(prefix, (metrics = new StoreMetrics(registry, prefix)));
    return metrics;
  }
}

type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

function outcomeOf(err: unknown): Outcome {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'INVALID_INPUT') return 'invalid_input';
  if (code === 'STORE_UNAVAILABLE' || code === 'STORE_TIMEOUT') return 'unavailable';
  return 'error';
}

/**
 * Wraps the store's public operations on one instance so each call is counted and timed. Only
 * stores with metrics are wrapped: `metrics: false` leaves the methods untouched (no cost).
 * `null` and `false` results count as not_found; counts and empty lists are ok.
 */
export function instrument(store: object, metrics: StoreMetrics): void {
  const target = store as Record<Operation, AsyncMethod>;
  for (const operation of OPERATIONS) {
    const inner = target[operation];
    target[operation] = function instrumented(this: unknown, ...args: unknown[]): Promise<unknown> {
      const started = performance.now();
      return inner.apply(this, args).then(
        (result) => {
          metrics.record(operation, result === null || result === false ? 'not_found' : 'ok', (performance.now() - started) / 1000);
          metrics.reachable(true);
          metrics.extra(operation, args, result);
          return result;
        },
        (err: unknown) => {
          const outcome = outcomeOf(err);
          metrics.record(operation, outcome, (performance.now() - started) / 1000);
          if (outcome === 'unavailable') metrics.reachable(false);
          throw err;
        },
      );
    };
  }
}
