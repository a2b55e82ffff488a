import type { ExpressCache } from '../cache/express-cache.js';
import type { KeyFamily } from '../keys.js';
import * as ops from '../ops/express.js';
import { decodeMany } from '../ops/reads.js';
import { Batches } from '../transport/batch.js';
import type { RedisClient } from '../transport/client.js';
import type { Deadlines } from '../transport/deadlines.js';
import type { CommandCall, Request, Scripts } from '../transport/scripts.js';

/**
 * The adapter's way to Redis: every request within the call budget, scripts by SHA, writes
 * around the cache (this process's entry of a key is dropped before the write is sent and again
 * on its reply), and the multi-key work of clear/length/ids/all, per master on a Cluster.
 */
export class ExpressIO {
  readonly #batches: Batches;

  constructor(
    readonly redis: RedisClient,
    private readonly scripts: Scripts,
    private readonly deadlines: Deadlines,
    private readonly cache: ExpressCache | undefined,
  ) {
    this.#batches = new Batches(scripts);
  }

  /** One request within the budget. */
  send(request: Request): Promise<unknown> {
    return this.deadlines.bounded(this.scripts.send(this.redis, request));
  }

  /** A write of `key`. */
  write(key: string, request: Request): Promise<unknown> {
    const cache = this.cache;
    if (cache === undefined) return this.send(request);
    cache.written(key);
    return this.send(request).finally(() => cache.written(key));
  }

  readonly bounded = <T>(p: Promise<T>): Promise<T> => this.deadlines.bounded(p);

  /** The keys of one family, by SCAN on every master (never KEYS). */
  async scan(family: KeyFamily, count: number): Promise<string[]> {
    const found = new Set<string>();
    for (const node of this.redis.masters()) {
      let cursor = '0';
      do {
        const step = ops.decodeScan(
          await this.deadlines.bounded(node.send('SCAN', ops.scanArgs(cursor, family.glob, count))),
        );
        cursor = step.cursor;
        for (const k of step.keys) if (family.has(k)) found.add(k);
      } while (cursor !== '0');
    }
    return [...found];
  }

  /** The values of `keys`, in order (null where absent): one MGET on one server, GETs pipelined per master on a Cluster. */
  async values(keys: readonly string[]): Promise<(string | null)[]> {
    const [first, ...rest] = keys;
    if (first === undefined) return [];
    const replies = this.redis.isCluster
      ? await this.each(keys.map((k) => ops.getCommand(k)))
      : decodeMany(await this.send(ops.mgetCommand([first, ...rest])), keys.length);
    return replies.map(ops.decodeValue);
  }

  /** Deletes `keys` (writes: the cache's entries go too). */
  async delete(keys: readonly string[]): Promise<void> {
    const cache = this.cache;
    keys.forEach((k) => cache?.written(k));
    if (this.redis.isCluster) {
      // The keys hash to many slots: one DEL each, pipelined per master.
      await this.each(keys.map((k) => ops.delCommand([k])));
    } else {
      for (let i = 0; i < keys.length; i += 500) {
        const [first, ...rest] = keys.slice(i, i + 500);
        await this.send(ops.delCommand([first!, ...rest]));
      }
    }
    keys.forEach((k) => cache?.written(k));
  }

  /** Many commands, pipelined per master; the first failure rejects. */
  async each(commands: readonly CommandCall[]): Promise<unknown[]> {
    const replies = await this.deadlines.bounded(this.#batches.send(this.redis, commands));
    const failed = replies.find((r) => r instanceof Error);
    if (failed !== undefined) throw failed;
    return replies;
  }
}
