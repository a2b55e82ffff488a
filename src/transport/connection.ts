import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { keyPrefixOption, type ResolvedOptions } from '../config/resolve.js';
import { ConfigurationError, classifyError, StoreUnavailableError } from '../errors.js';
import { infoField, isTooOld, MIN_REDIS_VERSION, serverLabel, serverOf, type ServerIdentity } from '../server.js';
import { redactUrl } from '../settings.js';
import type { Logger } from '../types.js';
import type { IoredisClient, RedisClient } from './client.js';

/**
 * ioredis settings for the store's own clients. The defaults do not fail fast: a command would
 * wait 10 s to minutes with Redis down, and forever with Redis hung (REDIS-FACTS 14).
 */
export function clientOptions(options: ResolvedOptions): RedisOptions {
  return {
    lazyConnect: true,
    // No ioredis commandTimeout: the store bounds every call itself (one timer for all calls,
    // where ioredis would arm one per command), for its own clients and a caller's alike.
    // One retry: queued commands fail at the next failed reconnect instead of piling up.
    maxRetriesPerRequest: 1,
    connectTimeout: connectBudget(options),
    keepAlive: 10_000,
    // Reconnect quickly: service should be back within a second of Redis coming back.
    retryStrategy: (times: number) => Math.min(times * 50, 500),
    // A failed-over master turns READONLY: reconnect (to the new master) and re-send.
    reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 2 : false),
    // The commands of one tick still leave in one write: the adapter holds the socket's writes
    // for the tick (transport/client.ts), which costs Node and Redis less than auto-pipelining.
    enableAutoPipelining: false,
    // ioredis re-sends commands issued before SELECT after a reconnect (ioredis #42): stay on db 0.
    db: 0,
    // No CLIENT SETINFO at connect (Redis 7.2+): one round trip less, and one command less
    // for a least-privilege ACL user to be granted (see aclRules).
    disableClientInfo: true,
    ...options.auth,
    ...options.redisOptions,
  };
}

/** Retries of a redirected or refused command, in ms between tries. */
const CLUSTER_RETRY_DELAY = 100;

/**
 * ioredis Cluster settings. The call budget (`commandTimeout`, 1 s by default) is shorter than
 * any failover (at least `cluster-node-timeout`, 15 s by default), so retrying past it only
 * buys late, ambiguous writes and queued memory: retries stop when the budget is spent.
 */
export function clusterOptions(options: ResolvedOptions): ClusterOptions {
  const { lazyConnect: _lazy, ...redisOptions } = clientOptions(options);
  return {
    lazyConnect: true,
    // Replicas serve stale reads: a session destroyed on the master would still open there.
    scaleReads: 'master',
    // TRYAGAIN (a user's keys mid-migration), CLUSTERDOWN and failover retries, every 100 ms,
    // as many as fit in the budget. MOVED waits a little: right after a failover nodes can
    // briefly disagree and bounce a command between them, which would burn every retry at once.
    retryDelayOnFailover: CLUSTER_RETRY_DELAY,
    retryDelayOnClusterDown: CLUSTER_RETRY_DELAY,
    retryDelayOnTryAgain: CLUSTER_RETRY_DELAY,
    retryDelayOnMoved: 20,
    maxRedirections: Math.max(3, Math.ceil(options.commandTimeout / CLUSTER_RETRY_DELAY) + 1),
    // Reconnect to the cluster as fast as to one server; a slot-table refresh must not outlast a call.
    clusterRetryStrategy: (times: number) => Math.min(times * 50, 500),
    slotsRefreshTimeout: Math.min(1000, Math.max(100, options.commandTimeout)),
    // Off on a cluster: ioredis's automatic pipelines hand MOVED and ASK replies back to the
    // caller instead of following them, so every reshard would surface as errors (ioredis
    // #2075, measured here: 143 failed calls in one reshard). Batches still pipeline per node.
    enableAutoPipelining: false,
    // With TLS, certificates name hosts: connect by the name given, not a resolved address.
    ...(options.auth.tls !== undefined
      ? { dnsLookup: (address: string, done: (err: null, address: string) => void) => done(null, address) }
      : {}),
    redisOptions: { ...redisOptions, enableAutoPipelining: false },
    ...options.clusterOptions,
  };
}

/** A client for the configured topology: one server, a cluster, or a Sentinel group's master. */
function newClient(options: ResolvedOptions): Redis | Cluster {
  const t = options.topology;
  if (t.kind === 'cluster') return new Cluster(t.nodes, clusterOptions(options));
  if (t.kind === 'sentinel') {
    return new Redis({
      ...clientOptions(options),
      sentinels: t.sentinels,
      name: t.name,
      role: 'master',
      // No failoverDetector: its Sentinel connections outlive quit() in a race and print to the
      // console. A failover reaches the client anyway: the old master dies or, demoted, drops
      // its clients (and READONLY reconnects), and the reconnect asks the Sentinels again.
      sentinelRetryStrategy: (times: number) => Math.min(times * 50, 500),
      ...options.redisOptions,
    });
  }
  return new Redis(t.url, clientOptions(options));
}

export async function openClients(options: ResolvedOptions, count: number): Promise<IoredisClient[]> {
  let lastError: unknown;
  const clients = Array.from({ length: count }, () => {
    const client = newClient(options);
    // Without a listener ioredis prints connection errors to the console; the library never
    // does. Each failing call reports its own typed error, and healthCheck reports the state.
    client.on('error', (err: unknown) => (lastError = err));
    return client;
  });
  // ioredis keeps retrying some failures (a Sentinel group it cannot resolve, a cluster that is
  // down) without rejecting connect(): the store gives up after the connect budget.
  const budget = connectBudget(options);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectTimeout()), budget);
  });
  const connects = clients.map((c) => c.connect());
  try {
    await Promise.race([Promise.all(connects), expired]);
  } catch (err) {
    // One connection failed: let the others finish their attempt first. Dropping a TLS socket
    // mid-handshake makes it emit an 'error' that nothing listens to any more.
    if (!(err instanceof ConnectTimeout)) await Promise.race([Promise.allSettled(connects), expired.catch(ignore)]);
    clients.forEach((c) => c.disconnect());
    // ioredis rejects connect() with "Connection is closed." after a refused AUTH or a failed
    // TLS handshake; the error event before it says why.
    const specific = lastError !== undefined && ['STORE_AUTH', 'STORE_TLS'].includes(classifyError(lastError).code);
    const cause = specific || (err instanceof ConnectTimeout && lastError !== undefined) ? lastError : err;
    throw classifyConnectError(cause, options.url, err instanceof ConnectTimeout ? budget : undefined);
  } finally {
    clearTimeout(timer);
    clients.forEach((c) => c.removeAllListeners('error').on('error', ignore));
  }
  return clients;
}

class ConnectTimeout extends Error {}

/** How long connecting may take: the call budget, but at least 2 s. */
export function connectBudget(options: ResolvedOptions): number {
  return Math.max(options.commandTimeout, 2000);
}

function ignore(): void {}

function classifyConnectError(err: unknown, target: string, timedOutMs?: number): Error {
  const typed = classifyError(err);
  if (typed.code !== 'STORE_ERROR' && typed.code !== 'STORE_UNAVAILABLE') return typed;
  // Never echo the URL's password.
  const safe = redactUrl(target);
  const why = err instanceof ConnectTimeout ? '' : `: ${(err as Error).message}`;
  const within = timedOutMs === undefined ? '' : ` within ${timedOutMs} ms`;
  return new StoreUnavailableError(`could not connect to Redis at ${safe}${within}${why}`, { cause: err });
}

/**
 * Waits until a caller's client is ready (it may still be connecting, or a Cluster still
 * learning its slots, whose node connections are replaced meanwhile), within the connect budget.
 * A client the caller connects lazily is connected here.
 */
export async function callerClientReady(client: IoredisClient, options: ResolvedOptions): Promise<void> {
  if (client.status === 'ready') return;
  if (client.status === 'wait') {
    await client.connect();
    return;
  }
  const budget = connectBudget(options);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new ConnectTimeout()), budget);
      client.once('ready', () => resolve());
    });
  } catch (err) {
    throw classifyConnectError(err, options.url, budget);
  } finally {
    clearTimeout(timer);
  }
}

/** Rejects a caller's client whose own keyPrefix would move the hash tag. */
export function checkCallerClient(client: IoredisClient): void {
  const options = client.options;
  const prefix = 'redisOptions' in options ? options.redisOptions?.keyPrefix : options.keyPrefix;
  if (prefix !== undefined && prefix !== '') keyPrefixOption(prefix, 'redis.options.keyPrefix');
}

/**
 * Checks what the store needs from the server, once at connect: the Redis version (a
 * ConfigurationError when too old), and the eviction policy (a warning when Redis may evict).
 */
export async function preflight(
  client: RedisClient,
  logger: Logger | undefined,
  bounded: <T>(p: Promise<T>) => Promise<T>,
): Promise<ServerIdentity | undefined> {
  // On a cluster every master is checked: one old or evicting node is enough to lose sessions.
  const nodes = client.masters();
  const warned = new Set<string>();
  let first: ServerIdentity | undefined;
  for (const node of nodes) {
    let info: string;
    try {
      info = String(await bounded(node.send('INFO', ['server', 'memory'])));
    } catch (err) {
      if (classifyError(err).code === 'STORE_AUTH') {
        logger?.warn(
          'redis-session-store: INFO is not permitted for this user; Redis version and eviction policy were not checked',
        );
        return undefined;
      }
      throw err;
    }
    const server = serverOf(info);
    first ??= server;
    if (server.redisVersion !== 'unknown' && isTooOld(server)) {
      throw new ConfigurationError(
        'redis',
        `${serverLabel(server)} is too old: the store needs Redis ${MIN_REDIS_VERSION.join('.')} (or a compatible server) or newer`,
      );
    }
    const policy = infoField(info, 'maxmemory_policy');
    if (policy !== undefined && policy !== 'noeviction' && !warned.has(policy)) {
      warned.add(policy);
      logger?.warn(
        `redis-session-store: maxmemory-policy is ${policy}; under memory pressure Redis may evict session keys ` +
          '(users are logged out; revocation still fails closed). Use noeviction for sessions.',
      );
    }
  }
  return first;
}
