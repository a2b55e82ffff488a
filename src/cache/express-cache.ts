import type { RedisClock } from '../clock.js';
import { expressKeyDigest } from '../keys.js';
import { cachedReadCommands, decodeCachedRead, type CachedSession } from '../ops/express.js';
import type { RedisClient } from '../transport/client.js';
import { sizeOf, type CacheEntries } from './entries.js';
import { Mirror, type CacheSettings, type MirrorLayout } from './mirror.js';

/** The adapter's layout: one session per key, filed under the key's digest (the key holds the sid). */
const SESSION_KEYS: MirrorLayout = { groupOf: expressKeyDigest };

/**
 * The express adapter's sessions on the mirror (src/cache/mirror.ts): `prefix + sid` string
 * keys, each entry the serializer's string and the key's Redis expiry, filed under a digest of
 * the key. The caller parses the string on every hit, so each request gets objects of its own.
 */
export class ExpressCache {
  readonly #mirror: Mirror<CachedSession, CachedSession | null>;

  constructor(client: RedisClient, clock: RedisClock, settings: CacheSettings) {
    this.#mirror = new Mirror(client, clock, settings, SESSION_KEYS);
  }

  get entries(): CacheEntries<CachedSession> {
    return this.#mirror.entries;
  }

  /** Opens the invalidation links; resolves once they are healthy (nothing is served before). */
  open(): Promise<void> {
    return this.#mirror.open();
  }

  /** The live cached session of the key whose digest is `id`, or undefined. */
  hit(id: string, at = performance.now()): CachedSession | undefined {
    return this.#mirror.hit(id, at);
  }

  /** The same, for a write deciding whether it is needed: counts no lookup. */
  peek(id: string): CachedSession | undefined {
    return this.#mirror.peek(id);
  }

  /** Reads the session and its expiry on the tracked connection and keeps it; undefined when the cache cannot serve now. */
  load(key: string, id: string): Promise<CachedSession | null> | undefined {
    const [get, expireTime] = cachedReadCommands(key);
    const clock = this.#mirror.clock;
    return this.#mirror.load(
      key,
      (client) => Promise.all([client.send(get.command, get.args), client.send(expireTime.command, expireTime.args)]),
      ([value, at], keep) => {
        const session = decodeCachedRead(id, value, at);
        if (session !== null && session.expiresAt > clock.latest()) keep(session, sizeOf(session.raw.length));
        return session;
      },
      id,
    );
  }

  /** A write of this process to `key` is about to be sent, or has been answered. */
  written(key: string): void {
    this.#mirror.written(key);
  }

  topologyChanged(): void {
    this.#mirror.topologyChanged();
  }

  close(): void {
    this.#mirror.close();
  }
}
