import session, { type SessionData } from 'express-session';
import { RedisClock } from './clock.js';
import { ConfigurationError, InvalidInputError, classifyError } from './errors.js';
import { expressIndexKey, expressSessionKey, expressTombstoneKey } from './keys.js';
import { StoreMetrics, type ExpressOperation, type MetricsOptions } from './metrics.js';
import { Batches } from './transport/batch.js';
import { adapt, type IoredisClient, type NodeRedisClient, type RedisClient } from './transport/client.js';
import { Deadlines } from './transport/deadlines.js';
import { Scripts, type Request, type ScriptCall } from './transport/scripts.js';
import { validateUserId } from './validate.js';

export type { NodeRedisClient } from './transport/client.js';

/**
 * An express-session store (also used by @fastify/session), a drop-in for connect-redis 7/8:
 * same options, defaults, key layout (`prefix + sid`, the serializer's string, the same TTL
 * rules) and methods in promise and callback form. Beyond connect-redis: a logout can never be
 * undone by a request that still holds the old session, and with `userId` each write also keeps
 * a per-user index in the same script (count, list and log out everywhere).
 */

// express-session's callback shape: an error, or what the method yields.
type Callback<T> = (err: unknown, data?: T) => void;

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
  /** Prometheus metrics as the core store records them (operation label `express.*`), or false. Default: global registry. */
  metrics?: false | MetricsOptions;
}

type Sess = SessionData & { cookie?: { expires?: Date | string | null } };

/**
 * Whether `sid` can name a session here. ':' and braces are refused: with them a session key
 * could not be told from a longer prefix's key or the adapter's own (see keys.ts), and a brace
 * would move the cluster hash tag. express-session's and Fastify's generated ids are base64url.
 */
function isSid(sid: unknown): sid is string {
  return typeof sid === 'string' && sid.length > 0 && !/[:{}]/.test(sid);
}

/** A user tag as keys.ts makes it: 22 base64url characters. */
const USER_TAG = /^[A-Za-z0-9_-]{22}$/;

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

export class ExpressSessionStore extends session.Store {
  readonly client: IoredisClient | NodeRedisClient;
  readonly prefix: string;
  readonly scanCount: number;
  readonly serializer: Serializer;
  readonly ttl: number | ((sess: SessionData) => number);
  readonly disableTTL: boolean;
  readonly disableTouch: boolean;
  readonly userId: ((sess: SessionData) => string | undefined) | undefined;
  private readonly tombstoneMs: number;
  private readonly redis: RedisClient;
  private readonly scripts = new Scripts();
  private readonly batches = new Batches(this.scripts);
  private readonly deadlines: Deadlines;
  private readonly clock = new RedisClock();
  private readonly metrics: StoreMetrics | undefined;

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
    this.deadlines = new Deadlines(options.commandTimeout ?? 1000);
    this.metrics = options.metrics === false ? undefined : StoreMetrics.for(options.metrics);
    this.scripts.onReload = (script) => this.metrics?.scriptReloads.inc({ script });
  }

  override get(sid: string, cb?: Callback<SessionData | null>): Promise<SessionData | null> {
    return this.settle('express.get', cb, async () => {
      // No session can be stored under an id this store refuses to write.
      if (!isSid(sid)) return null;
      const raw = await this.command<string | null>('GET', this.key(sid));
      return raw === null ? null : await this.serializer.parse(raw);
    });
  }

  /**
   * Writes the session. Resolves (and calls back with) `false` when the write was refused because
   * the session was destroyed meanwhile; express-session and Fastify look only at the error.
   */
  override set(sid: string, sess: SessionData, cb?: Callback<void | false>): Promise<void | false> {
    return this.settle('express.set', cb, async () => {
      const ttl = this.disableTTL ? 0 : this.ttlOf(sess);
      // connect-redis: a TTL of zero or less deletes the session.
      if (!this.disableTTL && ttl <= 0) return this.destroyNow(sid, sess);
      const value = this.serializer.stringify(sess);
      const key = this.key(sid);
      const user = this.userOf(sess);
      const written = await this.run(
        user === undefined
          ? { script: 'expressSet', keys: [key, expressTombstoneKey(key)], args: [value, String(ttl)] }
          : {
              script: 'expressSetIndexed',
              keys: [key, expressTombstoneKey(key), this.indexKey(user)],
              args: [value, String(ttl), sid],
            },
      );
      return written === 1 ? undefined : false;
    });
  }

  override touch(sid: string, sess: SessionData, cb?: Callback<void>): Promise<void> {
    return this.settle('express.touch', cb, async () => {
      if (this.disableTouch || this.disableTTL) return;
      const ttl = this.ttlOf(sess);
      const key = this.key(sid);
      const user = this.userOf(sess);
      if (ttl <= 0) return this.destroyNow(sid, sess);
      if (user === undefined) await this.command('EXPIRE', key, String(ttl));
      else
        await this.run({ script: 'expressTouchIndexed', keys: [key, this.indexKey(user)], args: [String(ttl), sid] });
    });
  }

  override destroy(sid: string, cb?: Callback<void>): Promise<void> {
    return this.settle('express.destroy', cb, async () => {
      if (isSid(sid)) await this.destroyNow(sid, undefined);
    });
  }

  /**
   * Makes the store what a new one would be: deletes its sessions, their tombstones and its
   * per-user index keys (SCAN on every master; never another prefix's keys). A request in
   * flight meanwhile may still save its session back, as with connect-redis.
   */
  override clear(cb?: Callback<void>): Promise<void> {
    return this.settle('express.clear', cb, async () => {
      const [sessions, tombstones, indexes] = await Promise.all([
        this.scanKeys(),
        this.scanTombstones(),
        this.scanIndexes(),
      ]);
      const keys = [...sessions, ...tombstones, ...indexes];
      if (this.redis.isCluster) {
        // The keys hash to many slots: one DEL each, pipelined per master.
        const replies = await this.deadlines.bounded(
          this.batches.send(
            this.redis,
            keys.map((k): Request => ({ command: 'DEL', args: [k] })),
          ),
        );
        const failed = replies.find((r) => r instanceof Error);
        if (failed !== undefined) throw failed;
        return;
      }
      for (let i = 0; i < keys.length; i += 500)
        await this.command('DEL', ...(keys.slice(i, i + 500) as [string, ...string[]]));
    });
  }

  override length(cb?: Callback<number>): Promise<number> {
    return this.settle('express.length', cb, async () => (await this.scanKeys()).length);
  }

  ids(cb?: Callback<string[]>): Promise<string[]> {
    return this.settle('express.ids', cb, async () => (await this.scanKeys()).map((k) => k.slice(this.prefix.length)));
  }

  override all(cb?: Callback<(SessionData & { id: string })[]>): Promise<(SessionData & { id: string })[]> {
    return this.settle('express.all', cb, async () => this.loadKeys(await this.scanKeys()));
  }

  /** Live sessions of a user (needs `userId`). */
  countUserSessions(userId: string): Promise<number> {
    return this.settle('express.countUserSessions', undefined, async () => {
      this.requireIndex();
      const index = this.indexKey(validateUserId(userId));
      return Number(await this.command('ZCOUNT', index, `(${Math.ceil(await this.latest())}`, '+inf'));
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
    const calls: ScriptCall[] = sids.map((sid) => {
      const key = this.key(sid);
      return {
        script: 'expressDestroyIndexed',
        keys: [key, expressTombstoneKey(key), index],
        args: [String(this.tombstoneMs), sid],
      };
    });
    const replies = await this.deadlines.bounded(Promise.all(calls.map((c) => this.scripts.send(this.redis, c))));
    return replies.reduce<number>((n, r) => n + Number(r), 0);
  }

  private requireIndex(): void {
    if (this.userId === undefined) throw new ConfigurationError('userId', 'per-user operations need the userId option');
  }

  private async liveIds(user: string): Promise<string[]> {
    this.requireIndex();
    // Liveness on the Redis clock, as the scripts that write the index decide it.
    return this.command<string[]>('ZRANGEBYSCORE', this.indexKey(user), `(${Math.ceil(await this.latest())}`, '+inf');
  }

  /** The latest the Redis clock can read now (sampled with TIME on first use and every 30 s). */
  private async latest(): Promise<number> {
    if (this.clock.stale()) await this.clock.sample(this.redis, (p) => this.deadlines.bounded(p));
    return this.clock.latest();
  }

  private async destroyNow(sid: string, sess: SessionData | undefined): Promise<void> {
    const key = this.key(sid);
    let session = sess;
    if (session === undefined && this.userId !== undefined) {
      // destroy(sid) gets no session: read it to find its user's index.
      const raw = await this.command<string | null>('GET', key);
      if (raw !== null) session = await this.serializer.parse(raw);
    }
    const user = session === undefined ? undefined : this.userOf(session);
    await this.run(
      user === undefined
        ? { script: 'expressDestroy', keys: [key, expressTombstoneKey(key)], args: [String(this.tombstoneMs)] }
        : {
            script: 'expressDestroyIndexed',
            keys: [key, expressTombstoneKey(key), this.indexKey(user)],
            args: [String(this.tombstoneMs), sid],
          },
    );
  }

  private async loadKeys(keys: string[]): Promise<(SessionData & { id: string })[]> {
    if (keys.length === 0) return [];
    // One MGET on one server; on a Cluster, GETs pipelined per master (keys hash to many slots).
    const values = this.redis.isCluster
      ? await this.deadlines.bounded(
          this.batches.send(
            this.redis,
            keys.map((k): Request => ({ command: 'GET', args: [k] })),
          ),
        )
      : await this.command<(string | null)[]>('MGET', ...(keys as [string, ...string[]]));
    const out: (SessionData & { id: string })[] = [];
    for (let i = 0; i < keys.length; i++) {
      const raw = values[i];
      if (raw instanceof Error) throw raw;
      if (typeof raw !== 'string') continue;
      const data = (await this.serializer.parse(raw)) as SessionData & { id: string };
      data.id = keys[i]!.slice(this.prefix.length);
      out.push(data);
    }
    return out;
  }

  /** Session keys: under the prefix, with a valid sid after it (a longer prefix's keys leave a ':'). */
  private scanKeys(): Promise<string[]> {
    const prefix = this.prefix;
    return this.scan(`${globEscape(prefix)}*`, (k) => isSid(k.slice(prefix.length)));
  }

  /** This prefix's tombstones, `{<prefix><sid>}:destroyed`. */
  private scanTombstones(): Promise<string[]> {
    const prefix = this.prefix;
    const open = `{${prefix}`;
    const close = '}:destroyed';
    return this.scan(`${globEscape(open)}*${globEscape(close)}`, (k) =>
      isSid(k.slice(open.length, k.length - close.length)),
    );
  }

  /** This prefix's per-user index keys, `{<userTag>}:<prefix>by-user`. */
  private scanIndexes(): Promise<string[]> {
    const tail = `}:${this.prefix}by-user`;
    return this.scan(`{*${globEscape(tail)}`, (k) => k.length === 23 + tail.length && USER_TAG.test(k.slice(1, 23)));
  }

  /** Keys matching `pattern` that `keep` accepts, by SCAN on every master (never KEYS). */
  private async scan(pattern: string, keep: (key: string) => boolean): Promise<string[]> {
    const found = new Set<string>();
    for (const node of this.redis.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await this.deadlines.bounded(
          node.send('SCAN', [cursor, 'MATCH', pattern, 'COUNT', String(this.scanCount)]) as Promise<[string, string[]]>,
        );
        cursor = next;
        for (const k of keys) if (keep(k)) found.add(k);
      } while (cursor !== '0');
    }
    return [...found];
  }

  private key(sid: string): string {
    if (!isSid(sid)) {
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

  private userOf(sess: SessionData): string | undefined {
    if (this.userId === undefined) return undefined;
    const user = this.userId(sess);
    return user === undefined ? undefined : validateUserId(user, 'userId(session)');
  }

  // connect-redis's rule: the cookie's expiry rounded up to seconds, else the ttl option.
  private ttlOf(sess: SessionData): number {
    if (typeof this.ttl === 'function') return this.ttl(sess);
    const expires = (sess as Sess).cookie?.expires;
    if (expires) return Math.ceil((Number(new Date(expires)) - Date.now()) / 1000);
    return this.ttl;
  }

  private run(call: ScriptCall): Promise<unknown> {
    return this.deadlines.bounded(this.scripts.send(this.redis, call));
  }

  private command<T>(name: string, key: string, ...args: string[]): Promise<T> {
    return this.deadlines.bounded(this.redis.send(name, [key, ...args]) as Promise<T>);
  }

  // Promise and callback forms. With a callback the error goes to it and the returned promise
  // does not reject: express-session ignores it, and a rejection would be unhandled.
  private settle<T>(operation: ExpressOperation, cb: Callback<T> | undefined, work: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const metrics = this.metrics;
    const promise = work().then(
      (value) => {
        metrics?.observe(operation, started, value);
        return value;
      },
      (err: unknown) => {
        const typed = classifyError(err);
        metrics?.observe(operation, started, undefined, typed);
        throw typed;
      },
    );
    if (!cb) return promise;
    return promise.then(
      (value) => {
        cb(null, value);
        return value;
      },
      (err: unknown) => {
        cb(err);
        return undefined as T;
      },
    );
  }
}
