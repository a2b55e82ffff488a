import type { Session } from '../types.js';

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

/** One user key's cached sessions. Invalidations name keys, so a key is the unit of eviction. */
interface KeyEntry {
  readonly sessions: Map<string, { session: Session; bytes: number }>;
  bytes: number;
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
 * The session cache's memory: sessions by user key and public id (never by token), least
 * recently used first, plus the tickets of reads in flight. No I/O: what may be stored and when
 * is decided by the tracking link (src/cache/tracking.ts).
 */
export class CacheEntries {
  // A Map iterates in insertion order: re-inserting a key on use keeps the least recently used first.
  readonly #keys = new Map<string, KeyEntry>();
  readonly #tickets = new Map<string, Ticket>();
  #entries = 0;
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
    return this.#entries;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The cached session, marked as recently used; counts a hit or a miss. */
  get(key: string, id: string): Session | undefined {
    const entry = this.#keys.get(key);
    const cached = entry?.sessions.get(id);
    if (cached === undefined) {
      this.counts.misses++;
      return undefined;
    }
    this.counts.hits++;
    this.#keys.delete(key);
    this.#keys.set(key, entry!);
    return cached.session;
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

  /** Stores a session read under `ticket`, unless an invalidation overtook the reply. */
  store(key: string, ticket: Ticket, session: Session, bytes: number): void {
    if (!ticket.alive || bytes > this.limits.maxBytes) return;
    let entry = this.#keys.get(key);
    if (entry === undefined) {
      entry = { sessions: new Map(), bytes: 0 };
    } else {
      this.#keys.delete(key);
      const old = entry.sessions.get(session.id);
      if (old !== undefined) {
        entry.bytes -= old.bytes;
        this.#entries--;
        this.#bytes -= old.bytes;
      }
    }
    this.#keys.set(key, entry);
    entry.sessions.set(session.id, { session, bytes });
    entry.bytes += bytes;
    this.#entries++;
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

  /** Drops one key's sessions without killing reads in flight (a local expiry, a due rolling touch). */
  evict(key: string): void {
    this.#drop(key);
  }

  /** Empties the cache and kills every read in flight. */
  flush(reason: FlushReason): void {
    for (const ticket of this.#tickets.values()) ticket.alive = false;
    this.#tickets.clear();
    this.counts.flushes[reason]++;
    this.#keys.clear();
    this.#entries = 0;
    this.#bytes = 0;
  }

  #drop(key: string): boolean {
    const entry = this.#keys.get(key);
    if (entry === undefined) return false;
    this.#keys.delete(key);
    this.#entries -= entry.sessions.size;
    this.#bytes -= entry.bytes;
    return true;
  }

  #trim(): void {
    const { maxEntries, maxBytes } = this.limits;
    while (this.#entries > maxEntries || this.#bytes > maxBytes) {
      const oldest = this.#keys.keys().next();
      if (oldest.done === true) return;
      this.#drop(oldest.value);
      this.counts.evictions++;
    }
  }
}
