import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freeServerPort, systemRedisServer } from '../../tools/redis-server.js';
import { startRedis, waitFor, type TestRedis } from './redis.js';

export const MASTER_NAME = 'sessions';

/** One master, one replica and three Sentinels on loopback, started and stopped by the test. */
export interface TestSentinel {
  master: TestRedis;
  replica: TestRedis;
  sentinels: { host: string; port: number; pid: number }[];
  /** The address the Sentinels give for the master right now. */
  currentMaster(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

export async function startSentinel(downAfterMs = 1000): Promise<TestSentinel> {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', master.host, String(master.port)]);
  await waitFor(async () => (await replica.admin.info('replication')).includes('master_link_status:up'), 10_000);
  const dir = mkdtempSync(join(tmpdir(), 'rss-sentinel-'));
  const children: ChildProcess[] = [];
  const sentinels: TestSentinel['sentinels'] = [];
  const clients: Redis[] = [];
  // Should this process end without stop() (a crash), its Sentinels must not outlive it.
  const killOnExit = () => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
  process.once('exit', killOnExit);
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    clients.forEach((c) => c.disconnect());
    await Promise.all(
      children.map((child) =>
        child.exitCode !== null || child.signalCode !== null
          ? Promise.resolve()
          : new Promise((done) => {
              child.once('exit', done);
              child.kill('SIGKILL');
            }),
      ),
    );
    await Promise.all([master.stop(), replica.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      const port = await freeServerPort();
      const conf = join(dir, `sentinel-${i}.conf`);
      // Sentinel rewrites its own config file, so each gets a writable one.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${MASTER_NAME} ${master.host} ${master.port} 2`,
          `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
          `sentinel failover-timeout ${MASTER_NAME} 10000`,
          `sentinel parallel-syncs ${MASTER_NAME} 1`,
        ].join('\n') + '\n',
      );
      // Debian's redis has no redis-sentinel binary: redis-server runs as one with --sentinel.
      const child = spawn(systemRedisServer(), [conf, '--sentinel'], { stdio: 'ignore' });
      children.push(child);
      sentinels.push({ host: '127.0.0.1', port, pid: child.pid! });
      const client = new Redis({
        host: '127.0.0.1',
        port,
        lazyConnect: true,
        maxRetriesPerRequest: 1,
        retryStrategy: () => 50,
      });
      client.on('error', () => undefined);
      clients.push(client);
    }
    // Ready when every Sentinel knows the replica and the two other Sentinels (quorum and leader election need them).
    await waitFor(
      async () => {
        for (const client of clients) {
          if (client.status === 'wait') await client.connect();
          const replicas = (await client.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
          const peers = (await client.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
          if (replicas.length !== 1 || peers.length !== 2) return false;
        }
        return true;
      },
      20_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    master,
    replica,
    sentinels,
    async currentMaster() {
      const [host, port] = (await clients[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [
        string,
        string,
      ];
      return { host, port: Number(port) };
    },
    stop,
  };
}
