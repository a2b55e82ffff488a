import { RedisClock } from './clock.js';
import type { StoreOptions } from './config/options.js';
import type { ResolvedOptions } from './config/resolve.js';
import { classifyError, StoreClosedError } from './errors.js';
import type { ScriptName } from './lua.generated.js';
import { Batches } from './transport/batch.js';
import { adapt, isIoredis, type RedisClient } from './transport/client.js';
import { callerClientReady, checkCallerClient, openClients, preflight } from './transport/connection.js';
import { Deadlines, type Reachability } from './transport/deadlines.js';
import { Replication } from './transport/replication.js';
import { Scripts, type Request, type ScriptCall } from './transport/scripts.js';
import type { ServerIdentity } from './server.js';
import type { HealthReport } from './types.js';

/** What the connections report to the store: replies for the metrics, and script reloads. */
export interface ConnectionHooks {
  reach?: Reachability;
  onReload(script: ScriptName): void;
}

/**
 * The store's connections: opening them (or adopting a caller's client), the writer that
 * waitForReplicas needs, the choice of connection per call, the Redis clock they are sampled
 * for, and closing. Every request passes `send`, `batch` or `write`, bounded by the call budget.
 */
export class Connections {
  readonly clock = new RedisClock();
  readonly scripts = new Scripts();
  readonly batches = new Batches(this.scripts);
  /** Bounds a promise by the call budget and types its errors. */
  readonly bounded: <T>(p: Promise<T>) => Promise<T>;
  readonly deadlines: Deadlines;
  // Private fields (#): neither util.inspect nor JSON.stringify shows them, so a logged store
  // cannot leak the Redis password its clients hold.
  readonly #clients: readonly RedisClient[];
  /** With waitForReplicas, writes go on their own connection: WAIT blocks the one it is sent on. */
  readonly #writer: RedisClient | undefined;
  readonly #owns: boolean;
  readonly #replication: Replication | undefined;
  readonly #unsubscribe: (() => void)[] = [];
  /** The store's onScriptReload listener. */
  reloadListener: ((script: ScriptName) => void) | undefined;
  /** The server found at connect (undefined when INFO is not permitted). */
  server: ServerIdentity | undefined;
  #next = 0;
  #closed = false;

  private constructor(
    clients: readonly RedisClient[],
    writer: RedisClient | undefined,
    owns: boolean,
    options: ResolvedOptions,
    hooks: ConnectionHooks,
  ) {
    this.#clients = clients;
    this.#writer = writer;
    this.#owns = owns;
    this.deadlines = new Deadlines(options.commandTimeout, hooks.reach);
    this.bounded = (p) => this.deadlines.bounded(p);
    this.#replication =
      options.waitForReplicas === undefined ? undefined : new Replication(this.scripts, options.waitForReplicas);
    this.scripts.onReload = (script) => {
      hooks.onReload(script);
      this.reloadListener?.(script);
    };
  }

  /**
   * Connects (or adopts `options.redis`), checks the server, loads the scripts and samples the
   * Redis clock. On any failure nothing stays open, and the error is typed.
   */
  static async open(
    options: ResolvedOptions,
    given: StoreOptions['redis'],
    hooks: ConnectionHooks,
  ): Promise<Connections> {
    if (given !== undefined) {
      checkCallerClient(given);
      if (isIoredis(given)) await callerClientReady(given, options);
    }
    const confirmed = options.waitForReplicas !== undefined;
    const drivers =
      given !== undefined ? [given] : await openClients(options, options.maxConnections + (confirmed ? 1 : 0));
    const clients = drivers.map(adapt);
    const writer = !confirmed ? undefined : given !== undefined ? clients[0] : clients.pop();
    const connections = new Connections(clients, writer, given === undefined, options, hooks);
    try {
      connections.server = await preflight(clients[0]!, options.logger, connections.bounded);
      await Promise.all(connections.#all().map((c) => connections.bounded(connections.scripts.preload(c))));
      await connections.clock.sample(clients[0]!, connections.bounded);
    } catch (err) {
      await connections.close();
      throw classifyError(err);
    }
    return connections;
  }

  /** The first connection: the one the session cache tracks the topology through. */
  get primary(): RedisClient {
    return this.#clients[0]!;
  }

  assertOpen(): void {
    if (this.#closed) throw new StoreClosedError();
  }

  /** The connection for the next call (round robin); resamples the clock when it is due. */
  client(at?: number): RedisClient {
    this.assertOpen();
    const clients = this.#clients;
    const client = clients.length === 1 ? clients[0]! : clients[(this.#next = (this.#next + 1) % clients.length)]!;
    this.clock.refresh(client, this.bounded, at);
    return client;
  }

  /** One read request. */
  send(request: Request): Promise<unknown> {
    return this.bounded(this.scripts.send(this.client(), request));
  }

  /** Many requests in one round trip (per master on a Cluster); each reply or its typed error. */
  batch(client: RedisClient, requests: readonly Request[]): Promise<unknown[]> {
    return this.bounded(this.batches.send(client, requests));
  }

  /** A write: with `waitForReplicas`, it resolves only once replicas confirm it. */
  write(call: ScriptCall): Promise<unknown> {
    const replication = this.#replication;
    if (replication === undefined) return this.send(call);
    const unblocked = this.client();
    return this.bounded(replication.write(this.#writer!, call, unblocked));
  }

  /** A PING within the budget; never throws. */
  async health(): Promise<HealthReport> {
    const started = performance.now();
    try {
      await this.bounded(this.client().send('PING', []));
      return { healthy: true, latencyMs: performance.now() - started, checkedAt: Date.now() };
    } catch (err) {
      return {
        healthy: false,
        latencyMs: performance.now() - started,
        checkedAt: Date.now(),
        error: classifyError(err).code,
      };
    }
  }

  /**
   * After every reconnect the clock offset is measured again (a failover may bring another
   * server's clock); a Cluster's change of nodes or slots is passed to `onTopology`.
   */
  watch(onTopology: () => void): void {
    for (const client of this.#all()) {
      this.#unsubscribe.push(
        client.onLifecycle((event) => {
          if (event === 'topology') onTopology();
          if (event !== 'close' && !this.#closed) this.clock.sample(client, this.bounded).catch(() => undefined);
        }),
      );
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connections it opened (not a client passed as `redis`). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unsubscribe.forEach((stop) => stop());
    if (!this.#owns) return;
    await Promise.all(this.#all().map((c) => c.close()));
  }

  /** Every client, each once (a caller's client may be both reader and writer). */
  #all(): RedisClient[] {
    const writer = this.#writer;
    return writer === undefined || this.#clients.includes(writer) ? [...this.#clients] : [...this.#clients, writer];
  }
}
