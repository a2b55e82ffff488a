import type { ConnectionOptions } from 'node:tls';
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis';
import { ConfigurationError } from './errors.js';
import type { MetricsOptions } from './metrics.js';
import type { Logger } from './types.js';

/** The port of a `redis://` URL that names none. */
export const DEFAULT_PORT = 6379;

/** Defaults, with their units. */
export const DEFAULTS = {
  url: 'redis://127.0.0.1:6379',
  keyPrefix: 'session:',
  defaultTtl: 3600, // seconds: one hour of idle time
  touchAfter: 1, // seconds between rolling writes of one session
  maxConnections: 1,
  commandTimeout: 1000, // ms: budget for one store call, queueing and retries included
  maxMetadataBytes: 16 * 1024, // UTF-8 bytes of all metadata keys and values
  maxUserBytes: 16 * 1024, // bytes of the user's JSON
} as const;

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
  /** Connections to open when the store creates its own client(s). Default: `MAX_CONNECTIONS` or 1. */
  maxConnections?: number;
  /** Budget in ms for one store call, offline queueing and retries included. Default: 1000. */
  commandTimeout?: number;
  /** Limit on a session's metadata: UTF-8 bytes of keys plus values. Default: 16384. */
  maxMetadataBytes?: number;
  /** Limit on the user object's JSON in bytes. Default: 16384. */
  maxUserBytes?: number;
  /** Extra ioredis options for the clients (or cluster nodes) the store creates, e.g. `protocol`; they override the store's. */
  redisOptions?: RedisOptions;
  /** Extra ioredis Cluster options (e.g. `natMap`, `dnsLookup`); they override the store's. */
  clusterOptions?: ClusterOptions;
  /** Prometheus metrics (prom-client): `{ registry, prefix }`, or `false` for none. Default: the global registry, prefix `session_store_`. */
  metrics?: false | MetricsOptions;
  /** Receives warnings (e.g. an evicting `maxmemory-policy`). Never receives tokens. Default: none. */
  logger?: Logger;
}

/** Where the store connects: one server, a cluster, or the master of a Sentinel group. */
export type Topology =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: NodeAddress[] }
  | { kind: 'sentinel'; sentinels: NodeAddress[]; name: string };

/** Options after defaults, environment and validation. */
export interface ResolvedOptions {
  /** The URL as given (standalone), or the comma-separated cluster seeds; for messages only. */
  url: string;
  topology: Topology;
  /** Credentials and TLS, from the options or the URL; applied to every node. */
  auth: { username?: string; password?: string; tls?: ConnectionOptions };
  waitForReplicas: WaitForReplicas | undefined;
  clusterOptions: ClusterOptions;
  keyPrefix: string;
  defaultTtl: number;
  absoluteTtl: number; // 0: none
  rolling: boolean;
  touchAfterMs: number;
  maxSessionsPerUser: number; // 0: no cap
  maxConnections: number;
  commandTimeout: number;
  maxMetadataBytes: number;
  maxUserBytes: number;
  redisOptions: RedisOptions;
  metrics: false | MetricsOptions;
  logger: Logger | undefined;
}

/** The environment variables the store reads, and nothing else. */
export interface StoreEnv {
  REDIS_URL?: string;
  SESSION_TTL?: string;
  SESSION_KEY_PREFIX?: string;
  MAX_CONNECTIONS?: string;
}

type EnvOptions = Pick<StoreOptions, 'url' | 'defaultTtl' | 'keyPrefix' | 'maxConnections'>;

/** Reads REDIS_URL, SESSION_TTL, SESSION_KEY_PREFIX and MAX_CONNECTIONS; rejects malformed values. */
export function readEnv(env: StoreEnv): EnvOptions {
  const out: EnvOptions = {};
  if (env.REDIS_URL !== undefined) out.url = env.REDIS_URL;
  if (env.SESSION_KEY_PREFIX !== undefined) out.keyPrefix = env.SESSION_KEY_PREFIX;
  if (env.SESSION_TTL !== undefined) out.defaultTtl = envInteger('SESSION_TTL', env.SESSION_TTL);
  if (env.MAX_CONNECTIONS !== undefined) out.maxConnections = envInteger('MAX_CONNECTIONS', env.MAX_CONNECTIONS);
  return out;
}

function envInteger(name: string, raw: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(raw)) {
    throw new ConfigurationError(name, `expected a positive whole number, got ${JSON.stringify(raw.slice(0, 40))}`);
  }
  return Number(raw);
}

/** Merges options over the environment over the defaults, and validates the result. */
export function resolveOptions(options: StoreOptions, env: StoreEnv): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('options', 'expected an object');
  }
  // Environment values are read (and validated) only where no option overrides them.
  const fromEnv = readEnv({
    // REDIS_URL is the default target only when no other target is given.
    REDIS_URL:
      options.url === undefined && options.cluster === undefined && options.sentinels === undefined
        ? env.REDIS_URL
        : undefined,
    SESSION_TTL: options.defaultTtl === undefined ? env.SESSION_TTL : undefined,
    SESSION_KEY_PREFIX: options.keyPrefix === undefined ? env.SESSION_KEY_PREFIX : undefined,
    MAX_CONNECTIONS: options.maxConnections === undefined ? env.MAX_CONNECTIONS : undefined,
  });
  const merged = { ...fromEnv, ...withoutUndefined(options) };
  const commandTimeout = integer('commandTimeout', merged.commandTimeout ?? DEFAULTS.commandTimeout, 1, 600_000);
  const { topology, url, auth } = topologyOptions(merged);

  const absoluteTtl = optionalInteger('absoluteTtl', merged.absoluteTtl, 1, MAX_TTL_SECONDS) ?? 0;
  const resolved: ResolvedOptions = {
    url,
    topology,
    auth,
    waitForReplicas: waitOption(merged.waitForReplicas, commandTimeout),
    clusterOptions: plainObject('clusterOptions', merged.clusterOptions),
    keyPrefix: keyPrefixOption(merged.keyPrefix ?? DEFAULTS.keyPrefix),
    // An explicit defaultTtl above absoluteTtl is an error; the built-in default just yields to it.
    defaultTtl: integer(
      'defaultTtl',
      merged.defaultTtl ?? Math.min(DEFAULTS.defaultTtl, absoluteTtl || MAX_TTL_SECONDS),
      1,
      absoluteTtl || MAX_TTL_SECONDS,
    ),
    absoluteTtl,
    rolling: booleanOption('rolling', merged.rolling ?? false),
    touchAfterMs: integer('touchAfter', merged.touchAfter ?? DEFAULTS.touchAfter, 0, MAX_TTL_SECONDS) * 1000,
    maxSessionsPerUser: optionalInteger('maxSessionsPerUser', merged.maxSessionsPerUser, 1, 1_000_000) ?? 0,
    maxConnections: integer('maxConnections', merged.maxConnections ?? DEFAULTS.maxConnections, 1, 64),
    commandTimeout,
    maxMetadataBytes: integer(
      'maxMetadataBytes',
      merged.maxMetadataBytes ?? DEFAULTS.maxMetadataBytes,
      2,
      16 * 1024 * 1024,
    ),
    maxUserBytes: integer('maxUserBytes', merged.maxUserBytes ?? DEFAULTS.maxUserBytes, 16, 16 * 1024 * 1024),
    redisOptions: redisOptionsOption(merged.redisOptions),
    metrics: metricsOption(merged.metrics),
    logger: loggerOption(merged.logger),
  };
  return resolved;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ConfigurationError(name, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function optionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  return value === undefined ? undefined : integer(name, value, min, max);
}

function booleanOption(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(name, `expected true or false, got ${describe(value)}`);
  return value;
}

function urlOption(value: unknown, name = 'url'): URL {
  if (typeof value !== 'string') throw new ConfigurationError(name, `expected a string, got ${describe(value)}`);
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch (cause) {
    throw new ConfigurationError(name, 'not a valid URL (expected redis://host:port or rediss://host:port)', { cause });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new ConfigurationError(name, `expected the redis: or rediss: scheme, got ${parsed.protocol}`);
  }
  return parsed;
}

type TopologyInput = Pick<StoreOptions, 'url' | 'cluster' | 'sentinels' | 'name' | 'username' | 'password' | 'tls'>;

/**
 * One of `url` (one URL, or a comma-separated list of cluster seeds), `cluster` or `sentinels`.
 * Credentials and TLS come from the options, else from the (first) URL, and apply to every node.
 */
function topologyOptions(o: TopologyInput): Pick<ResolvedOptions, 'topology' | 'url' | 'auth'> {
  const given = (['url', 'cluster', 'sentinels'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) throw new ConfigurationError(given.join(', '), 'give only one of url, cluster and sentinels');
  const auth: ResolvedOptions['auth'] = {
    username: optionalString('username', o.username),
    password: optionalString('password', o.password),
    tls: o.tls === undefined ? undefined : (plainObject('tls', o.tls)),
  };
  if (o.cluster !== undefined) {
    const nodes = addresses('cluster', o.cluster);
    return {
      topology: { kind: 'cluster', nodes },
      url: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      auth: clean(auth),
    };
  }
  if (o.sentinels !== undefined) {
    const sentinels = addresses('sentinels', o.sentinels);
    if (typeof o.name !== 'string' || o.name === '')
      throw new ConfigurationError('name', 'the Sentinel master group name is required with sentinels');
    return { topology: { kind: 'sentinel', sentinels, name: o.name }, url: `sentinel:${o.name}`, auth: clean(auth) };
  }
  if (o.name !== undefined) throw new ConfigurationError('name', 'is only used with sentinels');
  const raw = o.url ?? DEFAULTS.url;
  if (typeof raw === 'string' && raw.includes(',')) {
    const urls = raw.split(',').map((u, i) => urlOption(u, `url[${i}]`));
    const first = urls[0]!;
    if (urls.some((u) => u.protocol !== first.protocol))
      throw new ConfigurationError('url', 'cluster URLs must all use redis: or all use rediss:');
    const nodes = urls.map(
      (u, i) => addresses(`url[${i}]`, [{ host: u.hostname, port: Number(u.port || DEFAULT_PORT) }])[0]!,
    );
    const fromUrl = credentialsOf(first);
    return {
      topology: { kind: 'cluster', nodes },
      url: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      auth: clean({
        username: auth.username ?? fromUrl.username,
        password: auth.password ?? fromUrl.password,
        tls: auth.tls ?? (first.protocol === 'rediss:' ? {} : undefined),
      }),
    };
  }
  urlOption(raw);
  return { topology: { kind: 'standalone', url: raw }, url: raw, auth: clean(auth) };
}

function credentialsOf(url: URL): { username?: string; password?: string } {
  return {
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
  };
}

function addresses(name: string, value: unknown): NodeAddress[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ConfigurationError(name, 'expected a non-empty array of { host, port }');
  return value.map((v: unknown, i) => {
    const { host, port } = (v ?? {}) as Partial<NodeAddress>;
    if (typeof host !== 'string' || host === '')
      throw new ConfigurationError(`${name}[${i}].host`, `expected a host name, got ${describe(host)}`);
    return { host, port: integer(`${name}[${i}].port`, port, 1, 65_535) };
  });
}

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new ConfigurationError(name, `expected a string, got ${describe(value)}`);
  return value;
}

function plainObject(name: string, value: unknown): object {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigurationError(name, 'expected an object');
  return value;
}

function clean<T extends object>(o: T): T {
  return withoutUndefined(o) as T;
}

function waitOption(value: unknown, commandTimeout: number): WaitForReplicas | undefined {
  if (value === undefined) return undefined;
  const { replicas, timeout } = plainObject('waitForReplicas', value) as Partial<WaitForReplicas>;
  return {
    replicas: integer('waitForReplicas.replicas', replicas, 1, 64),
    // WAIT must give up before the call's own budget does, or callers see a timeout instead.
    timeout: integer('waitForReplicas.timeout', timeout, 1, Math.max(1, commandTimeout - 1)),
  };
}

export function keyPrefixOption(value: unknown, name = 'keyPrefix'): string {
  if (typeof value !== 'string') throw new ConfigurationError(name, `expected a string, got ${describe(value)}`);
  // A brace in the prefix would become the hash tag and split a user's keys across slots.
  if (value.includes('{') || value.includes('}')) throw new ConfigurationError(name, 'must not contain { or }');
  if (value.length > 128 || !value.isWellFormed()) {
    throw new ConfigurationError(name, 'must be well-formed text of at most 128 characters');
  }
  return value;
}

function redisOptionsOption(value: unknown): RedisOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError('redisOptions', 'expected an object of ioredis options');
  }
  const prefix = (value as RedisOptions).keyPrefix;
  if (prefix !== undefined) keyPrefixOption(prefix, 'redisOptions.keyPrefix');
  return value;
}

function metricsOption(value: unknown): false | MetricsOptions {
  if (value === false) return false;
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigurationError('metrics', 'expected false or { registry?, prefix? }');
  }
  const { prefix, registry } = value as MetricsOptions;
  if (prefix !== undefined && (typeof prefix !== 'string' || !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))) {
    throw new ConfigurationError(
      'metrics.prefix',
      'must be a valid Prometheus metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)',
    );
  }
  if (registry !== undefined && (registry === null || typeof registry.registerMetric !== 'function')) {
    throw new ConfigurationError('metrics.registry', 'expected a prom-client Registry');
  }
  return value;
}

function loggerOption(value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof (value as Logger).warn !== 'function') {
    throw new ConfigurationError('logger', 'expected an object with a warn(message) method');
  }
  return value as Logger;
}

/** A short, safe description of a rejected value for messages (never the value of a token). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `a string of length ${value.length}`;
  return `a value of type ${typeof value}`;
}
