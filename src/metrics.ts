import { Counter, Gauge, Histogram, register as globalRegistry, type Registry } from 'prom-client';
import type { CacheEntries, Mirrored } from './cache/entries.js';
import { luaScripts, type ScriptName } from './lua.generated.js';
import { CacheMetrics, type CacheOperation } from './metrics/cache.js';
import type { ServerIdentity } from './server.js';
import { LatencyHistogram, OperationStats } from './metrics/latency.js';
import {
  OPERATIONS,
  OUTCOMES,
  UNAVAILABLE,
  operationIndex,
  outcomeOf,
  resultOutcome,
  type Operation,
} from './operations.js';

export interface MetricsOptions {
  /** Where the metrics are registered. Default: prom-client's global registry. */
  registry?: Registry;
  /** Prefix of every metric name. Default: `session_store_`. */
  prefix?: string;
}

export const DEFAULT_METRICS_PREFIX = 'session_store_';

const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * The store's Prometheus metrics. Labels are bounded sets (operation, outcome, script name):
 * never a session id, token or user id, so cardinality stays fixed whatever the traffic.
 * What a call records is decided by `src/observe.ts`; whether Redis is reachable, by the
 * replies the call budget sees (`src/transport/deadlines.ts`).
 */
export class StoreMetrics {
  readonly operations: Counter<'operation' | 'outcome'>;
  readonly scriptReloads: Counter<'script'>;
  readonly capEvictions: Counter;
  readonly userSessionsDestroyed: Counter;
  readonly batchSize: Histogram;
  readonly redisUp: Gauge;
  readonly healthCheckSeconds: Gauge;
  readonly serverInfo: Gauge<'server' | 'version'>;
  private readonly stats = new OperationStats();
  private up = true;
  private cache: CacheMetrics | undefined;
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
    new LatencyHistogram(
      `${prefix}operation_duration_seconds`,
      'Latency of store calls, including validation and the Redis round trip.',
      stats,
      registry,
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
      help: '1 when the last health check or command reached Redis, 0 when Redis was unavailable.',
      registers,
    });
    this.healthCheckSeconds = new Gauge({
      name: `${prefix}health_check_duration_seconds`,
      help: 'Duration of the last health check (time to failure when unhealthy).',
      registers,
    });
    this.serverInfo = new Gauge({
      name: `${prefix}server_info`,
      help: 'The server the store connected to (1): its name (redis, valkey) and its own version.',
      labelNames: ['server', 'version'],
      registers,
    });
    this.redisUp.set(1);
  }

  /** Records the server a store connected to (a bounded label set: one series per server build). */
  connectedTo(server: ServerIdentity): void {
    this.serverInfo.set({ server: server.name, version: server.version }, 1);
  }

  /**
   * Reports a session cache's counts (read when scraped: nothing per call) until the returned
   * function is called. Several stores on one registry add up.
   */
  watchCache(entries: CacheEntries<Mirrored>, operation: CacheOperation = 'getSession'): () => void {
    this.cache ??= new CacheMetrics(this.registry, this.prefix);
    return this.cache.watch(entries, operation);
  }

  /** A call that began at `started` (performance.now()) resolved with `result`. */
  done(operation: Operation, started: number, result: unknown): void {
    this.stats.record(operationIndex(operation), resultOutcome(result), (performance.now() - started) / 1000);
  }

  /** A call that began at `started` failed with `err` (the outcome by its class). */
  failed(operation: Operation, started: number, err: unknown): void {
    this.stats.record(operationIndex(operation), outcomeOf(err), (performance.now() - started) / 1000);
  }

  /**
   * Records whether Redis answered. Only what reached Redis (or tried to and could not) may
   * call this: a call answered without I/O says nothing about Redis. Written only on a change.
   */
  reachable(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    this.redisUp.set(up ? 1 : 0);
  }

  /** Records reachability from a command's typed failure: only an unavailability is "down". */
  replyFailed(err: unknown): void {
    this.reachable(outcomeOf(err) !== UNAVAILABLE);
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
