import type { Redis } from 'ioredis';
import { CACHE_CHANNEL } from '../acl.js';
import { adapt, type RedisClient, type TrackedMaster } from '../transport/client.js';
import type { FlushReason } from './entries.js';

/** What a link reports to the cache. */
export interface LinkEvents {
  /** These keys changed on the server (or were deleted, expired or evicted). */
  invalidate(key: string): void;
  /** Anything may have changed unseen: drop everything. */
  flush(reason: FlushReason): void;
}

/**
 * One server's invalidation link (default-mode tracking, REDIS-FACTS 23-25):
 *
 * - `data`: the connection the cache reads on, with `CLIENT TRACKING ON REDIRECT <sub's id>`.
 *   Redis remembers each key it reads and reports the key's next change once.
 * - `sub`: a RESP2 connection subscribed to `__redis__:invalidate`, the redirect target.
 *   ioredis 6 drops RESP3 invalidation pushes, so the pushes must arrive as pub/sub messages.
 *
 * The link is healthy only once both are connected, the subscription is confirmed, tracking on
 * the data connection is confirmed with the subscriber's current id, and a PING on the
 * subscriber was answered within `maxStalenessMs`. Nothing tells a client that its tracking or
 * redirect broke (redis#11767), so every close of either connection flushes the cache, and a
 * silent stall is caught by the PING: a PONG proves every invalidation sent before it arrived.
 */
export class TrackedLink {
  readonly data: Redis;
  readonly sub: Redis;
  /** The data connection as the store's other code talks to a client. */
  readonly reader: RedisClient;
  #subId: string | undefined;
  #tracking = false;
  /** When the newest answered PING was sent (performance.now()). */
  #ackedAt = Number.NEGATIVE_INFINITY;
  #pingSentAt: number | undefined;
  #stale = false;
  /** Count each connection's closes: a setup step begun before a close must not mark its successor healthy. */
  #subEpoch = 0;
  #dataEpoch = 0;
  #closed = false;
  readonly #timer: NodeJS.Timeout;
  #opening: { resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(
    master: TrackedMaster,
    private readonly maxStalenessMs: number,
    private readonly events: LinkEvents,
  ) {
    // Its reads go through the store's transport (adapt), which gathers one loop turn's commands into one write.
    this.data = master.duplicate({ lazyConnect: true, enableAutoPipelining: false, autoResubscribe: false });
    this.reader = adapt(this.data);
    this.sub = master.duplicate({
      lazyConnect: true,
      protocol: 2,
      autoResubscribe: false,
      enableAutoPipelining: false,
      // A subscriber sends only PING: a stalled one is caught by the PING timer, not by retries.
      maxRetriesPerRequest: 0,
    });
    this.data.on('error', ignore);
    this.sub.on('error', ignore);
    this.sub.on('close', () => {
      this.#subEpoch++;
      // The redirect of the data connection now points at nobody, and Redis does not say so.
      this.#subId = undefined;
      this.#lost();
    });
    this.data.on('close', () => {
      this.#dataEpoch++;
      this.#lost();
    });
    this.sub.on('ready', () => void this.#subscribe(this.#subEpoch));
    this.data.on('ready', () => void this.#track(this.#dataEpoch));
    this.sub.on('messageBuffer', (_channel: Buffer, payload: unknown) => this.#message(payload));
    this.#timer = setInterval(() => this.#ping(), Math.max(5, Math.floor(maxStalenessMs / 4)));
    this.#timer.unref();
  }

  /** Connects both connections and resolves once the link is healthy. */
  async open(): Promise<void> {
    const healthy = new Promise<void>((resolve, reject) => (this.#opening = { resolve, reject }));
    healthy.catch(ignore); // awaited below, unless connecting fails first
    await Promise.all([this.sub.connect(), this.data.connect()]);
    await healthy;
  }

  /** Whether an invalidation sent now would reach this process, as proven within `maxStalenessMs`. */
  healthy(at = performance.now()): boolean {
    return this.#tracking && at - this.#ackedAt < this.maxStalenessMs;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.data.disconnect();
    this.sub.disconnect();
  }

  #lost(): void {
    this.#tracking = false;
    this.#pingSentAt = undefined;
    this.#ackedAt = Number.NEGATIVE_INFINITY;
    this.#stale = false;
    if (!this.#closed) this.events.flush('disconnect');
  }

  async #subscribe(epoch: number): Promise<void> {
    try {
      // CLIENT ID first: a RESP2 connection in subscriber mode may send nothing but (UN)SUBSCRIBE and PING.
      const id = String(await this.sub.client('ID'));
      await this.sub.subscribe(CACHE_CHANNEL);
      if (epoch !== this.#subEpoch) return;
      this.#subId = id;
      // A new subscriber has a new id: the data connection's redirect must follow it.
      if (this.data.status === 'ready') await this.#track(this.#dataEpoch);
    } catch (err) {
      // Refused (an ACL without the cache's commands) fails the store's connect; a connection
      // that broke during setup starts over at its next 'ready'.
      this.#opening?.reject(err);
    }
  }

  async #track(epoch: number): Promise<void> {
    const id = this.#subId;
    if (id === undefined) return;
    try {
      await this.data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', id);
      if (epoch !== this.#dataEpoch || id !== this.#subId) return;
      // Reads sent before this reply may be untracked (ioredis re-sends queued commands on
      // reconnect before 'ready' handlers run): the flush at the close killed their tickets,
      // and nothing is served or stored until the PING below is answered.
      this.#tracking = true;
      this.#ping();
    } catch (err) {
      this.#opening?.reject(err);
    }
  }

  #message(payload: unknown): void {
    if (payload === null) return this.events.flush('flushdb');
    if (Array.isArray(payload)) for (const key of payload as Buffer[]) this.events.invalidate(key.toString());
    else if (Buffer.isBuffer(payload)) this.events.invalidate(payload.toString());
  }

  #ping(): void {
    if (!this.#tracking) return;
    const now = performance.now();
    if (this.#pingSentAt !== undefined) {
      // Unanswered for too long: hits stop (see healthy), and what is cached is dropped.
      if (now - this.#ackedAt >= this.maxStalenessMs && !this.#stale) {
        this.#stale = true;
        this.events.flush('stale');
      }
      return;
    }
    const sub = this.#subEpoch;
    const data = this.#dataEpoch;
    this.#pingSentAt = now;
    this.sub.ping().then(
      () => {
        if (sub !== this.#subEpoch || data !== this.#dataEpoch) return;
        this.#ackedAt = now;
        this.#pingSentAt = undefined;
        this.#stale = false;
        this.#opening?.resolve();
        this.#opening = undefined;
      },
      () => undefined,
    );
  }
}

function ignore(): void {}
