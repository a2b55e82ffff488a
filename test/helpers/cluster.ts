import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Cluster, type Redis } from 'ioredis';
import { freeServerPort } from '../../tools/redis-server.js';
import { startRedis, waitFor, type TestRedis } from './redis.js';

const run = promisify(execFile);

/** A real Redis Cluster of redis-server processes on loopback, started and stopped by the test. */
export interface TestCluster {
  nodes: TestRedis[];
  /** Seed addresses for clients (every node). */
  seeds: { host: string; port: number }[];
  /** A key-routed client for assertions; closed by stop(). */
  admin: Cluster;
  /** The nodes that are masters right now (asked from each live node's INFO). */
  masters(): Promise<TestRedis[]>;
  /** The node id (CLUSTER MYID) of a node. */
  idOf(node: TestRedis): Promise<string>;
  /** The node serving `slot` as master right now. */
  masterOf(slot: number): Promise<TestRedis>;
  /** Waits until every live node says cluster_state:ok, agrees on the masters, and every master has a linked replica. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ClusterConfig {
  masters?: number;
  replicasPerMaster?: number;
  /** cluster-node-timeout in ms: how long a master may be silent before failover starts. */
  nodeTimeout?: number;
  /** Extra redis-server arguments for every node. */
  args?: string[];
}

/** Every node's own flags and role in CLUSTER NODES. */
function parseNodes(text: string): { id: string; addr: string; flags: string[]; masterId: string; slots: string[] }[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id, addr, flags, masterId, , , , , ...slots] = line.split(' ');
      return { id: id!, addr: addr!.split('@')[0]!, flags: flags!.split(','), masterId: masterId!, slots };
    });
}

export async function startCluster(config: ClusterConfig = {}): Promise<TestCluster> {
  const masters = config.masters ?? 3;
  const replicas = config.replicasPerMaster ?? 1;
  const nodes: TestRedis[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      // The cluster bus gets a free port of its own (the default, port + 10000, may be taken).
      const busPort = await freeServerPort();
      nodes.push(
        await startRedis([
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          String(config.nodeTimeout ?? 1000),
          '--cluster-announce-ip',
          '127.0.0.1',
          '--cluster-port',
          String(busPort),
          ...(config.args ?? []),
        ]),
      );
    }
    const addrs = nodes.map((n) => `${n.host}:${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(replicas), '--cluster-yes'], {
      timeout: 30_000,
    });
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop()));
    throw err;
  }

  const alive = () => nodes.filter((n) => n.admin.status === 'ready');
  const roleOf = async (n: TestRedis) => /role:(\w+)/.exec(await n.admin.info('replication'))?.[1];
  const handle: TestCluster = {
    nodes,
    seeds: nodes.map((n) => ({ host: n.host, port: n.port })),
    admin: undefined as unknown as Cluster,
    async masters() {
      const out: TestRedis[] = [];
      for (const n of alive()) if ((await roleOf(n).catch(() => undefined)) === 'master') out.push(n);
      return out;
    },
    async idOf(node) {
      return (await node.admin.call('CLUSTER', 'MYID')) as string;
    },
    async masterOf(slot) {
      const [, , [host, port]] = (
        (await handle.admin.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]
      ).find(([from, to]) => slot >= from && slot <= to)!;
      return nodes.find((n) => n.host === host && n.port === Number(port))!;
    },
    async waitHealthy(timeoutMs = 20_000) {
      await waitFor(
        async () => {
          const live = alive();
          const views = await Promise.all(
            live.map(
              async (n) =>
                [
                  (await n.admin.call('CLUSTER', 'INFO')) as string,
                  parseNodes((await n.admin.call('CLUSTER', 'NODES')) as string),
                ] as const,
            ),
          );
          for (const [info, view] of views) {
            if (!info.includes('cluster_state:ok')) return false;
            // No node still in handshake or suspected of failure, from any node's point of view.
            if (view.some((v) => v.flags.some((f) => f === 'handshake' || f === 'fail?' || f === 'noaddr')))
              return false;
          }
          // Every master that serves slots has a replica whose link is up (WAIT tests rely on it).
          const ms = await handle.masters();
          for (const m of ms) {
            const info = await m.admin.info('replication');
            const slotted = views[0]![1].find((v) => v.addr === `${m.host}:${m.port}`)?.slots.length ?? 0;
            if (slotted > 0 && replicas > 0 && !/slave\d+:.*state=online/.test(info)) return false;
          }
          for (const n of live) {
            const info = await n.admin.info('replication');
            if (info.includes('role:slave') && !info.includes('master_link_status:up')) return false;
          }
          return true;
        },
        timeoutMs,
        100,
      );
    },
    async stop() {
      handle.admin?.disconnect();
      await Promise.all(nodes.map((n) => n.stop()));
    },
  };
  try {
    await handle.waitHealthy();
    handle.admin = new Cluster(handle.seeds, { redisOptions: { maxRetriesPerRequest: 1 }, scaleReads: 'master' });
    handle.admin.on('error', () => undefined);
    await waitFor(async () => (await handle.admin.ping()) === 'PONG', 10_000);
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

/** Runs a command on every master of the cluster (FLUSHALL, CONFIG SET, SCRIPT FLUSH, ...). */
export async function onEveryMaster(cluster: TestCluster, fn: (admin: Redis) => Promise<unknown>): Promise<void> {
  await Promise.all((await cluster.masters()).map((m) => fn(m.admin)));
}

/**
 * One redis-server in cluster mode that serves every slot: enough for slot arithmetic and
 * cluster-client code paths, without the replicas and failovers `startCluster` brings.
 */
export async function startSingleNodeCluster(): Promise<TestRedis> {
  const node = await startRedis([
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    'nodes.conf',
    '--cluster-announce-ip',
    '127.0.0.1',
    '--cluster-port',
    String(await freeServerPort()),
  ]);
  try {
    await node.admin.call('CLUSTER', 'ADDSLOTSRANGE', '0', '16383');
    await waitFor(
      async () => ((await node.admin.call('CLUSTER', 'INFO')) as string).includes('cluster_state:ok'),
      10_000,
    );
  } catch (err) {
    await node.stop();
    throw err;
  }
  return node;
}
