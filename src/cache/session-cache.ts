import type { RedisClock } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import { decodeGet, decodeMany, getCommand, getManyCommand } from '../ops/reads.js';
import type { RedisClient } from '../transport/client.js';
import { Deadlines } from '../transport/deadlines.js';
import { isRedirect, type CommandCall } from '../transport/scripts.js';
import type { Session, AuthUser, JsonValue } from '../types.js';
import { CacheEntries, sizeOf, type CacheLimits, type FlushReason, type Ticket } from './entries.js';
import { Tracking } from './tracking.js';

/** The cache's settings after defaults. */
export interface CacheSettings extends CacheLimits {
  /** Longest time an entry is served without proof (a PING answer) that invalidations still arrive. */
  maxStalenessMs: number;
}

/**
 * Sessions served from this process's memory, kept exact by Redis (`CLIENT TRACKING`):
 *
 * - A hit sends nothing; expiry is checked against the Redis clock estimate.
 * - A miss is read on a tracked connection, under a ticket that any invalidation of its key
 *   kills; a reply whose ticket died is returned but not stored.
 * - The store calls `written` for every write of this process, before sending it and again on
 *   its reply, so a write that has resolved is never followed by a stale hit here.
 * - While any link is not known healthy, nothing is served or stored (`src/cache/link.ts`).
 *
 * Entries are keyed by user key and public id: no token is held. Stored sessions are frozen
 * (user and metadata deeply); each hit returns a new top-level object.
 */
export class SessionCache {
  readonly entries: CacheEntries;
  readonly #tracking: Tracking;
  /** Single-session reads in flight, by id: concurrent misses of one session share one HGET. */
  readonly #flights = new Map<string, Flight>();

  private constructor(
    private readonly client: RedisClient,
    private readonly clock: RedisClock,
    settings: CacheSettings,
  ) {
    const port = client.tracking();
    // node-redis has no RESP2 pub/sub path the links could use (see transport/client.ts).
    if (port === undefined) throw new ConfigurationError('cache', 'needs an ioredis client');
    const entries = (this.entries = new CacheEntries(settings));
    this.#tracking = new Tracking(port, settings.maxStalenessMs, {
      invalidate: (key) => entries.invalidate(key),
      flush: (reason: FlushReason) => entries.flush(reason),
    });
  }

  /** Opens the invalidation links (within `budgetMs`) and returns the cache once they are healthy. */
  static async open(
    client: RedisClient,
    clock: RedisClock,
    settings: CacheSettings,
    budgetMs: number,
  ): Promise<SessionCache> {
    const cache = new SessionCache(client, clock, settings);
    try {
      await new Deadlines(budgetMs).bounded(cache.#tracking.open());
    } catch (err) {
      cache.close();
      throw err;
    }
    return cache;
  }

  /** The cached live session, or undefined (a miss, or the link not known healthy); `at` is performance.now(). */
  hit(key: string, id: string, at = performance.now()): Session | undefined {
    if (!this.#tracking.healthy(at)) return undefined;
    const session = this.entries.get(id);
    if (session === undefined) return undefined;
    if (session.expiresAt <= this.clock.latest(at)) {
      // Expired, as the uncached read would decide: nothing to ask Redis.
      this.entries.evict(key);
      return undefined;
    }
    return { ...session };
  }

  /**
   * Reads sessions of one user on a tracked connection and stores the live ones: one HGET, or
   * one HMGET for several ids. Undefined when the link is not healthy (read uncached instead).
   */
  load(key: string, ids: readonly string[]): Promise<(Session | null)[]> | undefined {
    if (ids.length !== 1) return this.#load(key, ids)?.done.then(copies);
    // One session: join a read of it already in flight, as long as nothing invalidated its key
    // since that read was sent (its ticket is alive). A read that starts after a write of this
    // process resolved therefore never joins a read from before it.
    const id = ids[0]!;
    const flight = this.#flights.get(id);
    if (flight !== undefined && flight.ticket.alive) return flight.done.then(copies);
    const started = this.#load(key, ids);
    if (started === undefined) return undefined;
    this.#flights.set(id, started);
    const clear = () => {
      if (this.#flights.get(id) === started) this.#flights.delete(id);
    };
    started.done.then(clear, clear);
    return started.done.then(copies);
  }

  #load(key: string, ids: readonly string[]): Flight | undefined {
    const reader = this.#tracking.healthy() ? this.#tracking.readerFor(key) : undefined;
    if (reader === undefined) return undefined;
    const entries = this.entries;
    const ticket = entries.begin(key);
    const request: CommandCall = ids.length === 1 ? getCommand(key, ids[0]!) : getManyCommand(key, ids);
    const done = reader
      .send(request.command, request.args)
      .catch((err: unknown) => {
        // A slot moved under the link: this read follows the redirect uncached.
        if (!isRedirect(err)) throw err;
        ticket.alive = false;
        return this.client.send(request.command, request.args);
      })
      .then((reply) => {
        const values = ids.length === 1 ? [reply] : decodeMany(reply, ids.length);
        const latest = this.clock.latest();
        return ids.map((id, i) => {
          const value = values[i];
          const session = decodeGet(id, value, latest);
          if (session === null) return null;
          freeze(session);
          entries.store(key, ticket, session, sizeOf((value as string).length));
          return session;
        });
      })
      .finally(() => entries.end(key, ticket));
    return { ticket, done };
  }

  /** A write of this process to `key` is about to be sent, or has been answered. */
  written(key: string): void {
    this.entries.invalidate(key);
  }

  /** Routes the Cluster's change of nodes or slots to the links. */
  topologyChanged(): void {
    this.#tracking.topologyChanged();
  }

  close(): void {
    this.#tracking.close();
    this.entries.flush('close');
  }
}

/** A read in flight: its ticket, and the stored (frozen) sessions it resolves to. */
interface Flight {
  readonly ticket: Ticket;
  readonly done: Promise<(Session | null)[]>;
}

/** Each caller gets its own top-level objects (user and metadata are frozen and shared). */
function copies(sessions: readonly (Session | null)[]): (Session | null)[] {
  return sessions.map((s) => (s === null ? null : { ...s }));
}

/** Freezes a session's user (deeply) and metadata: a caller cannot change what the cache holds. */
export function freeze(session: Session): void {
  deepFreeze(session.user);
  Object.freeze(session.metadata);
}

function deepFreeze(value: AuthUser | JsonValue): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
