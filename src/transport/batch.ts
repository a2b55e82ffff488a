import { classifyError } from '../errors.js';
import type { RedisClient } from './client.js';
import { routeKey, toCommand, type Request, type Scripts } from './scripts.js';

/**
 * Sends many requests (scripts and plain commands alike) in one round trip and returns each
 * reply or typed error in input order. On a Cluster: one pipeline per master, all in parallel
 * (an ioredis pipeline cannot span nodes, REDIS-FACTS 15).
 */
export class Batches {
  constructor(private readonly scripts: Scripts) {}

  async send(client: RedisClient, requests: readonly Request[]): Promise<unknown[]> {
    if (requests.length === 0) return [];
    if (!client.isCluster) return this.pipeline(client, requests);
    // Group by the master that serves each request's slot, as the slot table has it now.
    const groups = new Map<string, number[]>();
    requests.forEach((r, i) => {
      const node = client.nodeOf(routeKey(r)) ?? '';
      const group = groups.get(node);
      if (group === undefined) groups.set(node, [i]);
      else group.push(i);
    });
    const results: unknown[] = new Array<unknown>(requests.length);
    await Promise.all(
      [...groups].map(async ([node, indexes]) => {
        const group = indexes.map((i) => requests[i]!);
        // No slot table yet: single requests wait for it, and ioredis routes them.
        const replies = node === '' ? await this.each(client, group) : await this.pipeline(client, group);
        indexes.forEach((i, k) => (results[i] = replies[k]));
      }),
    );
    return results;
  }

  private each(client: RedisClient, requests: readonly Request[]): Promise<unknown[]> {
    return Promise.all(requests.map((r) => this.scripts.send(client, r).catch((err: unknown) => classifyError(err))));
  }

  /** One pipeline (on a cluster: requests of one node); a recoverable failure is re-sent on its own. */
  private async pipeline(client: RedisClient, requests: readonly Request[]): Promise<unknown[]> {
    let replies: unknown[];
    try {
      replies = await client.pipeline(requests.map((r) => toCommand(r)));
    } catch (err) {
      // The slot table changed under the grouping (a reshard): ioredis refuses the pipeline.
      if (client.isCluster) return this.each(client, requests);
      throw err;
    }
    return Promise.all(
      replies.map((reply, i) => {
        if (!(reply instanceof Error)) return reply;
        // Order does not matter within a batch: re-sent on their own after the pipeline.
        const recovered = this.scripts.recover(client, requests[i]!, reply);
        return recovered === undefined ? classifyError(reply) : recovered.catch((e: unknown) => classifyError(e));
      }),
    );
  }
}
