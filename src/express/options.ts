import type { SessionData } from 'express-session';
import type { CacheOptions } from '../config/options.js';
import type { MetricsOptions } from '../metrics.js';
import type { IoredisClient, NodeRedisClient } from '../transport/client.js';

/** How sessions are turned into the stored string and back. Default: JSON. */
export interface Serializer {
  parse(s: string): SessionData | Promise<SessionData>;
  stringify(s: SessionData): string;
}

export interface ExpressSessionStoreOptions {
  /** An ioredis client or Cluster, or a node-redis client. */
  client: IoredisClient | NodeRedisClient;
  /** Key prefix. Default `sess:`. */
  prefix?: string;
  /** Keys per SCAN call for clear/length/ids/all. Default 100. */
  scanCount?: number;
  /** Default JSON. */
  serializer?: Serializer;
  /** Seconds, or a function of the session. Default 86400. Ignored when the cookie has an expiry. */
  ttl?: number | ((sess: SessionData) => number);
  /** Store sessions without a TTL. Default false. */
  disableTTL?: boolean;
  /** Make touch a no-op. Default false. */
  disableTouch?: boolean;
  /** The user a session belongs to, or undefined for an anonymous one; enables the per-user index. */
  userId?: (sess: SessionData) => string | undefined;
  /** How long a destroyed id stays blocked from being written back, at least (ms). Default 60000. */
  tombstoneMs?: number;
  /** Per-command budget in ms. Default 1000. */
  commandTimeout?: number;
  /**
   * The session cache (ioredis clients only; see docs/express-session.md): a read of a cached
   * session sends nothing to Redis, and Redis reports every change (CLIENT TRACKING). Default off.
   */
  cache?: boolean | CacheOptions;
  /**
   * Lazy touch, seconds: a touch (or an unchanged save) is sent only when it moves the session's
   * Redis expiry by at least this much. Needs the cache. Default: 0 without the cache (touch on
   * every request, as connect-redis), a tenth of the session's TTL with it.
   */
  touchAfter?: number;
  /** Prometheus metrics as the core store records them (operation label `express.*`), or false. Default: global registry. */
  metrics?: false | MetricsOptions;
}
