import { freeze, type SessionCache } from './cache/session-cache.js';
import type { Connections } from './connections.js';
import { InvalidInputError } from './errors.js';
import { sessionIdOf, tagOfFoundToken, tagOfToken, TOKEN_LENGTH, userKey, userTag } from './keys.js';
import type { Observer } from './observe.js';
import {
  allCommand,
  countCommands,
  decodeAll,
  decodeFastCount,
  decodeMany,
  decodeReadSessions,
  decodeTtl,
  getCommand,
  getManyCommand,
  openValue,
  readSessionsCall,
  TOUCH_DUE,
  ttlSeconds,
  type Opened,
} from './ops/reads.js';
import { decodeValueReply, touchCall } from './ops/writes.js';
import type { RedisClient } from './transport/client.js';
import type { Request } from './transport/scripts.js';
import type { Session } from './types.js';
import { requireString, validateUserId } from './validate.js';

/** A token's session: its user's key and its public id. */
export interface TokenRef {
  readonly key: string;
  readonly id: string;
}

/** Where a token's session lives, or null when the string is not a token (a type error throws). */
export function tokenRef(prefix: string, token: unknown, name = 'token'): TokenRef | null {
  const tag = tagOfToken(requireString(name, token));
  if (tag === null) return null;
  return { key: userKey(prefix, tag), id: sessionIdOf(token as string) };
}

/** The key of a user's sessions; a bad user id throws InvalidInputError. */
export function userKeyOf(prefix: string, userId: unknown): string {
  return userKey(prefix, userTag(validateUserId(userId)));
}

/** Most tokens one `getSessions` call takes. */
export const MAX_BATCH = 10_000;

/** What reads are configured by. */
export interface ReadSettings {
  keyPrefix: string;
  rolling: boolean;
  /** With rolling, ms between two touches of one session. */
  touchAfterMs: number;
}

/**
 * The read path: plain commands built and decoded in `ops/reads.ts`, or the session cache when
 * it is on, and the rolling touch a read may owe. Returns a value where no I/O is needed (a
 * cache hit without a touch due), else a promise: a hit settles without a promise layer.
 */
export class SessionReader {
  constructor(
    private readonly conn: Connections,
    private readonly settings: ReadSettings,
    private readonly observer: Observer,
    private readonly cache: SessionCache | undefined,
  ) {}

  /** The live session a token opens, or null; a value when no I/O was needed. `at` is the call's clock reading. */
  get(token: string, _options?: undefined, at = performance.now()): Session | null | Promise<Session | null> {
    const cache = this.cache;
    if (cache === undefined || typeof token !== 'string' || token.length !== TOKEN_LENGTH) {
      const ref = tokenRef(this.settings.keyPrefix, token);
      return ref === null ? null : this.#read(ref.key, ref.id, this.conn.client(at));
    }
    // The cache is asked first, by the id alone: the id is a digest of the whole token, so only
    // the token a session was read with finds it, and a hit needs neither the pattern check nor
    // the key (they were a fifth of a hit's CPU). The key is built for a touch when one is due.
    const client = this.conn.client(at);
    const id = sessionIdOf(token);
    const hit = cache.hit(id, at);
    if (hit !== undefined) {
      this.observer.cacheHit(true);
      if (!this.#touchDue(hit, at)) return hit;
      return this.#touch(userKey(this.settings.keyPrefix, tagOfFoundToken(token)), id, client);
    }
    const tag = tagOfToken(token);
    if (tag === null) return null;
    this.observer.cacheHit(false);
    const key = userKey(this.settings.keyPrefix, tag);
    const loaded = cache.load(key, [id]);
    if (loaded !== undefined) return this.conn.bounded(loaded).then(([s]) => this.#rolled(key, s!, client));
    return this.#read(key, id, client);
  }

  /** An uncached read of one session. */
  #read(key: string, id: string, client: RedisClient): Promise<Session | null> {
    const request = getCommand(key, id);
    return this.conn.deadlines.boundedMap(client.send(request.command, request.args), (value) =>
      this.#opened(key, id, value, client),
    );
  }

  /** Many sessions in one pipelined round trip, in input order; null where absent or not a token. */
  getMany(tokens: readonly string[]): Promise<(Session | null)[]> {
    if (!Array.isArray(tokens)) throw new InvalidInputError('tokens', 'expected an array of strings');
    if (tokens.length > MAX_BATCH) throw new InvalidInputError('tokens', `at most ${MAX_BATCH} per call`);
    const prefix = this.settings.keyPrefix;
    const refs = new Array<TokenRef | null>(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const token: unknown = tokens[i];
      // The argument's name is built only for the error: not a string per token.
      refs[i] = tokenRef(prefix, typeof token === 'string' ? token : requireString(`tokens[${i}]`, token));
    }
    this.observer.batch(tokens.length);
    const now = performance.now(); // one clock reading for the whole batch
    const client = this.conn.client(now);
    const cache = this.cache;
    const sessions: (Session | null | Promise<Session | null>)[] = new Array<Session | null>(refs.length).fill(null);
    // One command per user: the tokens of one user fold into one HMGET.
    const byKey = new Map<string, number[]>();
    let hits = 0;
    for (let i = 0; i < refs.length; i++) {
      const ref = refs[i]!;
      if (ref === null) continue;
      const hit = cache?.hit(ref.id, now);
      if (hit !== undefined) {
        hits++;
        sessions[i] = this.#rolled(ref.key, hit, client, now);
        continue;
      }
      const at = byKey.get(ref.key);
      if (at === undefined) byKey.set(ref.key, [i]);
      else at.push(i);
    }
    if (cache !== undefined) this.observer.cacheHits(hits);
    const cached: Promise<void>[] = [];
    const uncached: number[][] = [];
    const groups: [string, string[]][] = [];
    for (const [key, at] of byKey) {
      // The ids of one user, listed once: for the cache's read, or for the command.
      const ids = at.length === 1 ? [refs[at[0]!]!.id] : at.map((i) => refs[i]!.id);
      const loaded = cache?.load(key, ids);
      if (loaded === undefined) {
        uncached.push(at);
        groups.push([key, ids]);
      } else
        cached.push(
          loaded.then((found) => {
            for (let k = 0; k < at.length; k++) sessions[at[k]!] = this.#rolled(key, found[k]!, client);
          }),
        );
    }
    return this.conn.bounded(Promise.all([this.#readMany(client, groups), ...cached])).then(([values]) => {
      // One reading of the clock for every value of the batch, as for the cache's hits.
      const latest = this.conn.clock.latest();
      const touchDueAt = this.#touchDueAt();
      let v = 0;
      for (let g = 0; g < uncached.length; g++) {
        const at = uncached[g]!;
        const key = groups[g]![0];
        for (let k = 0; k < at.length; k++) {
          const i = at[k]!;
          sessions[i] = this.#openedAt(key, refs[i]!.id, values[v++], client, latest, touchDueAt);
        }
      }
      // Only rolling touches are still in flight.
      return this.settings.rolling
        ? Promise.all(sessions.map((s) => Promise.resolve(s)))
        : (sessions as (Session | null)[]);
    });
  }

  /**
   * The values of each group's ids, flat: the first group's ids, then the second's, and so on.
   * Several users on one server in one script (a command per user key costs the client more:
   * measured in bench:cpu), else one HMGET (or HGET) per user, pipelined per master; on a
   * Cluster the keys hash to many slots, so always the latter.
   */
  async #readMany(client: RedisClient, groups: readonly [string, string[]][]): Promise<readonly unknown[]> {
    if (groups.length > 1 && !client.isCluster) {
      const call = readSessionsCall(groups);
      return decodeReadSessions(await this.conn.scripts.send(client, call), call.total);
    }
    const requests: Request[] = groups.map(([key, ids]) =>
      ids.length === 1 ? getCommand(key, ids[0]!) : getManyCommand(key, ids),
    );
    const replies = await this.conn.batches.send(client, requests);
    const values: unknown[] = [];
    replies.forEach((reply, g) => {
      if (reply instanceof Error) throw reply;
      const count = groups[g]![1].length;
      if (count === 1) values.push(reply);
      else values.push(...decodeMany(reply, count));
    });
    return values;
  }

  /** Whole seconds until the session expires (rounded up), or null when there is none live. */
  ttl(token: string): Promise<number | null> | null {
    const ref = tokenRef(this.settings.keyPrefix, token);
    return ref === null ? null : this.#ttl(ref);
  }

  async #ttl(ref: TokenRef): Promise<number | null> {
    const cache = this.cache;
    const clock = this.conn.clock;
    if (cache !== undefined) {
      this.conn.assertOpen();
      const hit = cache.hit(ref.id);
      this.observer.cacheHit(hit !== undefined);
      const found = hit ?? (await this.#loaded(cache, ref));
      if (found !== undefined) return found === null ? null : ttlSeconds(found.expiresAt, clock.latest());
    }
    return decodeTtl(await this.conn.send(getCommand(ref.key, ref.id)), clock.latest());
  }

  /** Exact number of the user's live sessions. */
  async count(userId: string): Promise<number> {
    const key = userKeyOf(this.settings.keyPrefix, userId);
    const [fields, meta] = await this.conn.batch(this.conn.client(), countCommands(key));
    if (fields instanceof Error) throw fields;
    if (meta instanceof Error) throw meta;
    const fast = decodeFastCount(fields, meta, this.conn.clock.latest());
    if (fast !== null) return fast;
    // Some session may have expired since the user's last create: look at each one.
    return (await this.#list(key)).length;
  }

  /** The user's live sessions (without tokens), soonest expiry first. */
  list(userId: string): Promise<Session[]> {
    return this.#list(userKeyOf(this.settings.keyPrefix, userId));
  }

  async #list(key: string): Promise<Session[]> {
    return decodeAll(await this.conn.send(allCommand(key)), this.conn.clock.latest());
  }

  /** What a read found: the live session, after the rolling touch when one is due. */
  #opened(key: string, id: string, value: unknown, client: RedisClient): Session | null | Promise<Session | null> {
    return this.#openedAt(key, id, value, client, this.conn.clock.latest(), this.#touchDueAt());
  }

  /** #opened, with the clock read by the caller (once for a whole batch). */
  #openedAt(
    key: string,
    id: string,
    value: unknown,
    client: RedisClient,
    latest: number,
    touchDueAt: number,
  ): Session | null | Promise<Session | null> {
    const opened: Opened = openValue(id, value, latest, touchDueAt);
    if (opened === TOUCH_DUE) return this.#touch(key, id, client);
    return this.#out(opened);
  }

  /** A session the cache found (or null): after the rolling touch when one is due. */
  #rolled(
    key: string,
    session: Session | null,
    client: RedisClient,
    at = performance.now(),
  ): Session | null | Promise<Session | null> {
    if (session === null || !this.#touchDue(session, at)) return session;
    return this.#touch(key, session.id, client);
  }

  #touchDue(session: Session, at: number): boolean {
    return session.lastAccessedAt <= this.#touchDueAt(at);
  }

  /** Sessions last touched at or before this (Redis clock, ms) are due a rolling touch. */
  #touchDueAt(at = performance.now()): number {
    const s = this.settings;
    return s.rolling ? this.conn.clock.now(at) - s.touchAfterMs : Number.NEGATIVE_INFINITY;
  }

  /** A rolling touch: a best-effort write, not confirmed with WAIT even under waitForReplicas. */
  #touch(key: string, id: string, client: RedisClient): Promise<Session | null> {
    const cache = this.cache;
    const sent = this.conn.bounded(this.conn.scripts.send(client, touchCall(key, id, this.settings.touchAfterMs)));
    if (cache === undefined) return sent.then((v) => decodeValueReply(id, v));
    cache.written(key);
    return sent.finally(() => cache.written(key)).then((v) => this.#out(decodeValueReply(id, v)));
  }

  /** With the cache on, every session read back has a frozen user and metadata, cached or not. */
  #out<T extends Session | null>(session: T): T {
    if (session !== null && this.cache !== undefined) freeze(session);
    return session;
  }

  /** A session loaded through the cache, or undefined when the cache cannot serve now. */
  async #loaded(cache: SessionCache, ref: TokenRef): Promise<Session | null | undefined> {
    const loaded = cache.load(ref.key, [ref.id]);
    return loaded === undefined ? undefined : (await this.conn.bounded(loaded))[0];
  }
}
