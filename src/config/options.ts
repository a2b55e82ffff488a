import type { ConnectionOptions } from 'node:tls';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import type { MetricsOptions } from '../metrics.js';
import type { Logger } from '../types.js';

// The public options and their defaults. Resolution (environment, merge, checks) is in
// resolve.ts; where to connect (URL, Cluster, Sentinel, credentials) is in topology.ts.

/** The port of a `redis://` URL that names none. */
export const DEFAULT_PORT = 6379;

/** Defaults, with their units. */
export const DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  keyPrefix: 'session:',
  defaultTtl: 3600, // seconds: one hour of idle time
  touchAfter: 1, // seconds between rolling writes of one session
  maxConnections: 1, // measured: one connection batches more per write, so each request costs less app and Redis CPU (bench/results/capacity.md)
  commandTimeout: 1000, // ms: budget for one store call, queueing and retries included
  maxMetadataBytes: 16 * 1024, // UTF-8 bytes of all metadata keys and values
  maxUserBytes: 16 * 1024, // bytes of the user's JSON
  cache: {
    maxEntries: 100_000, // sessions held in process memory
    maxBytes: 64 * 1024 * 1024, // estimated bytes of them
    maxStalenessMs: 1000, // longest an entry is served without proof that invalidations still arrive
  },
} as const;

/** The session cache (see README, "Session cache"). */
export interface CacheOptions {
  /** Most sessions held. Default: 100000. */
  maxEntries?: number;
  /** Most memory held, estimated from the stored values (bytes). Default: 64 MiB. */
  maxBytes?: number;
  /**
   * Entries are served only while the invalidation connection answered a PING sent less than
   * this many ms ago: the bound on staleness if that connection stalls silently. Default: 1000.
   */
  maxStalenessMs?: number;
}

/** Largest TTL accepted anywhere, in seconds (2^31 - 1: about 68 years). */
export const MAX_TTL_SECONDS = 2_147_483_647;

/** A Redis server (or Sentinel) address. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** Confirm writes with `WAIT`: each write call resolves only once `replicas` replicas have it. */
export interface WaitForReplicas {
  /** Replicas that must acknowledge each write (1 or more). */
  replicas: number;
  /** Longest wait for them in ms (within `commandTimeout`). */
  timeout: number;
}

export interface StoreOptions {
  /**
   * `redis://` or `rediss://` URL, user and password included if any. A comma-separated list of
   * URLs names the seed nodes of a Redis Cluster. Default: `REDIS_URL`, else `redis://127.0.0.1:6379`.
   */
  url?: string;
  /** Seed nodes of a Redis Cluster (any few of its nodes). Excludes `url` and `sentinels`. */
  cluster?: readonly NodeAddress[];
  /** Sentinels that watch the master group `name`. Excludes `url` and `cluster`. */
  sentinels?: readonly NodeAddress[];
  /** The Sentinel master group name (`sentinel monitor <name> ...`). Required with `sentinels`. */
  name?: string;
  /** ACL user name for the Redis servers (also read from the URL). */
  username?: string;
  /** Password for the Redis servers (also read from the URL). Never logged. */
  password?: string;
  /** TLS for the Redis servers: `{ ca, cert, key, servername, ... }` (node:tls options). `rediss://` implies `{}`. */
  tls?: ConnectionOptions;
  /** Confirm each write on replicas with `WAIT` (see README, "Durability"). Default: off. */
  waitForReplicas?: WaitForReplicas;
  /** An existing ioredis client (`Redis` or `Cluster`) to use; the store will not close it. `url` is then ignored. */
  redis?: Redis | Cluster;
  /** Prefix of every key. No `{` or `}` (it would move the hash tag). Default: `SESSION_KEY_PREFIX` or `session:`. */
  keyPrefix?: string;
  /** Idle TTL of new sessions in seconds. Default: `SESSION_TTL` or 3600. */
  defaultTtl?: number;
  /** Hard cap on a session's whole life in seconds; no refresh or rolling read passes it. Default: none. */
  absoluteTtl?: number;
  /** When true, `getSession` slides the idle TTL (writing at most every `touchAfter` seconds). Default: false. */
  rolling?: boolean;
  /** Minimum seconds between two rolling writes of one session (0: every read). Default: 1. */
  touchAfter?: number;
  /** Creating one more session than this evicts the user's least recently used ones. Default: no cap. */
  maxSessionsPerUser?: number;
  /** Connections to open when the store creates its own client(s). Default: `MAX_CONNECTIONS` or 2. */
  maxConnections?: number;
  /** Budget in ms for one store call, offline queueing and retries included. Default: 1000. */
  commandTimeout?: number;
  /** Limit on a session's metadata: UTF-8 bytes of keys plus values. Default: 16384. */
  maxMetadataBytes?: number;
  /** Limit on the user object's JSON in bytes. Default: 16384. */
  maxUserBytes?: number;
  /**
   * Serve `getSession`, `getSessions` and `getSessionTtl` from process memory that Redis keeps
   * exact with `CLIENT TRACKING`: `true`, or limits. Needs an ioredis client. Default: off.
   */
  cache?: boolean | CacheOptions;
  /** Extra ioredis options for the clients (or cluster nodes) the store creates, e.g. `protocol`; they override the store's. */
  redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options (e.g. `natMap`, `dnsLookup`); they override the store's. */
  clusterOptions?: ClusterOptions;
  /** Prometheus metrics (prom-client): `{ registry, prefix }`, or `false` for none. Default: the global registry, prefix `session_store_`. */
  metrics?: false | MetricsOptions;
  /**
   * OpenTelemetry: one client span per call when `@opentelemetry/api` is installed (an optional
   * peer dependency; without a registered SDK the spans record nothing). Default: true.
   */
  tracing?: boolean;
  /** Receives warnings (e.g. an evicting `maxmemory-policy`). Never receives tokens. Default: none. */
  logger?: Logger;
}

/** The environment variables the store reads, and nothing else. */
export interface StoreEnv {
  REDIS_URL?: string;
  SESSION_TTL?: string;
  SESSION_KEY_PREFIX?: string;
  MAX_CONNECTIONS?: string;
}
