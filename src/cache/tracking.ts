import type { RedisClient, TrackedMaster, TrackingPort } from '../transport/client.js';
import type { LinkEvents } from './link.js';
import { TrackedLink } from './link.js';

/**
 * The invalidation links of a topology: one for a server or a Sentinel group (its connections
 * follow the master), one per master on a Cluster. A key's link is the one of the master that
 * serves its slot; the cache serves and stores only while every link is healthy, so a change
 * anywhere fails closed everywhere.
 */
export class Tracking {
  #links = new Map<string, TrackedLink>();
  /** The same links as an array: the health check runs on every hit. */
  #all: TrackedLink[] = [];
  #layout = '';
  #closed = false;

  constructor(
    private readonly port: TrackingPort,
    private readonly maxStalenessMs: number,
    private readonly events: LinkEvents,
  ) {}

  /** Opens a link per master and resolves once all are healthy. */
  async open(): Promise<void> {
    this.#layout = this.port.layout();
    this.#relink();
    await Promise.all(this.#all.map((link) => link.open()));
  }

  /** Whether every link is healthy at `at` (performance.now()): only then may the cache serve or store. */
  healthy(at = performance.now()): boolean {
    const all = this.#all;
    for (let i = 0; i < all.length; i++) if (!all[i]!.healthy(at)) return false;
    return all.length > 0;
  }

  /** The tracked connection that reads `key` (its master's), when that link is healthy. */
  readerFor(key: string): RedisClient | undefined {
    const links = this.#links;
    const link =
      links.size === 1 && !this.port.isCluster ? links.values().next().value : links.get(this.port.nodeOf(key) ?? '');
    return link?.healthy() === true ? link.reader : undefined;
  }

  /**
   * A Cluster changed nodes or slots: flush, and relink if the masters or the slot owners
   * differ from those the links were made for (ioredis also reports refreshes that changed nothing).
   */
  topologyChanged(): void {
    if (this.#closed || !this.port.isCluster) return;
    const layout = this.port.layout();
    if (layout === this.#layout) return;
    this.#layout = layout;
    this.events.flush('topology');
    const old = this.#all;
    this.#relink();
    old.forEach((link) => link.close());
    for (const link of this.#all) link.open().catch(() => undefined);
  }

  #relink(): void {
    this.#links = new Map(this.port.trackedMasters().map((m) => [m.address, this.#link(m)]));
    this.#all = [...this.#links.values()];
  }

  close(): void {
    this.#closed = true;
    this.#all.forEach((link) => link.close());
  }

  #link(master: TrackedMaster): TrackedLink {
    return new TrackedLink(master, this.maxStalenessMs, this.events);
  }
}
