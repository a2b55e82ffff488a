import { hash } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { Deadlines } from './deadlines.js';
import { classifyError, StoreReplicationError } from './errors.js';
import { luaScripts, type ScriptName } from './lua.generated.js';
import type { WaitForReplicas } from './options.js';

export type Client = Redis | Cluster;

/** One script invocation: the script, its KEYS and its ARGV (strings only, built by the store). */
export interface ScriptCall {
  script: ScriptName;
  keys: readonly string[];
  args: readonly string[];
}

const SHAS = Object.fromEntries(
  Object.entries(luaScripts).map(([name, s]) => [name, hash('sha1', s.body, 'hex')]),
) as Record<ScriptName, string>;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

// Replies a cluster node gives for a slot it does not (or not yet, or no longer) serve. A
// pipeline sent to one node gets them raw; the same call sent on its own is redirected and
// retried by ioredis.
const CLUSTER_REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

function isRedirect(err: unknown): boolean {
  return err instanceof Error && CLUSTER_REDIRECT.test(err.message);
}

function addCall(pipeline: ChainableCommander, call: ScriptCall, withBody = false): void {
  const script = luaScripts[call.script];
  if (withBody) pipeline.eval(script.body, script.numberOfKeys, ...call.keys, ...call.args);
  else pipeline.evalsha(SHAS[call.script], script.numberOfKeys, ...call.keys, ...call.args);
}

/**
 * The one funnel through which the store talks to Redis. Scripts go out as EVALSHA by a SHA
 * computed here; a NOSCRIPT reply (restart, failover, SCRIPT FLUSH) is answered by EVAL with
 * the body, which also reloads the cache. Never inside MULTI, where ioredis cannot recover.
 * Every call is bounded by the time budget; errors leave here as typed store errors.
 */
export class ScriptRunner {
  /** Called once per script reload after NOSCRIPT (for metrics). */
  onReload: ((script: ScriptName) => void) | undefined;

  private readonly deadlines: Deadlines;
  /** Per connection (and cluster node) whose last WAIT fell short: until when writes skip WAIT, and whether one is probing. */
  private readonly shortOfReplicas = new Map<string, { until: number; probing: boolean }>();
  private readonly clientIds = new Map<Client, number>();

  constructor(timeoutMs: number) {
    this.deadlines = new Deadlines(timeoutMs);
  }

  run(client: Client, call: ScriptCall): Promise<unknown> {
    // The hot path: one promise per call, the NOSCRIPT fallback inside its rejection handler.
    return new Promise((resolve, reject) => {
      const budget = this.deadlines.add(reject);
      const done = (value: unknown) => {
        budget.settled = true;
        resolve(value);
      };
      const fail = (err: unknown) => {
        budget.settled = true;
        reject(classifyError(err));
      };
      const script = luaScripts[call.script];
      client.evalsha(SHAS[call.script], script.numberOfKeys, ...call.keys, ...call.args).then(done, (err: unknown) => {
        if (!isNoScript(err)) return fail(err);
        this.reload(client, call).then(done, fail);
      });
    });
  }

  /**
   * Runs many calls in one pipelined round trip and returns each result or error in order. On a
   * Cluster: one pipeline per master, all in parallel (an ioredis pipeline cannot span nodes).
   */
  runBatch(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    return this.bounded(this.sendBatch(client, calls));
  }

  private send(client: Client, call: ScriptCall): Promise<unknown> {
    const script = luaScripts[call.script];
    return client.evalsha(SHAS[call.script], script.numberOfKeys, ...call.keys, ...call.args).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return this.reload(client, call);
    });
  }

  /** After NOSCRIPT: EVAL with the body, which also puts the script back in Redis's cache. */
  private reload(client: Client, call: ScriptCall): Promise<unknown> {
    const script = luaScripts[call.script];
    this.onReload?.(call.script);
    return client.eval(script.body, script.numberOfKeys, ...call.keys, ...call.args);
  }

  private async sendBatch(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    if (!client.isCluster) return this.sendPipeline(client, calls);
    const cluster = client as Cluster;
    // Group by the master that serves each call's slot, as ioredis's slot table has it now.
    const groups = new Map<string, number[]>();
    calls.forEach((call, i) => {
      const node = cluster.slots[calculateSlot(call.keys[0]!)]?.[0] ?? '';
      const group = groups.get(node);
      if (group === undefined) groups.set(node, [i]);
      else group.push(i);
    });
    const results: unknown[] = new Array(calls.length);
    await Promise.all(
      [...groups].map(async ([node, indexes]) => {
        const group = indexes.map((i) => calls[i]!);
        // No slot table yet: single calls wait for it, and ioredis routes them.
        const replies = node === '' ? await this.sendEach(client, group) : await this.sendPipeline(client, group);
        indexes.forEach((i, k) => (results[i] = replies[k]));
      }),
    );
    return results;
  }

  private sendEach(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    return Promise.all(calls.map((c) => this.send(client, c).catch((err: unknown) => classifyError(err))));
  }

  /** One pipeline (on a cluster: calls of one node); a call that failed for a recoverable reason is re-sent on its own. */
  private async sendPipeline(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    const pipeline = client.pipeline();
    for (const call of calls) addCall(pipeline, call);
    let replies: [Error | null, unknown][];
    try {
      replies = (await pipeline.exec()) ?? [];
    } catch (err) {
      // The slot table changed under the grouping (a reshard): ioredis refuses the pipeline.
      if (client.isCluster) return this.sendEach(client, calls);
      throw err;
    }
    return Promise.all(
      replies.map(([err, result], i) => {
        if (!err) return result;
        // Order does not matter for these reads: re-sent on their own after the pipeline.
        if (isNoScript(err) || isRedirect(err))
          return this.send(client, calls[i]!).catch((e: unknown) => classifyError(e));
        return classifyError(err);
      }),
    );
  }

  /**
   * Runs a write and `WAIT`s for replicas in the same round trip, on the connection (the node)
   * that ran it. Rejects StoreReplicationError when too few replicas confirm in time.
   */
  runConfirmed(client: Client, call: ScriptCall, wait: WaitForReplicas, unblocked: Client): Promise<unknown> {
    return this.bounded(this.sendConfirmed(client, call, wait, unblocked));
  }

  private async sendConfirmed(
    client: Client,
    call: ScriptCall,
    wait: WaitForReplicas,
    unblocked: Client,
  ): Promise<unknown> {
    // WAIT blocks its connection: while replicas are missing, each one holds every later command
    // on it for the whole timeout. After a short WAIT, writes to that node skip WAIT and go on a
    // connection without WAITs queued (applied, reported unconfirmed at once) until the timeout
    // has passed again; then one write tries WAIT again.
    const route = this.routeOf(client, call);
    const short = this.shortOfReplicas.get(route);
    if (short !== undefined && (short.probing || performance.now() < short.until)) {
      await this.send(unblocked, call);
      throw new StoreReplicationError(wait.replicas, 0);
    }
    // Past the window, one write at a time probes with WAIT; the rest still skip it.
    if (short !== undefined) short.probing = true;
    try {
      return await this.writeConfirmed(client, call, wait, route, unblocked);
    } finally {
      if (short !== undefined) short.probing = false;
    }
  }

  private async writeConfirmed(
    client: Client,
    call: ScriptCall,
    wait: WaitForReplicas,
    route: string,
    unblocked: Client,
  ): Promise<unknown> {
    let [result, acked] = await this.writeAndWait(client, call, wait, false);
    if (isNoScript(result)) {
      // A new master (failover) lacks the scripts, and often replicas too: when this WAIT
      // already fell short, do not queue a second one behind it.
      if (typeof acked === 'number' && acked < wait.replicas) {
        this.markShort(route, wait);
        await this.reload(unblocked, call);
        throw new StoreReplicationError(wait.replicas, acked);
      }
      this.onReload?.(call.script);
      [result, acked] = await this.writeAndWait(client, call, wait, true);
    }
    if (isRedirect(result) && client.isCluster) {
      // The slot moved: ioredis redirects the write itself; then WAIT on the node that took it.
      const askedNode = /^ASK \d+ (\S+)/.exec((result as Error).message)?.[1];
      result = await this.send(client, call);
      acked = await this.waitOnNode(
        client as Cluster,
        askedNode ?? (client as Cluster).slots[calculateSlot(call.keys[0]!)]?.[0],
        wait,
      );
    }
    if (result instanceof Error) throw result;
    if (acked instanceof Error) throw acked;
    if (Number(acked) < wait.replicas) {
      this.markShort(route, wait);
      throw new StoreReplicationError(wait.replicas, Number(acked));
    }
    this.shortOfReplicas.delete(route);
    return result;
  }

  private markShort(route: string, wait: WaitForReplicas): void {
    this.shortOfReplicas.set(route, { until: performance.now() + wait.timeout, probing: false });
  }

  /** The node a call's WAIT runs on: the slot's master on a cluster, else the connection. */
  private routeOf(client: Client, call: ScriptCall): string {
    let id = this.clientIds.get(client);
    if (id === undefined) this.clientIds.set(client, (id = this.clientIds.size));
    const node = client.isCluster ? ((client as Cluster).slots[calculateSlot(call.keys[0]!)]?.[0] ?? '') : '';
    return `${id}/${node}`;
  }

  /** [the script's reply or error, WAIT's reply or error] from one pipeline. */
  private async writeAndWait(
    client: Client,
    call: ScriptCall,
    wait: WaitForReplicas,
    withBody: boolean,
  ): Promise<[unknown, unknown]> {
    const pipeline = client.pipeline();
    addCall(pipeline, call, withBody);
    pipeline.wait(wait.replicas, wait.timeout);
    const [write, waited] = ((await pipeline.exec()) ?? []) as [Error | null, unknown][];
    return [write?.[0] ?? write?.[1], waited?.[0] ?? waited?.[1]];
  }

  private async waitOnNode(cluster: Cluster, nodeKey: string | undefined, wait: WaitForReplicas): Promise<unknown> {
    const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === nodeKey);
    // Unknown node: the write cannot be confirmed.
    return node === undefined ? 0 : node.wait(wait.replicas, wait.timeout);
  }

  /**
   * Loads every script into the script cache of each master the client talks to, so first calls
   * go out as EVALSHA and a reload counts only real cache losses. Best effort: a refused
   * SCRIPT LOAD (an ACL without it) leaves the EVAL fallback to do the job.
   */
  async preload(client: Client): Promise<void> {
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    await this.bounded(
      Promise.all(
        nodes.map((node) => {
          const pipeline = node.pipeline();
          for (const script of Object.values(luaScripts)) pipeline.script('LOAD', script.body);
          return pipeline.exec();
        }),
      ),
    );
  }

  /** Bounds any Redis promise by the time budget and types its errors. */
  bounded<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const budget = this.deadlines.add(reject);
      work.then(
        (value) => {
          budget.settled = true;
          resolve(value);
        },
        (err: unknown) => {
          budget.settled = true;
          reject(classifyError(err));
        },
      );
    });
  }
}
