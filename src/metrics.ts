import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import { FLUSH_REASONS, type CacheCounts, type CacheEntries, type FlushReason } from './cache/entries.js';
import { InvalidInputError, StoreUnavailableError } from './errors.js';
import { luaScripts, type ScriptName } from './lua.generated.js';

/** The store's public operations. */
export type StoreOperation =
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

export const STORE_OPERATIONS: readonly StoreOperation[] = [
  'createSession',
  'getSession',
  'getSessions',
  'refreshSession',
  'destroySession',
  'updateSessionMetadata',
  'getSessionTtl',
  'rotateSession',
  'countUserSessions',
  'listUserSessions',
  'destroyUserSessions',
  'revokeSession',
];

/** The express-session store's operations. */
export const EXPRESS_OPERATIONS = [
  'express.get',
  'express.set',
  'express.touch',
  'express.destroy',
  'express.clear',
  'express.length',
  'express.ids',
  'express.all',
  'express.countUserSessions',
  'express.listUserSessions',
  'express.destroyUserSessions',
] as const;
export type ExpressOperation = (typeof EXPRESS_OPERATIONS)[number];

/** Every value the `operation` label can take: a fixed set, whatever the traffic. */
export type Operation = StoreOperation | ExpressOperation;
export const OPERATIONS: readonly Operation[] = [...STORE_OPERATIONS, ...EXPRESS_OPERATIONS];
const OP_INDEX = new Map<Operation, number>(OPERATIONS.map((o, i) => [o, i]));

/** The only values of the `outcome` label. */
export type Outcome = 'ok' | 'not_found' | 'invalid_input' | 'unavailable' | 'error';
export const OUTCOMES: readonly Outcome[] = ['ok', 'not_found', 'invalid_input', 'unavailable', 'error'];

export interface MetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default: `session_store_`. */
  prefix?: string;
}

export const DEFAULT_METRICS_PREFIX = 'session_store_';

// 50 us to 5 s: a loopback round trip is ~100 us, a timeout is the budget (1 s by default).
const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];
const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

const OUTCOME_COUNT = OUTCOMES.length;
const BUCKET_SLOTS = LATENCY_BUCKETS.length + 1; // + the +Inf bucket

/**
 * Call counts and latencies accumulate in typed arrays on the hot path (no label hashing, no
 * allocation) and reach prom-client when the registry is read: the counter through its public
 * collect() hook, the histogram through a collector that reports the accumulated buckets.
 */
class OperationStats {
  readonly calls = new Float64Array(OPERATIONS.length * OUTCOME_COUNT);
  private readonly published = new Float64Array(OPERATIONS.length * OUTCOME_COUNT);
  readonly buckets = new Float64Array(OPERATIONS.length * BUCKET_SLOTS);
  readonly sums = new Float64Array(OPERATIONS.length);
  readonly counts = new Float64Array(OPERATIONS.length);

  record(op: number, outcome: number, seconds: number): void {
    this.calls[op * OUTCOME_COUNT + outcome]! += 1;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    this.buckets[op * BUCKET_SLOTS + b]! += 1;
    this.sums[op]! += seconds;
    this.counts[op]! += 1;
  }

  /** Moves the calls counted since the last read into the prom-client counter. */
  publishCalls(counter: Counter<'operation' | 'outcome'>): void {
    for (let i = 0; i < this.calls.length; i++) {
      const delta = this.calls[i]! - this.published[i]!;
      if (delta === 0) continue;
      this.published[i] = this.calls[i]!;
      counter.inc(
        { operation: OPERATIONS[Math.floor(i / OUTCOME_COUNT)]!, outcome: OUTCOMES[i % OUTCOME_COUNT]! },
        delta,
      );
    }
  }

  reset(): void {
    for (const a of [this.calls, this.published, this.buckets, this.sums, this.counts]) a.fill(0);
  }
}

interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/** The latency histogram as prom-client's registry reads a metric: name, help, type, get(), reset(). */
class LatencyCollector {
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly stats: OperationStats,
  ) {}

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: HistogramValue[] }> {
    const values: HistogramValue[] = [];
    OPERATIONS.forEach((operation, op) => {
      let cumulative = 0;
      for (let b = 0; b < BUCKET_SLOTS; b++) {
        cumulative += this.stats.buckets[op * BUCKET_SLOTS + b]!;
        const le = b < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[b]! : '+Inf';
        values.push({ labels: { le, operation }, value: cumulative, metricName: `${this.name}_bucket` });
      }
      values.push({ labels: { operation }, value: this.stats.sums[op]!, metricName: `${this.name}_sum` });
      values.push({ labels: { operation }, value: this.stats.counts[op]!, metricName: `${this.name}_count` });
    });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }

  reset(): void {
    this.stats.reset();
  }
}

/**
 * The store's Prometheus metrics. Labels are bounded sets (operation, outcome, script name):
 * never a session id, token or user id, so cardinality stays fixed whatever the traffic.
 */
export class StoreMetrics {
  readonly operations: Counter<'operation' | 'outcome'>;
  readonly scriptReloads: Counter<'script'>;
  readonly capEvictions: Counter;
  readonly userSessionsDestroyed: Counter;
  readonly batchSize: Histogram;
  readonly redisUp: Gauge;
  readonly healthCheckSeconds: Gauge;
  private readonly stats = new OperationStats();
  private up = true;
  private readonly caches = new Set<CacheEntries>();
  /** Counts of caches already closed: counters never go down. */
  private readonly retired: CacheCounts = emptyCounts();
  private cacheMetricsMade = false;
  private readonly registry: Registry;
  private readonly prefix: string;

  private constructor(registry: Registry, prefix: string) {
    this.registry = registry;
    this.prefix = prefix;
    const registers = [registry];
    const stats = this.stats;
    this.operations = new Counter({
      name: `${prefix}operations_total`,
      help: 'Store calls by operation and outcome (ok, not_found, invalid_input, unavailable, error).',
      labelNames: ['operation', 'outcome'],
      registers,
      collect() {
        stats.publishCalls(this);
      },
    });
    for (const operation of OPERATIONS) for (const outcome of OUTCOMES) this.operations.inc({ operation, outcome }, 0);
    // prom-client's registry reads any object with name, help, type, get() and reset().
    registry.registerMetric(
      new LatencyCollector(
        `${prefix}operation_duration_seconds`,
        'Latency of store calls, including validation and the Redis round trip.',
        stats,
      ) as unknown as Counter,
    );
    this.scriptReloads = new Counter({
      name: `${prefix}script_reloads_total`,
      help: 'Scripts re-sent with EVAL after Redis answered NOSCRIPT (restart, failover, SCRIPT FLUSH).',
      labelNames: ['script'],
      registers,
    });
    for (const script of Object.keys(luaScripts) as ScriptName[]) this.scriptReloads.inc({ script }, 0);
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
  }

  /**
   * Reports a session cache's counts (read when scraped: nothing per call) until the returned
   * function is called. Several stores on one registry add up.
   */
  watchCache(entries: CacheEntries): () => void {
    if (!this.cacheMetricsMade) this.makeCacheMetrics();
    this.caches.add(entries);
    return () => {
      if (!this.caches.delete(entries)) return;
      const r = this.retired;
      const c = entries.counts;
      r.hits += c.hits;
      r.misses += c.misses;
      r.invalidations += c.invalidations;
      r.evictions += c.evictions;
      for (const reason of FLUSH_REASONS) r.flushes[reason] += c.flushes[reason];
    };
  }

  private makeCacheMetrics(): void {
    this.cacheMetricsMade = true;
    const registers = [this.registry];
    const p = this.prefix;
    const sum = (pick: (c: CacheCounts) => number) => {
      let total = pick(this.retired);
      for (const cache of this.caches) total += pick(cache.counts);
      return total;
    };
    const counter = (name: string, help: string, pick: (c: CacheCounts) => number) =>
      new Counter({
        name: `${p}${name}`,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(sum(pick));
        },
      });
    counter('cache_hits_total', 'Reads answered from the session cache without Redis.', (c) => c.hits);
    counter('cache_misses_total', 'Cache lookups that found nothing (the read went to Redis).', (c) => c.misses);
    counter(
      'cache_invalidations_total',
      'Cached keys dropped because Redis reported a change or this process wrote them.',
      (c) => c.invalidations,
    );
    counter(
      'cache_evictions_total',
      'Cached sessions dropped to stay within maxEntries and maxBytes.',
      (c) => c.evictions,
    );
    const caches = this.caches;
    const retired = this.retired;
    new Counter({
      name: `${p}cache_flushes_total`,
      help: 'Whole-cache flushes, by reason (disconnect, flushdb, stale, topology, close).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        for (const reason of FLUSH_REASONS) {
          let total = retired.flushes[reason];
          for (const cache of caches) total += cache.counts.flushes[reason];
          this.labels({ reason }).inc(total);
        }
      },
    });
    const gauge = (name: string, help: string, pick: (c: CacheEntries) => number) =>
      new Gauge({
        name: `${p}${name}`,
        help,
        registers,
        collect() {
          let total = 0;
          for (const cache of caches) total += pick(cache);
          this.set(total);
        },
      });
    gauge('cache_entries', 'Sessions held in the session cache.', (c) => c.size);
    gauge('cache_bytes', 'Estimated memory of the sessions held in the session cache.', (c) => c.bytes);
  }

  /** Records one finished call by name: `null`/`false` results are not_found, errors by kind. */
  observe(operation: Operation, started: number, result: unknown, err?: unknown): void {
    const outcome = err === undefined ? (result === null || result === false ? NOT_FOUND : OK) : outcomeOf(err);
    this.stats.record(OP_INDEX.get(operation)!, outcome, (performance.now() - started) / 1000);
    this.reachable(outcome !== UNAVAILABLE);
  }

  /** A call that began at `started` finished with `result` (null and false: not_found). */
  done(operation: StoreOperation, started: number, result: unknown): void {
    this.stats.record(
      OP_INDEX.get(operation)!,
      result === null || result === false ? NOT_FOUND : OK,
      (performance.now() - started) / 1000,
    );
    this.reachable(true);
  }

  /** A call that began at `started` failed with `err` (the outcome by its class). */
  failed(operation: StoreOperation, started: number, err: unknown): void {
    const outcome = outcomeOf(err);
    this.stats.record(OP_INDEX.get(operation)!, outcome, (performance.now() - started) / 1000);
    if (outcome === UNAVAILABLE) this.reachable(false);
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
    if (byPrefix === undefined) StoreMetrics.byRegistry.set(registry, (byPrefix = new Map<string, StoreMetrics>()));
    let metrics = byPrefix.get(prefix);
    if (metrics === undefined) byPrefix.set(prefix, (metrics = new StoreMetrics(registry, prefix)));
    return metrics;
  }
}

function emptyCounts(): CacheCounts {
  return {
    hits: 0,
    misses: 0,
    invalidations: 0,
    evictions: 0,
    flushes: Object.fromEntries(FLUSH_REASONS.map((r) => [r, 0])) as Record<FlushReason, number>,
  };
}

type AsyncMethod = (a?: unknown, b?: unknown) => Promise<unknown>;

const OK = OUTCOMES.indexOf('ok');
const NOT_FOUND = OUTCOMES.indexOf('not_found');
const INVALID = OUTCOMES.indexOf('invalid_input');
const UNAVAILABLE = OUTCOMES.indexOf('unavailable');
const ERROR = OUTCOMES.indexOf('error');

/** The outcome label of a failed call, by error class: every kind of "Redis could not answer" is unavailable. */
export function outcomeOf(err: unknown): number {
  if (err instanceof InvalidInputError) return INVALID;
  if (err instanceof StoreUnavailableError) return UNAVAILABLE;
  return ERROR;
}

/** What some operations count besides calls and latency. */
function extraFor(
  operation: StoreOperation,
  metrics: StoreMetrics,
): ((arg: unknown, result: unknown) => void) | undefined {
  switch (operation) {
    case 'createSession':
      return (_, result) => {
        const evicted = (result as { evictedSessionIds: readonly string[] }).evictedSessionIds.length;
        if (evicted > 0) metrics.capEvictions.inc(evicted);
      };
    case 'destroyUserSessions':
      return (_, result) => {
        if ((result as number) > 0) metrics.userSessionsDestroyed.inc(result as number);
      };
    case 'getSessions':
      return (tokens) => metrics.batchSize.observe((tokens as readonly unknown[]).length);
    default:
      return undefined;
  }
}

/**
 * Wraps the store's public operations on one instance so each call is counted and timed. Only
 * stores with metrics are wrapped: `metrics: false` leaves the methods untouched (no cost).
 * `null` and `false` results count as not_found; counts and empty lists are ok.
 */
export function instrument(store: object, metrics: StoreMetrics, selfTimed: readonly StoreOperation[] = []): void {
  const target = store as Record<StoreOperation, AsyncMethod>;
  STORE_OPERATIONS.forEach((operation) => {
    if (selfTimed.includes(operation)) return;
    const inner = target[operation];
    const extra = extraFor(operation, metrics);
    // Every operation takes at most two arguments: no rest array per call.
    target[operation] = function instrumented(a?: unknown, b?: unknown): Promise<unknown> {
      const started = performance.now();
      return inner.call(store, a, b).then(
        (result) => {
          metrics.done(operation, started, result);
          extra?.(a, result);
          return result;
        },
        (err: unknown) => {
          metrics.failed(operation, started, err);
          throw err;
        },
      );
    };
  });
}
