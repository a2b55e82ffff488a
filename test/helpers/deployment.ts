import { Cluster, Redis } from 'ioredis';
import { RedisSessionStore, type StoreOptions } from '../../src/index.js';
import { onEveryMaster, type TestCluster } from './cluster.js';
import { commandCount, type TestRedis } from './redis.js';
import { MASTER_NAME, type TestSentinel } from './sentinel.js';

/** A running Redis deployment as the functional suite sees it: how to connect, and admin views. */
export interface Deployment {
  /** A store on this deployment; extra options override the deployment's. */
  open(options: StoreOptions, protocol: 2 | 3): Promise<RedisSessionStore>;
  /** A key-routed admin client (the default user) for planting and inspecting keys. */
  admin: Redis | Cluster;
  /** REDIS_URL for fromEnv. */
  envUrl: string;
  /** A client the caller owns, passed to the store as `redis`. */
  callerClient(protocol: 2 | 3): Redis | Cluster;
  flushAll(): Promise<void>;
  /** Commands served so far, all nodes together (background traffic excluded). */
  commandCount(): Promise<number>;
  keys(pattern: string): Promise<string[]>;
  dbsize(): Promise<number>;
  connectedClients(): Promise<number>;
  configSet(name: string, value: string): Promise<void>;
}

function withProtocol(base: StoreOptions, options: StoreOptions, protocol: 2 | 3): StoreOptions {
  return {
    commandTimeout: 2000,
    ...base,
    ...options,
    redisOptions: { protocol, ...base.redisOptions, ...options.redisOptions },
  };
}

/** One server; `base` adds connection options (e.g. an ACL user's credentials). */
export function standalone(r: TestRedis, base: StoreOptions = {}): Deployment {
  return {
    open: (options, protocol) => RedisSessionStore.connect(withProtocol({ url: r.url, ...base }, options, protocol)),
    admin: r.admin,
    envUrl:
      base.username === undefined
        ? r.url
        : `redis://${encodeURIComponent(base.username)}:${encodeURIComponent(base.password ?? '')}@${r.host}:${r.port}`,
    callerClient: (protocol) => new Redis(r.url, { protocol, username: base.username, password: base.password }),
    flushAll: async () => void (await r.admin.flushall()),
    commandCount: () => commandCount(r.admin),
    keys: (pattern) => r.admin.keys(pattern),
    dbsize: () => r.admin.dbsize(),
    connectedClients: async () => Number(/connected_clients:(\d+)/.exec(await r.admin.info('clients'))![1]),
    configSet: async (name, value) => void (await r.admin.config('SET', name, value)),
  };
}

/** A real cluster: admin views sum over its masters. */
export function cluster(c: TestCluster, base: StoreOptions = {}): Deployment {
  const masters = () => c.masters();
  const sum = async (fn: (n: TestRedis) => Promise<number>) =>
    (await Promise.all((await masters()).map(fn))).reduce((a, b) => a + b, 0);
  return {
    open: (options, protocol) =>
      RedisSessionStore.connect(withProtocol({ cluster: c.seeds, ...base }, options, protocol)),
    admin: c.admin,
    envUrl: c.seeds.map((s) => `redis://${s.host}:${s.port}`).join(','),
    callerClient: (protocol) => new Cluster(c.seeds, { redisOptions: { protocol } }),
    flushAll: () => onEveryMaster(c, (a) => a.flushall()),
    commandCount: async () => sum((n) => commandCount(n.admin)),
    keys: async (pattern) => (await Promise.all((await masters()).map((m) => m.admin.keys(pattern)))).flat(),
    dbsize: () => sum((n) => n.admin.dbsize()),
    connectedClients: () => sum(async (n) => Number(/connected_clients:(\d+)/.exec(await n.admin.info('clients'))![1])),
    configSet: (name, value) => onEveryMaster(c, (a) => a.config('SET', name, value)),
  };
}

/** A Sentinel group, before any failover: admin views are the master's. */
export function sentinel(s: TestSentinel, base: StoreOptions = {}): Deployment {
  const onMaster = standalone(s.master);
  return {
    ...onMaster,
    open: (options, protocol) =>
      RedisSessionStore.connect(
        withProtocol({ sentinels: s.sentinels, name: MASTER_NAME, ...base }, options, protocol),
      ),
    callerClient: (protocol) => new Redis({ sentinels: s.sentinels, name: MASTER_NAME, protocol }),
  };
}
