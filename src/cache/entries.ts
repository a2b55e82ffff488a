import type { Session } from '../types.js';

/**
 * What the cache can hold: a value read from Redis, named by an id that is not a secret (a
 * digest of the token or sid), with the Redis-clock time after which it must not be served.
 */
export interface Mirrored {
  readonly id: string;
  /** ms on the Redis clock; Infinity when the key has no expiry. */
  readonly expiresAt: number;
}

/** Why the whole cache was emptied: a fixed set (it is a metric label). */
export type FlushReason = 'disconnect' | 'flushdb' | 'stale' | 'topology' | 'close';
export const FLUSH_REASONS: readonly FlushReason[] = ['disconnect', 'flushdb', 'stale', 'topology', 'close'];

/** Limits of the session cache. */
export interface CacheLimits {
  /** Most sessions held. */
  maxEntries: number;
  /** Most bytes held, as estimated by `sizeOf`. */
  maxBytes: number;
}

/**
 * A read in flight for one key. An invalidation of the key (or a flush) kills it, and a reply
 * whose ticket died is not stored: the reply may predate the write that was invalidated, and
 * no second invalidation would ever come for it (REDIS-FACTS 26).
 */
export interface Ticket {
  alive: boolean;
  reads: number;
}

/** One cached value. */
interface Cached<V> {
  readonly key: string;
  readonly value: V;
  readonly bytes: number;
  /** Read since it last reached the front: it gets a second chance before eviction. */
  used: boolean;
}

// What a cached session costs besides its stored value: the Session object, its frozen user and
// metadata objects, two Map slots. Measured with --expose-gc on a 400-byte value: ~0.9 KB in all.
const OVERHEAD_BYTES = 512;

/** The estimated memory of one cached session whose stored value has `valueLength` characters. */
export function sizeOf(valueLength: number): number {
  return OVERHEAD_BYTES + valueLength;
}

/** Counts since the cache was made; the metrics read them when scraped (nothing is done per call). */
export interface CacheCounts {
  hits: number;
  misses: number;
  invalidations: number;
  evictions: number;
  flushes: Record<FlushReason, number>;
}

/**
 * The cache's memory: values by id (a digest: never a token or a sid), with the ids of each
 * group for invalidations, oldest first, plus the tickets of reads in flight. A group is what an
 * invalidation names, as its user maps keys to groups: the core store's user key (its sessions
 * share it), or a digest of an adapter's `prefix + sid`. No I/O: what may be stored and when is
 * decided by the tracking link (src/cache/tracking.ts).
 */
export class CacheEntries<V extends Mirrored = Session> {
  // One flat Map on the hit path: a hit is one lookup and one comparison. A Map iterates in
  // insertion order, oldest first; a hit only marks its entry used (moving it to the back on
  // every hit, delete + set, made the Map rehash and cost a quarter of a hit's CPU), and
  // eviction gives a used entry a second chance instead: the CLOCK approximation of LRU.
  readonly #byId = new Map<string, Cached<V>>();
  /** The cached ids of each group: invalidations name groups. */
  readonly #byKey = new Map<string, string[]>();
  readonly #tickets = new Map<string, Ticket>();
  #bytes = 0;
  readonly counts: CacheCounts = {
    hits: 0,
    misses: 0,
    invalidations: 0,
    evictions: 0,
    flushes: { disconnect: 0, flushdb: 0, stale: 0, topology: 0, close: 0 },
  };

  constructor(private readonly limits: CacheLimits) {}

  get size(): number {
    return this.#byId.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /**
   * The cached value, marked as recently used; counts a hit or a miss. The id alone decides: it
   * is a digest of the whole token (or key), so it names one group (and comparing the group too
   * would cost a hit two more memory reads).
   */
  get(id: string): V | undefined {
    const cached = this.#byId.get(id);
    if (cached === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    cached.used = true;
    return cached.value;
  }

  /** The cached value, without counting a lookup or marking it used. */
  peek(id: string): V | undefined {
    return this.#byId.get(id)?.value;
  }

  /** Registers a read of `key` about to be sent. Call `end` when its reply has been handled. */
  begin(key: string): Ticket {
    let ticket = this.#tickets.get(key);
    if (ticket === undefined) this.#tickets.set(key, (ticket = { alive: true, reads: 0 }));
    ticket.reads++;
    return ticket;
  }

  end(key: string, ticket: Ticket): void {
    if (--ticket.reads === 0 && this.#tickets.get(key) === ticket) this.#tickets.delete(key);
  }

  /** Stores a value read under `ticket`, unless an invalidation overtook the reply. */
  store(key: string, ticket: Ticket, value: V, bytes: number): void {
    if (!ticket.alive || bytes > this.limits.maxBytes) return;
    const id = value.id;
    if (this.#byId.has(id)) this.#forget(id);
    this.#byId.set(id, { key, value, bytes, used: false });
    const ids = this.#byKey.get(key);
    if (ids === undefined) this.#byKey.set(key, [id]);
    else ids.push(id);
    this.#bytes += bytes;
    this.#trim();
  }

  /** The key changed (an invalidation, or a write from this process): drop it and kill its reads in flight. */
  invalidate(key: string): void {
    const ticket = this.#tickets.get(key);
    if (ticket !== undefined) {
      ticket.alive = false;
      this.#tickets.delete(key);
    }
    if (this.#drop(key)) this.counts.invalidations++;
  }

  /** Drops the group of the value `id` names without killing reads in flight (a local expiry). */
  expire(id: string): void {
    const cached = this.#byId.get(id);
    if (cached !== undefined) this.#drop(cached.key);
  }

  /** Empties the cache and kills every read in flight. */
  flush(reason: FlushReason): void {
    for (const ticket of this.#tickets.values()) ticket.alive = false;
    this.#tickets.clear();
    this.counts.flushes[reason]++;
    this.#byId.clear();
    this.#byKey.clear();
    this.#bytes = 0;
  }

  #drop(key: string): boolean {
    const ids = this.#byKey.get(key);
    if (ids === undefined) return false;
    this.#byKey.delete(key);
    for (const id of ids) {
      const cached = this.#byId.get(id);
      if (cached === undefined) continue;
      this.#byId.delete(id);
      this.#bytes -= cached.bytes;
    }
    return true;
  }

  /** Drops one session (an eviction, or a replaced entry). */
  #forget(id: string): void {
    const cached = this.#byId.get(id)!;
    this.#byId.delete(id);
    this.#bytes -= cached.bytes;
    const ids = this.#byKey.get(cached.key)!;
    if (ids.length === 1) this.#byKey.delete(cached.key);
    else ids.splice(ids.indexOf(id), 1);
  }

  #trim(): void {
    const { maxEntries, maxBytes } = this.limits;
    const byId = this.#byId;
    while (byId.size > maxEntries || this.#bytes > maxBytes) {
      const oldest = byId.entries().next();
      if (oldest.done === true) return;
      const [id, cached] = oldest.value;
      if (cached.used && byId.size > 1) {
        // Second chance: to the back, unmarked.
        cached.used = false;
        byId.delete(id);
        byId.set(id, cached);
        continue;
      }
      this.#forget(id);
      this.counts.evictions++;
    }
  }
}
