import type { Cluster, Redis } from 'ioredis';
import { RedisSessionStore, type StoreOptions } from '../../src/index.js';
import type { TestRedis } from './redis.js';

export const alice = { id: 'alice', username: 'Alice', roles: ['admin'], tz: 'Europe/Paris' };
export const bob = { id: 'bob', username: 'Bob' };

/** A store on the test server; `protocol` picks RESP2 or RESP3 (ioredis 6 defaults to 3). */
export function openStore(r: TestRedis, options: StoreOptions = {}, protocol: 2 | 3 = 3): Promise<RedisSessionStore> {
  return RedisSessionStore.connect({
    url: r.url,
    commandTimeout: 2000,
    ...options,
    redisOptions: { protocol, ...options.redisOptions },
  });
}

/** Redis's clock in ms, to check that session times come from the server. */
export async function redisNow(admin: Redis | Cluster): Promise<number> {
  const [s, us] = (await admin.time()) as unknown as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
