import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis, RedisOptions } from 'ioredis';
import { ConfigurationError } from '../errors.js';

/** One Redis command: its name and its arguments, strings only (built and checked by the store). */
export type Command = readonly [name: string, ...args: string[]];

/** What a connection reports: connected (again), lost, or (Cluster) a change of nodes or slots. */
export type LifecycleEvent = 'ready' | 'close' | 'topology';

/**
 * The narrow face of a Redis client that the store talks through. ioredis (`Redis`, `Cluster`)
 * and node-redis clients are adapted to it once, so no other file casts a client or asks which
 * driver it has (BullMQ keeps the same seam as `IRedisClient`).
 */
export interface RedisClient {
  readonly isCluster: boolean;
  /** Sends one command (coalesced with others of the same tick where the driver does that). */
  send(name: string, args: readonly string[]): Promise<unknown>;
  /** Sends commands to one node in one write; each entry is the command's reply or its Error. */
  pipeline(commands: readonly Command[]): Promise<unknown[]>;
  /** The master serving `key`: '' on one server, undefined while a Cluster has no slot table. */
  nodeOf(key: string): string | undefined;
  /** A client per master: itself on one server, each master's connection on a Cluster. */
  masters(): RedisClient[];
  /** The master's address as `nodeOf` names it ('' on one server). */
  readonly address: string;
  /** Calls `listener` on every lifecycle event until the returned function is called. */
  onLifecycle(listener: (event: LifecycleEvent) => void): () => void;
  /** Closes gracefully (QUIT), or drops the connection when that fails. */
  close(): Promise<void>;
  /** What the session cache needs of this topology; undefined for a driver it cannot track on. */
  tracking(): TrackingPort | undefined;
}

/**
 * The session cache's port on a topology (ioredis only: the cache's links need its pub/sub):
 * the masters, each with its address and a way to open connections like the store's to it,
 * and which master serves each slot.
 */
export interface TrackingPort {
  readonly isCluster: boolean;
  trackedMasters(): TrackedMaster[];
  /** The masters and which of them serves each slot, as one comparable string ('' on one server). */
  layout(): string;
  /** The master serving `key`, as a master's address names it ('' on one server). */
  nodeOf(key: string): string | undefined;
}

export interface TrackedMaster {
  /** As `nodeOf` names it ('' on one server). */
  readonly address: string;
  /** A new, lazily connecting connection to this master with its options and `overrides`. */
  duplicate(overrides: RedisOptions): Redis;
}

/** The parts of a node-redis (v4/v5) client the store uses. */
export interface NodeRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): unknown;
  off?(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** An ioredis client or Cluster. */
export type IoredisClient = Redis | Cluster;

function isCluster(client: IoredisClient): client is Cluster {
  return client.isCluster;
}

function addressOf(node: Redis): string {
  return `${node.options.host}:${node.options.port}`;
}

/** Adapts an ioredis Redis or Cluster. */
class Ioredis implements RedisClient, TrackingPort {
  readonly isCluster: boolean;
  #corked = false;

  constructor(
    readonly driver: IoredisClient,
    readonly address = '',
  ) {
    this.isCluster = driver.isCluster;
  }

  send(name: string, args: readonly string[]): Promise<unknown> {
    this.#coalesce();
    // Every uncached read is an HGET (the adapter's a GET): ioredis's own methods skip the
    // argument shuffling of `call` (measured: 5-7% less Node CPU per HGET).
    if (name === 'HGET' && args.length === 2) return this.driver.hget(args[0]!, args[1]!);
    if (name === 'GET' && args.length === 1) return this.driver.get(args[0]!);
    // ioredis flattens an array argument into the command: one array, no spread per call.
    return this.driver.call(name, args as string[]);
  }

  /**
   * Holds the socket writes until the event loop's check phase, so the commands sent during one
   * turn of the loop (every request whose data arrived in that poll, not only one callback's)
   * leave in one write per connection and reach Redis in one read. That is what ioredis's
   * auto-pipelining is for, without its pipeline object and extra promise per command: against
   * it, Node CPU per HGET 0.57-0.75x and Redis CPU 0.62-1.07x at 1 to 32 in flight (two runs);
   * bench:cpu, bench:capacity and bench:express carry the end-to-end figures. On a Cluster each
   * master's socket is held: ioredis picks the node per command.
   */
  #coalesce(): void {
    if (this.#corked) return;
    const d = this.driver;
    const streams = isCluster(d) ? d.nodes('master').map((node) => node.stream) : [d.stream];
    // Before the first connect, or while reconnecting, ioredis queues commands itself.
    const held = streams.filter((stream) => stream !== undefined && stream.writable);
    if (held.length === 0) return;
    this.#corked = true;
    for (const stream of held) stream.cork();
    setImmediate(() => {
      this.#corked = false;
      for (const stream of held) stream.uncork();
    });
  }

  async pipeline(commands: readonly Command[]): Promise<unknown[]> {
    const pipeline = this.driver.pipeline();
    for (const [name, ...args] of commands) pipeline.call(name, ...args);
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, result]) => err ?? result);
  }

  nodeOf(key: string): string | undefined {
    const d = this.driver;
    if (!isCluster(d)) return '';
    return d.slots[calculateSlot(key)]?.[0];
  }

  masters(): RedisClient[] {
    const d = this.driver;
    if (!isCluster(d)) return [this];
    return d.nodes('master').map((node) => new Ioredis(node, addressOf(node)));
  }

  tracking(): TrackingPort {
    return this;
  }

  /** Each master, duplicated by its own options (a Sentinel client's duplicate asks the Sentinels again). */
  trackedMasters(): TrackedMaster[] {
    const d = this.driver;
    const nodes: [string, Redis][] = isCluster(d) ? d.nodes('master').map((n) => [addressOf(n), n]) : [['', d]];
    return nodes.map(([address, node]) => ({ address, duplicate: (overrides) => node.duplicate(overrides) }));
  }

  layout(): string {
    const d = this.driver;
    if (!isCluster(d)) return '';
    const ranges: string[] = [];
    let owner: string | undefined;
    for (let slot = 0; slot < 16384; slot++) {
      const next = d.slots[slot]?.[0];
      if (next !== owner) ranges.push(`${slot}:${(owner = next)}`);
    }
    return ranges.join(',');
  }

  onLifecycle(listener: (event: LifecycleEvent) => void): () => void {
    const d = this.driver;
    const ready = () => listener('ready');
    const close = () => listener('close');
    const topology = () => listener('topology');
    d.on('ready', ready);
    d.on('close', close);
    if (isCluster(d)) {
      d.on('+node', topology);
      d.on('-node', topology);
      d.on('refresh', topology);
    }
    return () => {
      d.off('ready', ready);
      d.off('close', close);
      d.off('+node', topology);
      d.off('-node', topology);
      d.off('refresh', topology);
    };
  }

  async close(): Promise<void> {
    try {
      await this.driver.quit();
    } catch {
      this.driver.disconnect();
    }
  }
}

/** Adapts a node-redis client (one server; its cluster client has another API). */
class NodeRedis implements RedisClient {
  readonly isCluster = false;
  readonly address = '';

  constructor(private readonly driver: NodeRedisClient) {}

  send(name: string, args: readonly string[]): Promise<unknown> {
    return this.driver.sendCommand([name, ...args]);
  }

  pipeline(commands: readonly Command[]): Promise<unknown[]> {
    // node-redis writes the commands of one tick together: the same round trip as a pipeline.
    return Promise.all(
      commands.map((c) =>
        this.driver.sendCommand([...c]).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err)))),
      ),
    );
  }

  nodeOf(): string {
    return '';
  }

  masters(): RedisClient[] {
    return [this];
  }

  onLifecycle(listener: (event: LifecycleEvent) => void): () => void {
    const d = this.driver;
    const ready = () => listener('ready');
    const close = () => listener('close');
    d.on?.('ready', ready);
    d.on?.('end', close);
    d.on?.('reconnecting', close);
    return () => {
      d.off?.('ready', ready);
      d.off?.('end', close);
      d.off?.('reconnecting', close);
    };
  }

  close(): Promise<void> {
    // A caller's node-redis client is the caller's to close.
    return Promise.resolve();
  }

  tracking(): undefined {
    // node-redis delivers RESP2 invalidations only through its own client-side cache.
    return undefined;
  }
}

/** Whether `value` is an ioredis client or Cluster (by shape: the caller may have another ioredis copy). */
export function isIoredis(value: unknown): value is IoredisClient {
  return typeof (value as Redis | null)?.call === 'function' && typeof (value as Redis).pipeline === 'function';
}

/** The store's face for a driver client. */
export function adapt(client: IoredisClient | NodeRedisClient): RedisClient {
  if (isIoredis(client)) return new Ioredis(client);
  if (typeof (client as NodeRedisClient | null)?.sendCommand === 'function') return new NodeRedis(client);
  throw new ConfigurationError('client', 'expected an ioredis client or Cluster, or a node-redis client');
}
