import session, { type SessionData } from 'express-session';
import { ExpressCache } from './cache/express-cache.js';
import { RedisClock } from './clock.js';
import { cacheOption } from './config/resolve.js';
import { classifyError, ConfigurationError, InvalidInputError } from './errors.js';
import {
  expressIndexKey,
  expressIndexKeys,
  expressKeyDigest,
  expressSessionKey,
  expressSessionKeys,
  expressTombstoneKeys,
  isExpressSid,
  sidOfKey,
} from './keys.js';
import { touchAfterOption, touchDue, unchangedApartFromExpires, type TouchAfter } from './express/lazy.js';
import { ExpressIO } from './express/io.js';
import type { ExpressSessionStoreOptions, Serializer } from './express/options.js';
import { StoreMetrics } from './metrics.js';
import { Observer } from './observe.js';
import type { ExpressOperation } from './operations.js';
import * as ops from './ops/express.js';
import { adapt, type IoredisClient, type NodeRedisClient, type RedisClient } from './transport/client.js';
import { Deadlines } from './transport/deadlines.js';
import { Scripts } from './transport/scripts.js';
import { validateUserId } from './validate.js';

export type { NodeRedisClient } from './transport/client.js';
export { expressAclRules } from './acl.js';
export type { ExpressSessionStoreOptions, Serializer } from './express/options.js';

/**
 * An express-session store (also used by @fastify/session), a drop-in for connect-redis 7/8:
 * same options, defaults, key layout (`prefix + sid`, the serializer's string, the same TTL
 * rules) and methods in promise and callback form. Beyond connect-redis: a logout can never be
 * undone by a request that still holds the old session, and with `userId` each write also keeps
 * a per-user index in the same script (count, list and log out everywhere); with `cache`, a
 * read of a cached session sends nothing to Redis, and `touchAfter` and lazy save keep the
 * writes of unchanged sessions away too (docs/express-session.md).
 */

// express-session's callback shape: an error, or what the method yields.
// A serializer's parse error is typed like the store's own (CorruptSessionError stays itself).
function typed<T>(work: () => T | Promise<T>): T | Promise<T> {
  const result = work();
  if (!(result instanceof Promise)) return result;
  return result.catch((err: unknown) => {
    throw classifyError(err);
  });
}

type Callback<T> = (err: unknown, data?: T) => void;

const nothing = (): undefined => undefined;

type Sess = SessionData & { cookie?: { expires?: Date | string | null } };

export class ExpressSessionStore extends session.Store {
  readonly client: IoredisClient | NodeRedisClient;
  readonly prefix: string;
  readonly scanCount: number;
  readonly serializer: Serializer;
  readonly ttl: number | ((sess: SessionData) => number);
  readonly disableTTL: boolean;
  readonly disableTouch: boolean;
  readonly userId: ((sess: SessionData) => string | undefined) | undefined;
  readonly touchAfter: TouchAfter;
  private readonly tombstoneMs: number;
  private readonly cache: ExpressCache | undefined;
  /** The cache's links healthy and the Redis clock sampled (at once without the cache). */
  private readonly opened: Promise<void>;
  private readonly unwatch: (() => void) | undefined;
  private readonly redis: RedisClient;
  private readonly scripts = new Scripts();
  private readonly deadlines: Deadlines;
  private readonly io: ExpressIO;
  private readonly clock = new RedisClock();
  private readonly observer: Observer;

  constructor(options: ExpressSessionStoreOptions) {
    super();
    if (options === null || typeof options !== 'object' || options.client === undefined) {
      throw new ConfigurationError('client', 'an ioredis or node-redis client is required');
    }
    this.client = options.client;
    this.prefix = options.prefix ?? 'sess:';
    this.scanCount = options.scanCount ?? 100;
    this.serializer = options.serializer ?? JSON;
    this.ttl = options.ttl ?? 86400;
    this.disableTTL = options.disableTTL ?? false;
    this.disableTouch = options.disableTouch ?? false;
    this.userId = options.userId;
    this.tombstoneMs = options.tombstoneMs ?? 60_000;
    if (typeof this.prefix !== 'string' || this.prefix.length === 0 || /[{}]/.test(this.prefix)) {
      // Empty, every key in the database would look like a session to clear() and length(); a
      // brace would move the cluster hash tag and blur sessions with the adapter's own keys.
      throw new ConfigurationError('prefix', 'expected a non-empty string without { or }');
    }
    if (this.userId !== undefined && typeof this.userId !== 'function')
      throw new ConfigurationError('userId', 'expected a function');
    // A user's sessions have random ids, so on a cluster they sit in many slots, and one script
    // cannot touch a session and its user's index there.
    this.redis = adapt(this.client);
    if (this.userId !== undefined && this.redis.isCluster) {
      throw new ConfigurationError(
        'userId',
        'the per-user index needs a standalone or Sentinel Redis (session ids hash to many slots on a cluster)',
      );
    }
    const metrics = options.metrics === false ? undefined : StoreMetrics.for(options.metrics);
    this.deadlines = new Deadlines(options.commandTimeout ?? 1000, metrics);
    this.observer = new Observer(metrics, undefined);
    this.scripts.onReload = (script) => metrics?.scriptReloads.inc({ script });
    const settings = cacheOption(options.cache);
    this.touchAfter = touchAfterOption(options.touchAfter, settings !== undefined);
    // A node-redis client is refused here (ConfigurationError): the cache needs ioredis.
    const cache = (this.cache =
      settings === undefined ? undefined : new ExpressCache(this.redis, this.clock, settings));
    this.io = new ExpressIO(this.redis, this.scripts, this.deadlines, cache);
    if (cache === undefined) {
      this.opened = Promise.resolve();
      return;
    }
    const stopMetrics = metrics?.watchCache(cache.entries, 'express.get');
    const stopLifecycle = this.redis.onLifecycle((event) => {
      if (event === 'topology') cache.topologyChanged();
      if (event !== 'close') this.clock.refresh(this.redis, this.io.bounded);
    });
    this.unwatch = () => {
      stopMetrics?.();
      stopLifecycle();
    };
    // Opened in the background (the constructor is synchronous, as express-session expects):
    // until the links are healthy every read goes to Redis, as without the cache.
    this.opened = Promise.all([cache.open(), this.clock.sample(this.redis, this.io.bounded)]).then(() => undefined);
    this.opened.catch(() => undefined);
  }

  /**
   * Resolves once the cache serves (its invalidation links are healthy and the Redis clock is
   * sampled); rejects when it cannot open, for example when ACL refuses its commands. At once
   * without the cache. Reads before then go to Redis.
   */
  ready(): Promise<void> {
    return this.opened;
  }

  /** Closes the cache's own connections (never the client passed in). Idempotent. */
  close(): void {
    this.unwatch?.();
    this.cache?.close();
  }

  override get(sid: string, cb?: Callback<SessionData | null>): Promise<SessionData | null> {
    return this.settle('express.get', cb, () => this.read(sid));
  }

  /** The session, as a value when no I/O is needed (a cache hit): a hit settles without a promise layer of its own. */
  private read(sid: string): SessionData | null | Promise<SessionData | null> {
    // No session can be stored under an id this store refuses to write.
    if (!isExpressSid(sid)) return null;
    const key = this.key(sid);
    const cache = this.cache;
    if (cache !== undefined) {
      // Parsed on every hit: express-session keeps the loaded object's values by reference, so
      // each request must get objects of its own.
      const id = expressKeyDigest(key);
      const at = performance.now();
      this.clock.refresh(this.redis, this.io.bounded, at);
      const hit = cache.hit(id, at);
      if (hit !== undefined) return this.serializer.parse(hit.raw);
      const loaded = cache.load(key, id);
      if (loaded !== undefined) {
        return this.io.bounded(loaded).then((found) => (found === null ? null : this.serializer.parse(found.raw)));
      }
    }
    return this.io.send(ops.getCommand(key)).then((reply) => {
      const raw = ops.decodeValue(reply);
      return raw === null ? null : this.serializer.parse(raw);
    });
  }

  /**
   * Writes the session. Resolves (and calls back with) `false` when the write was refused because
   * the session was destroyed meanwhile; express-session and Fastify look only at the error.
   */
  override set(sid: string, sess: SessionData, cb?: Callback<void | false>): Promise<void | false> {
    return this.settle('express.set', cb, () => this.save(sid, sess));
  }

  private save(sid: string, sess: SessionData): undefined | false | Promise<undefined | false> {
    const ttl = this.disableTTL ? 0 : this.ttlOf(sess);
    // connect-redis: a TTL of zero or less deletes the session.
    if (!this.disableTTL && ttl <= 0) return this.destroyNow(sid, sess).then(() => undefined);
    const key = this.key(sid);
    const write = async (): Promise<undefined | false> => {
      const call = ops.setCall(key, this.serializer.stringify(sess), ttl, this.indexOf(sid, sess));
      return ops.decodeSet(await this.io.write(key, call)) ? undefined : false;
    };
    // Lazy save: a save that changes nothing but the cookie's expiry is a touch.
    const held = this.disableTTL ? undefined : this.cache?.peek(expressKeyDigest(key));
    if (held === undefined) return write();
    const lazy = (same: boolean): undefined | false | Promise<undefined | false> =>
      same ? this.lazyTouch(key, ttl, this.indexOf(sid, sess), held.expiresAt) : write();
    const same = unchangedApartFromExpires(sess, held.raw, this.serializer);
    return typeof same === 'boolean' ? lazy(same) : same.then(lazy);
  }

  override touch(sid: string, sess: SessionData, cb?: Callback<void>): Promise<void> {
    return this.settle('express.touch', cb, () => {
      if (this.disableTouch || this.disableTTL) return;
      const ttl = this.ttlOf(sess);
      const key = this.key(sid);
      if (ttl <= 0) return this.destroyNow(sid, sess);
      return this.lazyTouch(key, ttl, this.indexOf(sid, sess), this.cache?.peek(expressKeyDigest(key))?.expiresAt);
    });
  }

  /** A touch, unless the cache knows the key's expiry (`expiresAt`) and the touch would not move it by touchAfter. */
  private lazyTouch(
    key: string,
    ttl: number,
    index: ops.IndexEntry | undefined,
    expiresAt?: number,
  ): undefined | Promise<undefined> {
    if (!touchDue(expiresAt, this.clock.now(), ttl, this.touchAfter)) return undefined;
    const touch = index === undefined ? ops.expireCommand(key, ttl) : ops.touchIndexedCall(key, ttl, index);
    return this.io.write(key, touch).then(nothing);
  }

  override destroy(sid: string, cb?: Callback<void>): Promise<void> {
    return this.settle('express.destroy', cb, async () => {
      if (isExpressSid(sid)) await this.destroyNow(sid, undefined);
    });
  }

  /**
   * Makes the store what a new one would be: deletes its sessions, their tombstones and its
   * per-user index keys (SCAN on every master; never another prefix's keys). A request in
   * flight meanwhile may still save its session back, as with connect-redis.
   */
  override clear(cb?: Callback<void>): Promise<void> {
    return this.settle('express.clear', cb, async () => {
      const families = [expressSessionKeys, expressTombstoneKeys, expressIndexKeys].map((f) => f(this.prefix));
      await this.io.delete((await Promise.all(families.map((f) => this.io.scan(f, this.scanCount)))).flat());
    });
  }

  override length(cb?: Callback<number>): Promise<number> {
    return this.settle('express.length', cb, async () => (await this.scanSessions()).length);
  }

  ids(cb?: Callback<string[]>): Promise<string[]> {
    return this.settle('express.ids', cb, async () => (await this.scanSessions()).map((k) => sidOfKey(this.prefix, k)));
  }

  override all(cb?: Callback<(SessionData & { id: string })[]>): Promise<(SessionData & { id: string })[]> {
    return this.settle('express.all', cb, async () => this.loadKeys(await this.scanSessions()));
  }

  /** Live sessions of a user (needs `userId`). */
  countUserSessions(userId: string): Promise<number> {
    return this.settle('express.countUserSessions', undefined, async () => {
      this.requireIndex();
      const index = this.indexKey(validateUserId(userId));
      return ops.decodeCount(await this.io.send(ops.countCommand(index, await this.latest())));
    });
  }

  /** The user's sessions, each with its `id` (needs `userId`). */
  listUserSessions(userId: string): Promise<(SessionData & { id: string })[]> {
    return this.settle('express.listUserSessions', undefined, async () => {
      const sids = await this.liveIds(validateUserId(userId));
      return this.loadKeys(sids.map((sid) => this.key(sid)));
    });
  }

  /**
   * Destroys every session of the user that exists when the call starts, except `except` (a
   * sid); each one atomically with its index entry and a tombstone. Returns how many it deleted.
   */
  destroyUserSessions(userId: string, options: { except?: string } = {}): Promise<number> {
    return this.settle('express.destroyUserSessions', undefined, () => this.destroyAll(userId, options));
  }

  private async destroyAll(userId: string, options: { except?: string }): Promise<number> {
    const user = validateUserId(userId);
    if (options.except !== undefined && typeof options.except !== 'string')
      throw new InvalidInputError('options.except', 'expected a session id');
    const sids = (await this.liveIds(user)).filter((sid) => sid !== options.except);
    const index = this.indexKey(user);
    const replies = await Promise.all(
      sids.map((sid) => {
        const key = this.key(sid);
        return this.io.write(key, ops.destroyCall(key, this.tombstoneMs, { key: index, sid }));
      }),
    );
    return replies.reduce<number>((n, r) => n + ops.decodeDestroyed(r), 0);
  }

  private requireIndex(): void {
    if (this.userId === undefined) throw new ConfigurationError('userId', 'per-user operations need the userId option');
  }

  private async liveIds(user: string): Promise<string[]> {
    this.requireIndex();
    // Liveness on the Redis clock, as the scripts that write the index decide it.
    return ops.decodeIds(await this.io.send(ops.liveIdsCommand(this.indexKey(user), await this.latest())));
  }

  /** The latest the Redis clock can read now (sampled with TIME on first use and every 30 s). */
  private async latest(): Promise<number> {
    if (this.clock.stale()) await this.clock.sample(this.redis, this.io.bounded);
    return this.clock.latest();
  }

  private async destroyNow(sid: string, sess: SessionData | undefined): Promise<void> {
    const key = this.key(sid);
    let session = sess;
    if (session === undefined && this.userId !== undefined) {
      // destroy(sid) gets no session: read it to find its user's index.
      const raw = ops.decodeValue(await this.io.send(ops.getCommand(key)));
      if (raw !== null) session = await this.serializer.parse(raw);
    }
    const index = session === undefined ? undefined : this.indexOf(sid, session);
    ops.decodeDestroyed(await this.io.write(key, ops.destroyCall(key, this.tombstoneMs, index)));
  }

  /** The sessions under `keys` that exist, each with its `id`. */
  private async loadKeys(keys: string[]): Promise<(SessionData & { id: string })[]> {
    const values = await this.io.values(keys);
    const out: (SessionData & { id: string })[] = [];
    for (let i = 0; i < keys.length; i++) {
      const raw = values[i];
      if (raw === null || raw === undefined) continue;
      const data = (await this.serializer.parse(raw)) as SessionData & { id: string };
      data.id = sidOfKey(this.prefix, keys[i]!);
      out.push(data);
    }
    return out;
  }

  /** The prefix's session keys. */
  private scanSessions(): Promise<string[]> {
    return this.io.scan(expressSessionKeys(this.prefix), this.scanCount);
  }

  private key(sid: string): string {
    if (!isExpressSid(sid)) {
      throw new InvalidInputError(
        'sid',
        "expected a non-empty string without ':', '{' or '}' (they would be confused with the store's own keys)",
      );
    }
    return expressSessionKey(this.prefix, sid);
  }

  private indexKey(user: string): string {
    return expressIndexKey(this.prefix, user);
  }

  /** The session's entry in its user's index, or undefined without `userId` or for an anonymous session. */
  private indexOf(sid: string, sess: SessionData): ops.IndexEntry | undefined {
    if (this.userId === undefined) return undefined;
    const user = this.userId(sess);
    return user === undefined ? undefined : { key: this.indexKey(validateUserId(user, 'userId(session)')), sid };
  }

  // connect-redis's rule: the cookie's expiry rounded up to seconds, else the ttl option.
  private ttlOf(sess: SessionData): number {
    if (typeof this.ttl === 'function') return this.ttl(sess);
    const expires = (sess as Sess).cookie?.expires;
    if (expires) return Math.ceil((Number(new Date(expires)) - Date.now()) / 1000);
    return this.ttl;
  }

  // Promise and callback forms. With a callback the error goes to it and the returned promise
  // does not reject: express-session ignores it, and a rejection would be unhandled.
  private settle<T>(operation: ExpressOperation, cb: Callback<T> | undefined, work: () => T | Promise<T>): Promise<T> {
    if (!cb) return this.observer.run(operation, undefined, typed, work, undefined);
    // A callback answered without I/O (a cache hit, a skipped touch) is called from the check
    // phase, as express-session's MemoryStore does, not inside the HTTP parser's turn: measured
    // in bench:express, that costs the app less per request than calling back at once.
    let immediate = false;
    const promise = this.observer.run(
      operation,
      undefined,
      typed,
      () => {
        const result = work();
        immediate = !(result instanceof Promise);
        return result;
      },
      undefined,
    );
    return promise.then(
      (value) => {
        if (immediate) setImmediate(cb, null, value);
        else cb(null, value);
        return value;
      },
      (err: unknown) => {
        cb(err);
        return undefined as T;
      },
    );
  }
}
