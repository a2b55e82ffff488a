import { freeze, SessionCache } from './cache/session-cache.js';
import { RedisClock } from './clock.js';
import { decodeHeader, decodeSession } from './codec.js';
import { resolveOptions, type ResolvedOptions } from './config/resolve.js';
import { MAX_TTL_SECONDS, type StoreEnv, type StoreOptions } from './config/options.js';
import { classifyError, ConfigurationError, InvalidInputError, StoreClosedError } from './errors.js';
import { newToken, SESSION_ID_PATTERN, sessionIdOf, tagOfToken, userKey, userTag } from './keys.js';
import { libraryVersion, type ScriptName } from './lua.generated.js';
import { instrument, StoreMetrics } from './metrics.js';
import {
  allCommand,
  countCommands,
  decodeAll,
  decodeFastCount,
  decodeGet,
  decodeTtl,
  getCommand,
  ttlSeconds,
  getManyCommand,
  liveValue,
} from './ops/reads.js';
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
  touchCall,
} from './ops/writes.js';
import { redactedOptions, type StoreSettings } from './settings.js';
import { StoreTracing } from './tracing.js';
import { Batches } from './transport/batch.js';
import { adapt, isIoredis, type RedisClient } from './transport/client.js';
import { callerClientReady, checkCallerClient, connectBudget, openClients, preflight } from './transport/connection.js';
import { Deadlines } from './transport/deadlines.js';
import { Replication } from './transport/replication.js';
import { Scripts, type Request, type ScriptCall } from './transport/scripts.js';
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
import { encodeMetadata, encodePatch, encodeUser, requireString, validateTtl, validateUserId } from './validate.js';

/** Most tokens one `getSessions` call takes. */
export const MAX_BATCH = 10_000;

/** A token's session: its user's key and its public id. */
interface TokenRef {
  key: string;
  id: string;
}

/**
 * Server-side sessions in Redis. Every write is one Lua script in one round trip on one key;
 * every read is plain commands. Bad input throws `InvalidInputError` before any I/O; Redis being
 * down or hung rejects with `StoreUnavailableError` (or its subclass `StoreTimeoutError`), never
 * with a "not found" answer.
 */
export class RedisSessionStore {
  // Private fields (#): neither util.inspect nor JSON.stringify shows them, so a logged store
  // cannot leak the Redis password its options and clients hold.
  readonly #o: ResolvedOptions;
  readonly #clients: readonly RedisClient[];
  /** With waitForReplicas, writes go on their own connection: WAIT blocks the one it is sent on. */
  readonly #writer: RedisClient | undefined;
  readonly #owns: boolean;
  readonly #deadlines: Deadlines;
  readonly #scripts = new Scripts();
  readonly #batches: Batches;
  readonly #replication: Replication | undefined;
  readonly #clock = new RedisClock();
  readonly #metrics: StoreMetrics | undefined;
  readonly #bounded: <T>(p: Promise<T>) => Promise<T>;
  readonly #unsubscribe: (() => void)[] = [];
  #cache: SessionCache | undefined;
  #tracing: StoreTracing | undefined;
  #reloadListener: ((script: ScriptName) => void) | undefined;
  #next = 0;
  #closed = false;

  private constructor(
    clients: readonly RedisClient[],
    writer: RedisClient | undefined,
    owns: boolean,
    options: ResolvedOptions,
  ) {
    this.#o = options;
    this.#clients = clients;
    this.#writer = writer;
    this.#owns = owns;
    this.#deadlines = new Deadlines(options.commandTimeout);
    this.#bounded = (p) => this.#deadlines.bounded(p);
    this.#batches = new Batches(this.#scripts);
    this.#replication =
      options.waitForReplicas === undefined ? undefined : new Replication(this.#scripts, options.waitForReplicas);
    this.#metrics = options.metrics === false ? undefined : StoreMetrics.for(options.metrics);
    this.#scripts.onReload = (script) => {
      this.#metrics?.scriptReloads.inc({ script });
      this.#reloadListener?.(script);
    };
    // getSession times itself (see there).
    if (this.#metrics !== undefined) instrument(this, this.#metrics, ['getSession']);
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
    const given = options.redis;
    if (given !== undefined) {
      checkCallerClient(given);
      if (isIoredis(given)) await callerClientReady(given, resolved);
    }
    const confirmed = resolved.waitForReplicas !== undefined;
    const drivers =
      given !== undefined ? [given] : await openClients(resolved, resolved.maxConnections + (confirmed ? 1 : 0));
    const clients = drivers.map(adapt);
    const writer = !confirmed ? undefined : given !== undefined ? clients[0] : clients.pop();
    const store = new RedisSessionStore(clients, writer, given === undefined, resolved);
    // Outermost, around the metrics: a span covers everything the call does.
    store.#tracing = await StoreTracing.load(resolved.tracing, libraryVersion);
    store.#tracing?.wrap(store);
    try {
      await preflight(clients[0]!, resolved.logger, store.#bounded);
      await Promise.all(store.#connections().map((c) => store.#bounded(store.#scripts.preload(c))));
      await store.#clock.sample(clients[0]!, store.#bounded);
      if (resolved.cache !== undefined) {
        const driver = drivers[0];
        if (!isIoredis(driver)) throw new ConfigurationError('cache', 'needs an ioredis client');
        // Opening its links is connecting (two connections per master): the connect budget applies.
        const connecting = new Deadlines(connectBudget(resolved));
        const cache = await SessionCache.open(driver, clients[0]!, store.#clock, resolved.cache, (p) =>
          connecting.bounded(p),
        );
        store.#cache = cache;
        if (store.#metrics !== undefined) store.#unsubscribe.push(store.#metrics.watchCache(cache.entries));
      }
      store.#watch();
    } catch (err) {
      await store.close();
      throw classifyError(err);
    }
    return store;
  }

  /** The resolved settings, without credentials (safe to log). */
  get options(): StoreSettings {
    return redactedOptions(this.#o);
  }

  /** Called with the script name after each NOSCRIPT reload (also counted in the metrics). */
  set onScriptReload(fn: ((script: ScriptName) => void) | undefined) {
    this.#reloadListener = fn;
  }

  /**
   * Creates a session for `user` and returns it with its token. With `maxSessionsPerUser`, the
   * user's least recently used sessions beyond the cap are evicted in the same step
   * (`evictedSessionIds`).
   */
  async createSession(user: AuthUser, options: CreateSessionOptions = {}): Promise<CreatedSession> {
    const o = this.#o;
    const encodedUser = encodeUser(user, o.maxUserBytes);
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
    const ttl = options.ttl === undefined ? o.defaultTtl : validateTtl(options.ttl, o.absoluteTtl || MAX_TTL_SECONDS);
    const metadataJson = encodeMetadata(options.metadata, o.maxMetadataBytes);

    const tag = userTag(encodedUser.id);
    const token = newToken(tag);
    const id = sessionIdOf(token);
    // createdAt is a time that has surely passed on the Redis clock: a create that lands late
    // (re-sent after a reconnect) only ends sooner, never past its absolute TTL.
    const header = newHeader(this.#clock.earliest(), ttl, o.absoluteTtl);
    const call = createCall({
      key: userKey(o.keyPrefix, tag),
      id,
      header,
      maxSessionsPerUser: o.maxSessionsPerUser,
      metadataJson,
      userJson: encodedUser.json,
    });
    // The stored data is what was just validated: only the header is read back, when the id
    // was already live.
    const { header: stored, evicted } = decodeCreate(await this.#write(call), header);
    const [expiresAt, createdAt, lastAccessedAt] = stored;
    return {
      id,
      userId: encodedUser.id,
      user: JSON.parse(encodedUser.json) as AuthUser,
      createdAt,
      lastAccessedAt,
      expiresAt,
      metadata: options.metadata === undefined ? {} : { ...options.metadata },
      token,
      evictedSessionIds: evicted,
    };
  }

  /** The live session a token opens, or null (unknown, expired, destroyed, or not a token). */
  getSession(token: string): Promise<Session | null> {
    // Not async, and timed here rather than by the metrics wrapper: a cache hit settles without
    // a promise layer of its own. Input errors still reject, not throw.
    const metrics = this.#metrics;
    const started = performance.now();
    let result: Session | null | Promise<Session | null>;
    try {
      result = this.#get(token, started);
    } catch (err) {
      const typed = classifyError(err);
      metrics?.failed('getSession', started, typed);
      return Promise.reject(typed);
    }
    if (!(result instanceof Promise)) {
      metrics?.done('getSession', started, result);
      return Promise.resolve(result);
    }
    if (metrics === undefined) return result;
    return result.then(
      (session) => {
        metrics.done('getSession', started, session);
        return session;
      },
      (err: unknown) => {
        metrics.failed('getSession', started, err);
        throw err;
      },
    );
  }

  /** getSession's work: a value when it needs no I/O (not a token, a cache hit), else a promise. */
  #get(token: string, at: number): Session | null | Promise<Session | null> {
    const ref = this.#ref(token);
    if (ref === null) return null;
    this.#assertOpen();
    const client = this.#client();
    this.#clock.refresh(client, this.#bounded, at);
    const { key, id } = ref;
    const cache = this.#cache;
    if (cache !== undefined) {
      const hit = cache.hit(key, id, at);
      this.#tracing?.cacheHit(hit !== undefined);
      if (hit !== undefined) return this.#rolled(key, hit, client);
      const loaded = cache.load(key, [id]);
      if (loaded !== undefined) return this.#bounded(loaded).then(([s]) => this.#rolled(key, s!, client));
    }
    return this.#deadlines.boundedMap(client.send('HGET', [key, id]), (value) => this.#opened(key, id, value, client));
  }

  /** Many sessions in one pipelined round trip; results in input order, null where absent. */
  async getSessions(tokens: readonly string[]): Promise<(Session | null)[]> {
    if (!Array.isArray(tokens)) throw new InvalidInputError('tokens', 'expected an array of strings');
    if (tokens.length > MAX_BATCH) throw new InvalidInputError('tokens', `at most ${MAX_BATCH} per call`);
    const refs = tokens.map((t, i) => this.#ref(t, `tokens[${i}]`));
    this.#assertOpen();
    const client = this.#client();
    const now = performance.now(); // one clock reading for the whole batch
    this.#clock.refresh(client, this.#bounded, now);
    const cache = this.#cache;
    const sessions: (Session | null | Promise<Session | null>)[] = new Array<Session | null>(tokens.length).fill(null);
    // One command per user: the tokens of one user fold into one HMGET.
    const byKey = new Map<string, number[]>();
    let hits = 0;
    refs.forEach((ref, i) => {
      if (ref === null) return;
      const hit = cache?.hit(ref.key, ref.id, now);
      if (hit !== undefined) {
        hits++;
        return void (sessions[i] = this.#rolled(ref.key, hit, client));
      }
      const at = byKey.get(ref.key);
      if (at === undefined) byKey.set(ref.key, [i]);
      else at.push(i);
    });
    if (cache !== undefined) this.#tracing?.cacheHits(hits);
    const cached: Promise<void>[] = [];
    const uncached: [string, number[]][] = [];
    for (const [key, at] of byKey) {
      const loaded = cache?.load(
        key,
        at.map((i) => refs[i]!.id),
      );
      if (loaded === undefined) uncached.push([key, at]);
      else
        cached.push(
          loaded.then((found) => {
            for (let k = 0; k < at.length; k++) sessions[at[k]!] = this.#rolled(key, found[k]!, client);
          }),
        );
    }
    const requests: Request[] = uncached.map(([key, at]) =>
      at.length === 1
        ? getCommand(key, refs[at[0]!]!.id)
        : getManyCommand(
            key,
            at.map((i) => refs[i]!.id),
          ),
    );
    const [replies] = await this.#bounded(Promise.all([this.#batches.send(client, requests), ...cached]));
    uncached.forEach(([key, at], g) => {
      const reply = replies[g];
      if (reply instanceof Error) throw reply;
      at.forEach((i, k) => {
        const value = at.length === 1 ? reply : (reply as unknown[])[k];
        sessions[i] = this.#opened(key, refs[i]!.id, value, client);
      });
    });
    // Only rolling touches are still in flight.
    return this.#o.rolling ? Promise.all(sessions.map((s) => Promise.resolve(s))) : (sessions as (Session | null)[]);
  }

  /**
   * Extends a live session: expires `ttl` seconds from now (default: its own idle TTL, which
   * `ttl` also replaces), never past the absolute deadline. False when there is no live session.
   */
  async refreshSession(token: string, ttl?: number): Promise<boolean> {
    const seconds = ttl === undefined ? 0 : validateTtl(ttl, this.#o.absoluteTtl || MAX_TTL_SECONDS);
    const ref = this.#ref(token);
    if (ref === null) return false;
    return decodeRefresh(await this.#write(refreshCall(ref.key, ref.id, seconds)));
  }

  /** Destroys the session a token opens (logout). False when there was no live session. */
  async destroySession(token: string): Promise<boolean> {
    const ref = this.#ref(token);
    if (ref === null) return false;
    return decodeDestroy(await this.#write(destroyCall(ref.key, ref.id)), this.#clock.latest());
  }

  /**
   * Sets (string) or removes (null) metadata keys of a live session, atomically and key by key.
   * False when there is no live session. Throws InvalidInputError when the result would exceed
   * `maxMetadataBytes` (nothing is written).
   */
  async updateSessionMetadata(token: string, patch: MetadataPatch): Promise<boolean> {
    const max = this.#o.maxMetadataBytes;
    const json = encodePatch(patch, max);
    const ref = this.#ref(token);
    if (ref === null) return false;
    return decodeMetadata(await this.#write(metadataCall(ref.key, ref.id, json, max, this.#clock.latest())), max);
  }

  /** Whole seconds until the session expires (rounded up), or null when there is no live session. */
  async getSessionTtl(token: string): Promise<number | null> {
    const ref = this.#ref(token);
    if (ref === null) return null;
    const cache = this.#cache;
    if (cache !== undefined) {
      this.#assertOpen();
      const hit = cache.hit(ref.key, ref.id);
      this.#tracing?.cacheHit(hit !== undefined);
      const found = hit ?? (await this.#loaded(cache, ref));
      if (found !== undefined) return found === null ? null : ttlSeconds(found.expiresAt, this.#clock.latest());
    }
    const value = await this.#read(getCommand(ref.key, ref.id));
    return decodeTtl(value, this.#clock.latest());
  }

  /**
   * Moves a live session to a new token (do it after login or privilege change). The old token
   * stops working in the same step. Null when there is no live session.
   */
  async rotateSession(token: string): Promise<RotatedSession | null> {
    const ref = this.#ref(token);
    if (ref === null) return null;
    const next = newToken(token.slice(0, token.indexOf('.')));
    const id = sessionIdOf(next);
    const sent = rotateCall(ref.key, ref.id, id, this.#clock.latest());
    const session = decodeValueReply(id, await this.#write(sent), this.#clock.latest());
    return session === null ? null : { ...session, token: next };
  }

  /** Exact number of the user's live sessions. */
  async countUserSessions(userId: string): Promise<number> {
    const key = this.#userKey(userId);
    this.#assertOpen();
    const client = this.#client();
    const [fields, meta] = await this.#bounded(this.#batches.send(client, countCommands(key)));
    if (fields instanceof Error) throw fields;
    if (meta instanceof Error) throw meta;
    const fast = decodeFastCount(fields, meta, this.#clock.latest());
    if (fast !== null) return fast;
    // Some session may have expired since the user's last create: look at each one.
    const all = await this.#read(allCommand(key));
    return decodeAll(all, this.#clock.latest()).length;
  }

  /** The user's live sessions (without tokens), soonest expiry first. */
  async listUserSessions(userId: string): Promise<Session[]> {
    const key = this.#userKey(userId);
    return decodeAll(await this.#read(allCommand(key)), this.#clock.latest());
  }

  /**
   * Log out everywhere: destroys all of the user's sessions, except the one `except` opens (a
   * token of this user's). Returns how many live sessions were destroyed.
   */
  async destroyUserSessions(userId: string, options: DestroyUserSessionsOptions = {}): Promise<number> {
    const key = this.#userKey(userId);
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
    let keep = '';
    if (options.except !== undefined) {
      const except = requireString('options.except', options.except);
      // Keeping a session the caller cannot name would destroy everything: refuse instead.
      if (tagOfToken(except) !== userTag(userId))
        throw new InvalidInputError('options.except', "is not a token of this user's");
      keep = sessionIdOf(except);
    }
    if (options.exceptSessionId !== undefined) {
      if (keep !== '') throw new InvalidInputError('options', 'give except or exceptSessionId, not both');
      keep = requireString('options.exceptSessionId', options.exceptSessionId);
      if (!SESSION_ID_PATTERN.test(keep)) throw new InvalidInputError('options.exceptSessionId', 'is not a session id');
    }
    return decodeCount(await this.#write(destroyAllCall(key, keep)));
  }

  /** Revokes one of the user's sessions by its public id (as listed). False when it is not live. */
  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    const key = this.#userKey(userId);
    const id = requireString('sessionId', sessionId);
    if (!SESSION_ID_PATTERN.test(id)) return false;
    return decodeDestroy(await this.#write(destroyCall(key, id)), this.#clock.latest());
  }

  /** Pings Redis within the time budget. Never throws. */
  async healthCheck(): Promise<HealthReport> {
    const started = performance.now();
    let report: HealthReport;
    try {
      this.#assertOpen();
      await this.#bounded(this.#client().send('PING', []));
      report = { healthy: true, latencyMs: performance.now() - started, checkedAt: Date.now() };
    } catch (err) {
      report = {
        healthy: false,
        latencyMs: performance.now() - started,
        checkedAt: Date.now(),
        error: classifyError(err).code,
      };
    }
    this.#metrics?.reachable(report.healthy);
    this.#metrics?.healthCheckSeconds.set(report.latencyMs / 1000);
    return report;
  }

  /** Closes the connections the store opened (not a client passed as `redis`). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe.forEach((stop) => stop());
    this.#cache?.close();
    if (!this.#owns) return;
    await Promise.all(this.#connections().map((c) => c.close()));
  }

  /** After every reconnect the clock offset is measured again (a failover may bring another server's clock). */
  #watch(): void {
    for (const client of this.#connections()) {
      this.#unsubscribe.push(
        client.onLifecycle((event) => {
          if (event === 'topology') this.#cache?.topologyChanged();
          if (event !== 'close' && !this.#closed) this.#clock.sample(client, this.#bounded).catch(() => undefined);
        }),
      );
    }
  }

  /** What a read found: the live session, after the rolling touch when one is due. */
  #opened(key: string, id: string, value: unknown, client: RedisClient): Session | null | Promise<Session | null> {
    const o = this.#o;
    if (!o.rolling) return this.#out(decodeGet(id, value, this.#clock.latest()));
    const live = liveValue(value, this.#clock.latest());
    if (live === null) return null;
    if (this.#clock.now() - decodeHeader(live)[2] < o.touchAfterMs) return this.#out(decodeSession(id, live));
    return this.#touch(key, id, client);
  }

  /** A session the cache found (or null): after the rolling touch when one is due. */
  #rolled(key: string, session: Session | null, client: RedisClient): Session | null | Promise<Session | null> {
    const o = this.#o;
    if (session === null || !o.rolling || this.#clock.now() - session.lastAccessedAt < o.touchAfterMs) return session;
    return this.#touch(key, session.id, client);
  }

  /** A rolling touch: a best-effort write, not confirmed with WAIT even under waitForReplicas. */
  #touch(key: string, id: string, client: RedisClient): Promise<Session | null> {
    const cache = this.#cache;
    const sent = this.#bounded(this.#scripts.send(client, touchCall(key, id, this.#o.touchAfterMs)));
    if (cache === undefined) return sent.then((v) => decodeValueReply(id, v));
    cache.written(key);
    return sent.finally(() => cache.written(key)).then((v) => this.#out(decodeValueReply(id, v)));
  }

  /** With the cache on, every session read back has a frozen user and metadata, cached or not. */
  #out<T extends Session | null>(session: T): T {
    if (session !== null && this.#cache !== undefined) freeze(session);
    return session;
  }

  /** A session loaded through the cache, or undefined when the cache cannot serve now. */
  async #loaded(cache: SessionCache, ref: TokenRef): Promise<Session | null | undefined> {
    const loaded = cache.load(ref.key, [ref.id]);
    return loaded === undefined ? undefined : (await this.#bounded(loaded))[0];
  }

  /** Every client the store uses, each once (a caller's client may be both reader and writer). */
  #connections(): RedisClient[] {
    const writer = this.#writer;
    return writer === undefined || this.#clients.includes(writer) ? [...this.#clients] : [...this.#clients, writer];
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  #client(): RedisClient {
    const clients = this.#clients;
    if (clients.length === 1) return clients[0]!;
    this.#next = (this.#next + 1) % clients.length;
    return clients[this.#next]!;
  }

  #read(request: Request): Promise<unknown> {
    this.#assertOpen();
    const client = this.#client();
    this.#clock.refresh(client, this.#bounded);
    return this.#bounded(this.#scripts.send(client, request));
  }

  /** A write: with `waitForReplicas`, it resolves only once replicas confirm it. */
  #write(call: ScriptCall): Promise<unknown> {
    this.#assertOpen();
    const replication = this.#replication;
    const sent =
      replication === undefined
        ? this.#bounded(this.#scripts.send(this.#client(), call))
        : this.#bounded(replication.write(this.#writer!, call, this.#client()));
    const cache = this.#cache;
    if (cache === undefined) return sent;
    // Dropped when sent (reads in flight from before cannot be stored) and again when answered
    // (a read that Redis ran before this write, on another connection, may have been stored since).
    const key = call.keys[0]!;
    cache.written(key);
    return sent.finally(() => cache.written(key));
  }

  #ref(token: unknown, name = 'token'): TokenRef | null {
    const tag = tagOfToken(requireString(name, token));
    if (tag === null) return null;
    return { key: userKey(this.#o.keyPrefix, tag), id: sessionIdOf(token as string) };
  }

  #userKey(userId: unknown): string {
    return userKey(this.#o.keyPrefix, userTag(validateUserId(userId)));
  }
}
