import { Counter, Gauge, type Registry } from 'prom-client';
import {
  FLUSH_REASONS,
  type CacheCounts,
  type CacheEntries,
  type FlushReason,
  type Mirrored,
} from '../cache/entries.js';
import type { Operation } from '../operations.js';

/**
 * The reads a cache answers, as its metrics' `operation` label: `getSession` for the core store
 * (its getSessions and getSessionTtl read the same entries), `express.get` for the adapter.
 */
export type CacheOperation = Extract<Operation, 'getSession' | 'express.get'>;
export const CACHE_OPERATIONS: readonly CacheOperation[] = ['getSession', 'express.get'];

/**
 * The session caches' metrics on one registry, read when scraped through prom-client's collect()
 * hooks: nothing is done per call. Several caches on one registry add up; a closed cache's counts
 * are kept, so counters never go down.
 */
export class CacheMetrics {
  readonly #caches = new Map<CacheEntries<Mirrored>, CacheOperation>();
  readonly #retired = new Map<CacheOperation, CacheCounts>(CACHE_OPERATIONS.map((o) => [o, emptyCounts()]));

  constructor(registry: Registry, prefix: string) {
    const registers = [registry];
    const caches = this.#caches;
    const retired = this.#retired;
    const sum = (operation: CacheOperation, pick: (c: CacheCounts) => number) => {
      let total = pick(retired.get(operation)!);
      for (const [cache, op] of caches) if (op === operation) total += pick(cache.counts);
      return total;
    };
    const counter = (name: string, help: string, pick: (c: CacheCounts) => number) =>
      new Counter({
        name: `${prefix}${name}`,
        help,
        labelNames: ['operation'],
        registers,
        collect() {
          this.reset();
          for (const operation of CACHE_OPERATIONS) this.labels({ operation }).inc(sum(operation, pick));
        },
      });
    counter('cache_hits_total', 'Reads answered from the session cache without Redis.', (c) => c.hits);
    counter('cache_misses_total', 'Cache lookups that found nothing (the read went to Redis).', (c) => c.misses);
    counter(
      'cache_invalidations_total',
      'Cached keys dropped because Redis reported a change or this process wrote them.',
      (c) => c.invalidations,
    );
    counter(
      'cache_evictions_total',
      'Cached sessions dropped to stay within maxEntries and maxBytes.',
      (c) => c.evictions,
    );
    new Counter({
      name: `${prefix}cache_flushes_total`,
      help: 'Whole-cache flushes, by reason (disconnect, flushdb, stale, topology, close).',
      labelNames: ['operation', 'reason'],
      registers,
      collect() {
        this.reset();
        for (const operation of CACHE_OPERATIONS)
          for (const reason of FLUSH_REASONS)
            this.labels({ operation, reason }).inc(sum(operation, (c) => c.flushes[reason]));
      },
    });
    const gauge = (name: string, help: string, pick: (c: CacheEntries<Mirrored>) => number) =>
      new Gauge({
        name: `${prefix}${name}`,
        help,
        labelNames: ['operation'],
        registers,
        collect() {
          this.reset();
          for (const operation of CACHE_OPERATIONS) {
            let total = 0;
            for (const [cache, op] of caches) if (op === operation) total += pick(cache);
            this.labels({ operation }).set(total);
          }
        },
      });
    gauge('cache_entries', 'Sessions held in the session cache.', (c) => c.size);
    gauge('cache_bytes', 'Estimated memory of the sessions held in the session cache.', (c) => c.bytes);
  }

  /** Reports a cache's counts, under `operation`, until the returned function is called. */
  watch(entries: CacheEntries<Mirrored>, operation: CacheOperation): () => void {
    this.#caches.set(entries, operation);
    return () => {
      if (!this.#caches.delete(entries)) return;
      const r = this.#retired.get(operation)!;
      const c = entries.counts;
      r.hits += c.hits;
      r.misses += c.misses;
      r.invalidations += c.invalidations;
      r.evictions += c.evictions;
      for (const reason of FLUSH_REASONS) r.flushes[reason] += c.flushes[reason];
    };
  }
}

function emptyCounts(): CacheCounts {
  const flushes = {} as Record<FlushReason, number>;
  for (const reason of FLUSH_REASONS) flushes[reason] = 0;
  return { hits: 0, misses: 0, invalidations: 0, evictions: 0, flushes };
}
