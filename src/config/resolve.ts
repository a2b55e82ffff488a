import type { ClusterOptions, RedisOptions } from 'ioredis';
import { ConfigurationError } from '../errors.js';
import type { MetricsOptions } from '../metrics.js';
import type { Logger } from '../types.js';
import type { CacheSettings } from '../cache/session-cache.js';
import {
  DEFAULTS,
  MAX_TTL_SECONDS,
  type CacheOptions,
  type StoreEnv,
  type StoreOptions,
  type WaitForReplicas,
} from './options.js';
import { topologyOptions, type Auth, type Topology } from './topology.js';
import { booleanOption, describe, integer, optionalInteger, plainObject, withoutUndefined } from './values.js';

/** Options after defaults, environment and validation. */
export interface ResolvedOptions {
  /** The URL as given (standalone), or the comma-separated cluster seeds; for messages only. */
  url: string;
  topology: Topology;
  /** Credentials and TLS, from the options or the URL; applied to every node. */
  auth: Auth;
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
  cache: CacheSettings | undefined;
  tracing: boolean;
  logger: Logger | undefined;
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
    cache: cacheOption(merged.cache),
    tracing: booleanOption('tracing', merged.tracing ?? true),
    logger: loggerOption(merged.logger),
  };
  return resolved;
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
  const prefix: unknown = Reflect.get(value, 'keyPrefix');
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

export function cacheOption(value: unknown): CacheSettings | undefined {
  if (value === undefined || value === false) return undefined;
  const given = value === true ? {} : (plainObject('cache', value) as CacheOptions);
  const d = DEFAULTS.cache;
  return {
    maxEntries: integer('cache.maxEntries', given.maxEntries ?? d.maxEntries, 1, 100_000_000),
    maxBytes: integer('cache.maxBytes', given.maxBytes ?? d.maxBytes, 1024, Number.MAX_SAFE_INTEGER),
    maxStalenessMs: integer('cache.maxStalenessMs', given.maxStalenessMs ?? d.maxStalenessMs, 20, 3_600_000),
  };
}

function loggerOption(value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof (value as Logger).warn !== 'function') {
    throw new ConfigurationError('logger', 'expected an object with a warn(message) method');
  }
  return value as Logger;
}
