import { keyPrefixOption } from './config/resolve.js';
import { InvalidInputError } from './errors.js';
import { expressIndexKeys, expressSessionKeys, expressTombstoneKeys, prefixGlob } from './keys.js';

/**
 * The least privilege the store's Redis user needs. Redis checks ACLs on the commands a script
 * runs too, so the commands inside the Lua scripts are listed one by one.
 */
export const SCRIPT_COMMANDS = [
  'hget',
  'hmget',
  'hset',
  'hdel',
  'hlen',
  'hgetall',
  'del',
  'pexpireat',
  'pexpiretime', // a user's second session: the key's expiry becomes its bookkeeping
  'time',
] as const;

/** What the client itself sends, with the reason for each. */
export const CLIENT_COMMANDS = [
  'evalsha', // every write
  'hget', // getSession, getSessionTtl, countUserSessions (plain reads)
  'hmget', // getSessions: one user's tokens in one command
  'hlen', // countUserSessions
  'hgetall', // listUserSessions, and countUserSessions once a session may have expired
  'time', // the Redis clock estimate that reads decide expiry on
  'eval', // the fallback after NOSCRIPT (restart, failover)
  'script|load', // loading scripts at connect; SCRIPT FLUSH and KILL stay refused
  'ping', // healthCheck
  'info', // ioredis's ready check and the store's version and eviction-policy check
  'hello', // RESP3 (ioredis 6's default protocol)
  'wait', // waitForReplicas
  'cluster|slots', // a Cluster client's slot table
  'cluster|info', // a Cluster client's ready check
  'asking', // following ASK redirects while a slot migrates
] as const;

/** What the session cache adds (`cache` option): tracking on its reader, and its invalidation channel. */
export const CACHE_COMMANDS = [
  'client|tracking', // CLIENT TRACKING ON REDIRECT <id> on the cache's reader
  'client|id', // the subscriber's id, the redirect target
  'subscribe', // to __redis__:invalidate only (see the channel rule)
] as const;

/** What the express adapter's Lua scripts run (lua/express*.lua), one by one. */
export const EXPRESS_SCRIPT_COMMANDS = [
  'exists',
  'set',
  'pttl',
  'del',
  'expire',
  'persist',
  'pexpireat',
  'zadd',
  'zrange',
  'zrem',
  'zremrangebyscore',
  'time',
] as const;

/** What the express adapter's client sends itself, with the reason for each. */
export const EXPRESS_CLIENT_COMMANDS = [
  'get', // get, and destroy(sid) with userId (to find the session's user)
  'mget', // all() and listUserSessions() on one server
  'del', // clear()
  'scan', // clear(), length(), ids(), all()
  'expire', // touch without userId, connect-redis's
  'zcount', // countUserSessions
  'zrangebyscore', // listUserSessions, destroyUserSessions
  'time', // the Redis clock estimate
  'evalsha', // set, destroy, and touch with userId
  'eval', // the fallback after NOSCRIPT
  'ping',
  'info', // ioredis's ready check
  'hello', // RESP3 (ioredis 6's default protocol)
  'cluster|slots', // a Cluster client's slot table
  'cluster|info', // a Cluster client's ready check
  'asking', // following ASK redirects while a slot migrates
] as const;

/** What the adapter's cache adds: the core cache's commands and the expiry read with each miss. */
export const EXPRESS_CACHE_COMMANDS = [...CACHE_COMMANDS, 'pexpiretime'] as const;

/**
 * The ACL rules for a user that runs the express-session adapter on `prefixes` (default
 * connect-redis's `sess:`) and nothing else: the sessions, their tombstones and the per-user
 * index keys of each prefix, no other key, no administrative command, and no channel but the
 * cache's invalidation channel when `cache` is set.
 */
export function expressAclRules(prefixes: readonly string[] = ['sess:'], options: AclRuleOptions = {}): string[] {
  if (!Array.isArray(prefixes) || prefixes.length === 0) {
    throw new InvalidInputError('prefixes', 'expected a non-empty array of key prefixes');
  }
  const cache = cacheRule(options);
  const keys = prefixes.flatMap((p: unknown) => {
    if (typeof p !== 'string' || p.length === 0 || /[{}]/.test(p)) {
      throw new InvalidInputError('prefixes', 'expected non-empty strings without { or }');
    }
    return [expressSessionKeys(p), expressTombstoneKeys(p), expressIndexKeys(p)].map((f) => `~${f.glob}`);
  });
  return rulesFor(keys, cache, [
    ...EXPRESS_CLIENT_COMMANDS,
    ...EXPRESS_SCRIPT_COMMANDS,
    ...(cache ? EXPRESS_CACHE_COMMANDS : []),
  ]);
}

/** The rule line: these key patterns, the cache's channel when `cache`, and each command once. */
function rulesFor(keys: readonly string[], cache: boolean, commands: readonly string[]): string[] {
  return [
    'resetkeys',
    ...keys,
    'resetchannels',
    // A literal channel, not a pattern: `&` rules are globs, and this name has none.
    ...(cache ? [`&${CACHE_CHANNEL}`] : []),
    '-@all',
    // Each command once: the client and the scripts share some.
    ...[...new Set(commands)].map((c) => `+${c}`),
  ];
}

function cacheRule(options: AclRuleOptions): boolean {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
  const cache = options.cache ?? false;
  if (typeof cache !== 'boolean') throw new InvalidInputError('options.cache', 'expected true or false');
  return cache;
}

/** The channel the cache's subscriber receives invalidations on. */
export const CACHE_CHANNEL = '__redis__:invalidate';

/** What the rules are for. */
export interface AclRuleOptions {
  /** Also grant what the session cache needs (the store's or the adapter's `cache` option). Default: false. */
  cache?: boolean;
  /** Rules for the express-session adapter on these prefixes instead (as expressAclRules). Default: false. */
  express?: boolean;
}

/**
 * The ACL rules (after `ACL SETUSER <name> on ><password>`) for a user that can run the store
 * on keys under `keyPrefixes` and nothing else: no other keys, no FLUSHALL, CONFIG, KEYS,
 * SCRIPT FLUSH or other administrative command, and no channel but the cache's invalidation
 * channel when `cache` is set.
 */
export function aclRules(keyPrefixes: readonly string[] = ['session:'], options: AclRuleOptions = {}): string[] {
  if (!Array.isArray(keyPrefixes) || keyPrefixes.length === 0) {
    throw new InvalidInputError('keyPrefixes', 'expected a non-empty array of key prefixes');
  }
  const cache = cacheRule(options);
  const express = options.express ?? false;
  if (typeof express !== 'boolean') throw new InvalidInputError('options.express', 'expected true or false');
  if (express) return expressAclRules(keyPrefixes, { cache });
  const keys = keyPrefixes.map((p) => `~${prefixGlob(keyPrefixOption(p, 'keyPrefixes'))}`);
  return rulesFor(keys, cache, [...CLIENT_COMMANDS, ...SCRIPT_COMMANDS, ...(cache ? CACHE_COMMANDS : [])]);
}
