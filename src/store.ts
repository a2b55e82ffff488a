/* eslint-disable @typescript-eslint/unbound-method -- the observer calls each reader method on the reader (Observer.run's `self`) */
import { SessionCache } from './cache/session-cache.js';
import { resolveOptions, type ResolvedOptions } from './config/resolve.js';
import { MAX_TTL_SECONDS, type StoreEnv, type StoreOptions } from './config/options.js';
import { Connections } from './connections.js';
import { classifyError, InvalidInputError } from './errors.js';
import { newToken, SESSION_ID_PATTERN, sessionIdOf, tagOfToken, userKey, userTag } from './keys.js';
import { libraryVersion, type ScriptName } from './lua.generated.js';
import { StoreMetrics } from './metrics.js';
import { Observer } from './observe.js';
import {
  createCall,
  decodeCount,
  decodeCreate,
  decodeDestroy,
  decodeMetadata,
  decodeRefresh,
  decodeValueReply,
  destroyAllCall,
  destroyCall,
  metadataCall,
  newHeader,
  refreshCall,
  rotateCall,
} from './ops/writes.js';
import { SessionReader, tokenRef, userKeyOf } from './reader.js';
import { redactedOptions, type StoreSettings } from './settings.js';
import { StoreTracing } from './tracing.js';
import { connectBudget } from './transport/connection.js';
import type { ScriptCall } from './transport/scripts.js';
import type {
  AuthUser,
  CreatedSession,
  CreateSessionOptions,
  DestroyUserSessionsOptions,
  HealthReport,
  MetadataPatch,
  RotatedSession,
  Session,
} from './types.js';
import { encodeMetadata, encodePatch, encodeUser, keptSessionId, requireString, validateTtl } from './validate.js';

/**
 * Server-side sessions in Redis. Every write is one Lua script in one round trip on one key;
 * every read is plain commands. Bad input throws `InvalidInputError` before any I/O; Redis being
 * down or hung rejects with `StoreUnavailableError` (or its subclass `StoreTimeoutError`), never
 * with a "not found" answer.
 *
 * Each public method hands its work to the observer (metrics and tracing, `src/observe.ts`);
 * reads go to the reader (`src/reader.ts`), writes are built and decoded in `src/ops/writes.ts`
 * and sent through the connections (`src/connections.ts`).
 */
export class RedisSessionStore {
  // Private fields (#): neither util.inspect nor JSON.stringify shows them, so a logged store
  // cannot leak the Redis password its options and clients hold.
  readonly #o: ResolvedOptions;
  readonly #conn: Connections;
  readonly #observer: Observer;
  readonly #metrics: StoreMetrics | undefined;
  readonly #reader: SessionReader;
  readonly #cache: SessionCache | undefined;
  readonly #unwatch: (() => void) | undefined;

  private constructor(
    options: ResolvedOptions,
    conn: Connections,
    metrics: StoreMetrics | undefined,
    tracing: StoreTracing | undefined,
    cache: SessionCache | undefined,
  ) {
    this.#o = options;
    this.#conn = conn;
    this.#metrics = metrics;
    this.#cache = cache;
    this.#observer = new Observer(metrics, tracing);
    this.#reader = new SessionReader(conn, options, this.#observer, cache);
    this.#unwatch = cache === undefined ? undefined : metrics?.watchCache(cache.entries);
    if (conn.server !== undefined) metrics?.connectedTo(conn.server);
    conn.watch(() => cache?.topologyChanged());
  }

  /**
   * Connects (or adopts `options.redis`), checks the server, and returns a ready store.
   * Options fall back to REDIS_URL, SESSION_TTL, SESSION_KEY_PREFIX and MAX_CONNECTIONS.
   */
  static async connect(options: StoreOptions = {}): Promise<RedisSessionStore> {
    return RedisSessionStore.open(options, process.env);
  }

  /** Like `connect`, configured from exactly REDIS_URL, SESSION_TTL, SESSION_KEY_PREFIX and MAX_CONNECTIONS. */
  static async fromEnv(
    env: StoreEnv = process.env,
    options: Omit<StoreOptions, 'url' | 'defaultTtl' | 'keyPrefix' | 'maxConnections'> = {},
  ): Promise<RedisSessionStore> {
    return RedisSessionStore.open(options, env);
  }

  private static async open(options: StoreOptions, env: StoreEnv): Promise<RedisSessionStore> {
    const resolved = resolveOptions(options, env);
    const metrics = resolved.metrics === false ? undefined : StoreMetrics.for(resolved.metrics);
    const conn = await Connections.open(resolved, options.redis, {
      reach: metrics,
      onReload: (script) => metrics?.scriptReloads.inc({ script }),
    });
    let cache: SessionCache | undefined;
    try {
      const tracing = await StoreTracing.load(resolved.tracing, libraryVersion);
      // Opening its links is connecting (two connections per master): the connect budget applies.
      if (resolved.cache !== undefined)
        cache = await SessionCache.open(conn.primary, conn.clock, resolved.cache, connectBudget(resolved));
      return new RedisSessionStore(resolved, conn, metrics, tracing, cache);
    } catch (err) {
      cache?.close();
      await conn.close();
      throw classifyError(err);
    }
  }

  /** The resolved settings, without credentials (safe to log). */
  get options(): StoreSettings {
    return redactedOptions(this.#o);
  }

  /** Called with the script name after each NOSCRIPT reload (also counted in the metrics). */
  set onScriptReload(fn: ((script: ScriptName) => void) | undefined) {
    this.#conn.reloadListener = fn;
  }

  /**
   * Creates a session for `user` and returns it with its token. With `maxSessionsPerUser`, the
   * user's least recently used sessions beyond the cap are evicted in the same step
   * (`evictedSessionIds`).
   */
  createSession(user: AuthUser, options: CreateSessionOptions = {}): Promise<CreatedSession> {
    return this.#observer.run('createSession', this, this.#create, user, options);
  }

  async #create(user: AuthUser, options: CreateSessionOptions): Promise<CreatedSession> {
    const o = this.#o;
    const { id: userId, json: userJson } = encodeUser(user, o.maxUserBytes);
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
    const ttl = options.ttl === undefined ? o.defaultTtl : validateTtl(options.ttl, o.absoluteTtl || MAX_TTL_SECONDS);
    const metadataJson = encodeMetadata(options.metadata, o.maxMetadataBytes);
    const tag = userTag(userId);
    const token = newToken(tag);
    const id = sessionIdOf(token);
    // createdAt is a time that has surely passed on the Redis clock: a create that lands late
    // (re-sent after a reconnect) only ends sooner, never past its absolute TTL.
    const header = newHeader(this.#conn.clock.earliest(), ttl, o.absoluteTtl);
    const key = userKey(o.keyPrefix, tag);
    const { maxSessionsPerUser } = o;
    const reply = await this.#write(createCall({ key, id, header, maxSessionsPerUser, metadataJson, userJson }));
    const created = decodeCreate(reply, { token, id, header, userId, userJson, metadata: options.metadata });
    if (created.evictedSessionIds.length > 0) this.#metrics?.capEvictions.inc(created.evictedSessionIds.length);
    return created;
  }

  /** The live session a token opens, or null (unknown, expired, destroyed, or not a token). */
  getSession(token: string): Promise<Session | null> {
    return this.#observer.run('getSession', this.#reader, this.#reader.get, token, undefined);
  }

  /** Many sessions in one pipelined round trip; results in input order, null where absent. */
  getSessions(tokens: readonly string[]): Promise<(Session | null)[]> {
    return this.#observer.run('getSessions', this.#reader, this.#reader.getMany, tokens, undefined);
  }

  /**
   * Extends a live session: expires `ttl` seconds from now (default: its own idle TTL, which
   * `ttl` also replaces), never past the absolute deadline. False when there is no live session.
   */
  refreshSession(token: string, ttl?: number): Promise<boolean> {
    return this.#observer.run('refreshSession', this, this.#refresh, token, ttl);
  }

  async #refresh(token: string, ttl: number | undefined): Promise<boolean> {
    const seconds = ttl === undefined ? 0 : validateTtl(ttl, this.#o.absoluteTtl || MAX_TTL_SECONDS);
    const ref = tokenRef(this.#o.keyPrefix, token);
    if (ref === null) return false;
    return decodeRefresh(await this.#write(refreshCall(ref.key, ref.id, seconds)));
  }

  /** Destroys the session a token opens (logout). False when there was no live session. */
  destroySession(token: string): Promise<boolean> {
    return this.#observer.run('destroySession', this, this.#destroy, token, undefined);
  }

  async #destroy(token: string): Promise<boolean> {
    const ref = tokenRef(this.#o.keyPrefix, token);
    if (ref === null) return false;
    return decodeDestroy(await this.#write(destroyCall(ref.key, ref.id)), this.#conn.clock.latest());
  }

  /**
   * Sets (string) or removes (null) metadata keys of a live session, atomically and key by key.
   * False when there is no live session. Throws InvalidInputError when the result would exceed
   * `maxMetadataBytes` (nothing is written).
   */
  updateSessionMetadata(token: string, patch: MetadataPatch): Promise<boolean> {
    return this.#observer.run('updateSessionMetadata', this, this.#update, token, patch);
  }

  async #update(token: string, patch: MetadataPatch): Promise<boolean> {
    const max = this.#o.maxMetadataBytes;
    const json = encodePatch(patch, max);
    const ref = tokenRef(this.#o.keyPrefix, token);
    if (ref === null) return false;
    const call = metadataCall(ref.key, ref.id, json, max, this.#conn.clock.latest());
    return decodeMetadata(await this.#write(call), max);
  }

  /** Whole seconds until the session expires (rounded up), or null when there is no live session. */
  getSessionTtl(token: string): Promise<number | null> {
    return this.#observer.run('getSessionTtl', this.#reader, this.#reader.ttl, token, undefined);
  }

  /**
   * Moves a live session to a new token (do it after login or privilege change). The old token
   * stops working in the same step. Null when there is no live session.
   */
  rotateSession(token: string): Promise<RotatedSession | null> {
    return this.#observer.run('rotateSession', this, this.#rotate, token, undefined);
  }

  async #rotate(token: string): Promise<RotatedSession | null> {
    const ref = tokenRef(this.#o.keyPrefix, token);
    if (ref === null) return null;
    const next = newToken(tagOfToken(token)!);
    const id = sessionIdOf(next);
    const reply = await this.#write(rotateCall(ref.key, ref.id, id, this.#conn.clock.latest()));
    const session = decodeValueReply(id, reply, this.#conn.clock.latest());
    return session === null ? null : { ...session, token: next };
  }

  /** Exact number of the user's live sessions. */
  countUserSessions(userId: string): Promise<number> {
    return this.#observer.run('countUserSessions', this.#reader, this.#reader.count, userId, undefined);
  }

  /** The user's live sessions (without tokens), soonest expiry first. */
  listUserSessions(userId: string): Promise<Session[]> {
    return this.#observer.run('listUserSessions', this.#reader, this.#reader.list, userId, undefined);
  }

  /**
   * Log out everywhere: destroys all of the user's sessions, except the one `except` opens (a
   * token of this user's). Returns how many live sessions were destroyed.
   */
  destroyUserSessions(userId: string, options: DestroyUserSessionsOptions = {}): Promise<number> {
    return this.#observer.run('destroyUserSessions', this, this.#destroyAll, userId, options);
  }

  async #destroyAll(userId: string, options: DestroyUserSessionsOptions): Promise<number> {
    const key = userKeyOf(this.#o.keyPrefix, userId);
    const destroyed = decodeCount(await this.#write(destroyAllCall(key, keptSessionId(userId, options))));
    if (destroyed > 0) this.#metrics?.userSessionsDestroyed.inc(destroyed);
    return destroyed;
  }

  /** Revokes one of the user's sessions by its public id (as listed). False when it is not live. */
  revokeSession(userId: string, sessionId: string): Promise<boolean> {
    return this.#observer.run('revokeSession', this, this.#revoke, userId, sessionId);
  }

  async #revoke(userId: string, sessionId: string): Promise<boolean> {
    const key = userKeyOf(this.#o.keyPrefix, userId);
    const id = requireString('sessionId', sessionId);
    if (!SESSION_ID_PATTERN.test(id)) return false;
    return decodeDestroy(await this.#write(destroyCall(key, id)), this.#conn.clock.latest());
  }

  /** Pings Redis within the time budget. Never throws. */
  async healthCheck(): Promise<HealthReport> {
    const report = await this.#conn.health();
    this.#metrics?.reachable(report.healthy);
    this.#metrics?.healthCheckSeconds.set(report.latencyMs / 1000);
    return report;
  }

  /** Closes the connections the store opened (not a client passed as `redis`). Idempotent. */
  async close(): Promise<void> {
    if (this.#conn.closed) return;
    this.#unwatch?.();
    this.#cache?.close();
    await this.#conn.close();
  }

  /** A write; with the cache on, this process's entries of the key are dropped around it. */
  #write(call: ScriptCall): Promise<unknown> {
    const sent = this.#conn.write(call);
    const cache = this.#cache;
    if (cache === undefined) return sent;
    // Dropped when sent (reads in flight from before cannot be stored) and again when answered
    // (a read that Redis ran before this write, on another connection, may have been stored since).
    const key = call.keys[0]!;
    cache.written(key);
    return sent.finally(() => cache.written(key));
  }
}
