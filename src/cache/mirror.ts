import type { RedisClock } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import type { RedisClient } from '../transport/client.js';
import { Deadlines } from '../transport/deadlines.js';
import { isRedirect } from '../transport/scripts.js';
import { CacheEntries, type CacheLimits, type FlushReason, type Mirrored, type Ticket } from './entries.js';
import { Tracking } from './tracking.js';

/** The cache's settings after defaults. */
export interface CacheSettings extends CacheLimits {
  /** Longest time an entry is served without proof (a PING answer) that invalidations still arrive. */
  maxStalenessMs: number;
}

/**
 * How one user of the mirror lays out its keys. Invalidations name Redis keys; the mirror files
 * them under `groupOf(key)`, so a layout whose keys hold a secret (an adapter's sid) maps them to
 * a digest and the mirror never holds the key itself.
 */
export interface MirrorLayout {
  groupOf(key: string): string;
}

/** Stores a value read under the current ticket, with its estimated size (see sizeOf). */
export type Keep<V> = (value: V, bytes: number) => void;

/**
 * A mirror of tracked Redis values, kept exact by Redis (`CLIENT TRACKING`), for any key layout:
 *
 * - A hit sends nothing; expiry is checked against the Redis clock estimate.
 * - A miss is read on a tracked connection, under a ticket that any invalidation of its group
 *   kills; a reply whose ticket died is returned but not stored.
 * - Its user calls `written` for every write of this process, before sending it and again on
 *   its reply, so a write that has resolved is never followed by a stale hit here.
 * - While any link is not known healthy, nothing is served or stored (`src/cache/link.ts`).
 *
 * What a value is, how a miss reads it and how its reply decodes are the user's (the core
 * store's sessions in session-cache.ts, the express adapter's in express-cache.ts); `R` is what
 * a decoded read resolves to.
 */
export class Mirror<V extends Mirrored, R> {
  readonly entries: CacheEntries<V>;
  readonly #tracking: Tracking;
  /** Reads in flight, by id: concurrent misses of one value share one read. */
  readonly #flights = new Map<string, Flight<R>>();

  constructor(
    private readonly client: RedisClient,
    readonly clock: RedisClock,
    settings: CacheSettings,
    private readonly layout: MirrorLayout,
  ) {
    const port = client.tracking();
    if (port === undefined) {
      throw new ConfigurationError(
        'cache',
        'needs an ioredis client: the cache hears of changes through CLIENT TRACKING redirected to a RESP2 subscriber, which node-redis 4 cannot open beside its client',
      );
    }
    const entries = (this.entries = new CacheEntries<V>(settings));
    this.#tracking = new Tracking(port, settings.maxStalenessMs, {
      invalidate: (key) => entries.invalidate(layout.groupOf(key)),
      flush: (reason: FlushReason) => entries.flush(reason),
    });
  }

  /** Opens the invalidation links and resolves once they are healthy, within `budgetMs` if given. */
  async open(budgetMs?: number): Promise<void> {
    const opening = this.#tracking.open();
    await (budgetMs === undefined ? opening : new Deadlines(budgetMs).bounded(opening));
  }

  /** The cached live value (as stored: the caller copies), or undefined; `at` is performance.now(). */
  hit(id: string, at: number): V | undefined {
    if (!this.#tracking.healthy(at)) return undefined;
    const value = this.entries.get(id);
    if (value === undefined) return undefined;
    if (value.expiresAt <= this.clock.latest(at)) {
      // Expired, as an uncached read would decide: nothing to ask Redis.
      this.entries.expire(id);
      return undefined;
    }
    return value;
  }

  /** The cached live value without counting a lookup (a write deciding whether it is needed). */
  peek(id: string, at = performance.now()): V | undefined {
    if (!this.#tracking.healthy(at)) return undefined;
    const value = this.entries.peek(id);
    return value === undefined || value.expiresAt <= this.clock.latest(at) ? undefined : value;
  }

  /**
   * Reads `key` on its tracked connection with `fetch`, and decodes the reply with `decode`,
   * which stores what it may through `keep`. Undefined when the link is not healthy (read
   * uncached instead). With `shared` (an id), a read of that id already in flight is joined as
   * long as nothing invalidated its group since it was sent: a read that starts after a write of
   * this process resolved therefore never joins one from before it.
   */
  load<P>(
    key: string,
    fetch: (client: RedisClient) => Promise<P>,
    decode: (reply: P, keep: Keep<V>) => R,
    shared?: string,
  ): Promise<R> | undefined {
    if (shared !== undefined) {
      const flight = this.#flights.get(shared);
      if (flight !== undefined && flight.ticket.alive) return flight.done;
    }
    const reader = this.#tracking.healthy() ? this.#tracking.readerFor(key) : undefined;
    if (reader === undefined) return undefined;
    const entries = this.entries;
    const group = this.layout.groupOf(key);
    const ticket = entries.begin(group);
    const keep: Keep<V> = (value, bytes) => entries.store(group, ticket, value, bytes);
    const done = fetch(reader)
      .catch((err: unknown) => {
        // A slot moved under the link: this read follows the redirect uncached.
        if (!isRedirect(err)) throw err;
        ticket.alive = false;
        return fetch(this.client);
      })
      .then((reply) => decode(reply, keep))
      .finally(() => entries.end(group, ticket));
    if (shared === undefined) return done;
    const started: Flight<R> = { ticket, done };
    this.#flights.set(shared, started);
    const clear = () => {
      if (this.#flights.get(shared) === started) this.#flights.delete(shared);
    };
    done.then(clear, clear);
    return done;
  }

  /** A write of this process to `key` is about to be sent, or has been answered. */
  written(key: string): void {
    this.entries.invalidate(this.layout.groupOf(key));
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

/** A read in flight: its ticket, and what it resolves to. */
interface Flight<T> {
  readonly ticket: Ticket;
  readonly done: Promise<T>;
}
