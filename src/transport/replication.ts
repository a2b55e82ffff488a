import type { WaitForReplicas } from '../config/options.js';
import { StoreReplicationError } from '../errors.js';
import type { RedisClient } from './client.js';
import { isNoScript, isRedirect, toCommand, type ScriptCall, type Scripts } from './scripts.js';

/**
 * Writes confirmed by `WAIT` in the same round trip, on the node that ran them (see the README,
 * "Durability"). WAIT blocks its connection: while replicas are missing, each one holds every
 * later command on it for the whole timeout. So after a short WAIT, writes to that node skip
 * WAIT and go on a connection without WAITs queued (applied, reported unconfirmed at once) until
 * the timeout has passed again; then one write at a time probes with WAIT.
 */
export class Replication {
  /** Per connection (and cluster node) whose last WAIT fell short: until when writes skip WAIT, and whether one is probing. */
  private readonly shortOfReplicas = new Map<string, { until: number; probing: boolean }>();
  private readonly clientIds = new Map<RedisClient, number>();

  constructor(
    private readonly scripts: Scripts,
    private readonly wait: WaitForReplicas,
  ) {}

  /** Runs the write on `client` and WAITs; `unblocked` is a connection no WAIT is queued on. */
  async write(client: RedisClient, call: ScriptCall, unblocked: RedisClient): Promise<unknown> {
    const route = this.routeOf(client, call);
    const short = this.shortOfReplicas.get(route);
    if (short !== undefined && (short.probing || performance.now() < short.until)) {
      await this.scripts.send(unblocked, call);
      throw new StoreReplicationError(this.wait.replicas, 0);
    }
    if (short !== undefined) short.probing = true;
    try {
      return await this.confirmed(client, call, route, unblocked);
    } finally {
      if (short !== undefined) short.probing = false;
    }
  }

  private async confirmed(
    client: RedisClient,
    call: ScriptCall,
    route: string,
    unblocked: RedisClient,
  ): Promise<unknown> {
    const wait = this.wait;
    let [result, acked] = await this.writeAndWait(client, call, false);
    if (isNoScript(result)) {
      // A new master (failover) lacks the scripts, and often replicas too: when this WAIT
      // already fell short, do not queue a second one behind it.
      if (typeof acked === 'number' && acked < wait.replicas) {
        this.markShort(route);
        await this.scripts.reload(unblocked, call);
        throw new StoreReplicationError(wait.replicas, acked);
      }
      [result, acked] = await this.writeAndWait(client, call, true);
    }
    if (isRedirect(result) && client.isCluster) {
      // The slot moved: ioredis redirects the write itself; then WAIT on the node that took it.
      const askedNode = /^ASK \d+ (\S+)/.exec((result as Error).message)?.[1];
      result = await this.scripts.recover(client, call, result);
      acked = await this.waitOn(client, askedNode ?? client.nodeOf(call.keys[0]!));
    }
    if (result instanceof Error) throw result;
    if (acked instanceof Error) throw acked;
    if (Number(acked) < wait.replicas) {
      this.markShort(route);
      throw new StoreReplicationError(wait.replicas, Number(acked));
    }
    this.shortOfReplicas.delete(route);
    return result;
  }

  private markShort(route: string): void {
    this.shortOfReplicas.set(route, { until: performance.now() + this.wait.timeout, probing: false });
  }

  /** The node a call's WAIT runs on: the slot's master on a cluster, else the connection. */
  private routeOf(client: RedisClient, call: ScriptCall): string {
    let id = this.clientIds.get(client);
    if (id === undefined) this.clientIds.set(client, (id = this.clientIds.size));
    return `${id}/${client.nodeOf(call.keys[0]!) ?? ''}`;
  }

  /** [the script's reply or error, WAIT's reply or error] from one pipeline. */
  private async writeAndWait(client: RedisClient, call: ScriptCall, withBody: boolean): Promise<[unknown, unknown]> {
    const { replicas, timeout } = this.wait;
    const [write, waited] = await client.pipeline([
      withBody ? this.scripts.reloadCommand(call) : toCommand(call),
      ['WAIT', String(replicas), String(timeout)],
    ]);
    return [write, waited];
  }

  private async waitOn(client: RedisClient, node: string | undefined): Promise<unknown> {
    const master = client.masters().find((m) => m.address === node);
    // Unknown node: the write cannot be confirmed.
    return master === undefined ? 0 : master.send('WAIT', [String(this.wait.replicas), String(this.wait.timeout)]);
  }
}
