import { randomBytes } from 'node:crypto';
import RedisStore from 'connect-redis';
import type { SessionData } from 'express-session';
import type { Redis } from 'ioredis';

/**
 * The stores this project is measured against, on the same Redis and payload. They do the same
 * work the way people commonly do it; they are baselines, not recommendations (the naive ones
 * have the races and stale-index bugs the store exists to avoid).
 */

/** The original guide's store: a string per session and a set per user, one command at a time. */
export class NaiveStore {
  constructor(
    protected readonly redis: Redis,
    protected readonly ttl: number,
  ) {}

  async create(userId: string, session: object): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.redis.setex(`naive:s:${token}`, this.ttl, JSON.stringify({ ...session, userId }));
    await this.redis.sadd(`naive:u:${userId}`, token);
    await this.redis.expire(`naive:u:${userId}`, this.ttl);
    return token;
  }

  async get(token: string): Promise<unknown> {
    const raw = await this.redis.get(`naive:s:${token}`);
    return raw === null ? null : JSON.parse(raw);
  }

  async refresh(token: string): Promise<boolean> {
    return (await this.redis.expire(`naive:s:${token}`, this.ttl)) === 1;
  }

  async destroy(token: string): Promise<boolean> {
    const raw = await this.redis.get(`naive:s:${token}`);
    if (raw === null) return false;
    const { userId } = JSON.parse(raw) as { userId: string };
    await this.redis.del(`naive:s:${token}`);
    await this.redis.srem(`naive:u:${userId}`, token);
    return true;
  }

  async count(userId: string): Promise<number> {
    const tokens = await this.redis.smembers(`naive:u:${userId}`);
    if (tokens.length === 0) return 0;
    return this.redis.exists(...tokens.map((t) => `naive:s:${t}`));
  }

  async list(userId: string): Promise<unknown[]> {
    const tokens = await this.redis.smembers(`naive:u:${userId}`);
    if (tokens.length === 0) return [];
    const values = await this.redis.mget(tokens.map((t) => `naive:s:${t}`));
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as unknown);
  }
}

/** The same store with MULTI/EXEC around each write. */
export class MultiStore extends NaiveStore {
  override async create(userId: string, session: object): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.redis
      .multi()
      .setex(`naive:s:${token}`, this.ttl, JSON.stringify({ ...session, userId }))
      .sadd(`naive:u:${userId}`, token)
      .expire(`naive:u:${userId}`, this.ttl)
      .exec();
    return token;
  }

  override async destroy(token: string): Promise<boolean> {
    const raw = await this.redis.get(`naive:s:${token}`);
    if (raw === null) return false;
    const { userId } = JSON.parse(raw) as { userId: string };
    await this.redis.multi().del(`naive:s:${token}`).srem(`naive:u:${userId}`, token).exec();
    return true;
  }
}

/** connect-redis 7.1 (the most used Node Redis session store), with promises around its callbacks. */
export class ConnectRedis {
  private readonly store: RedisStore;

  constructor(redis: Redis) {
    this.store = new RedisStore({ client: redis, prefix: 'sess:' });
  }

  private call<T>(fn: (cb: (err?: unknown, data?: T) => void) => void): Promise<T> {
    return new Promise((resolve, reject) => fn((err, data) => (err ? reject(err) : resolve(data as T))));
  }

  set(sid: string, session: object): Promise<void> {
    return this.call((cb) => void this.store.set(sid, session as SessionData, cb));
  }

  get(sid: string): Promise<SessionData | null> {
    return this.call((cb) => void this.store.get(sid, cb));
  }

  touch(sid: string, session: object): Promise<void> {
    return this.call((cb) => void this.store.touch(sid, session as SessionData, cb));
  }

  destroy(sid: string): Promise<void> {
    return this.call((cb) => void this.store.destroy(sid, cb));
  }
}
