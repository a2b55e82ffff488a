import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Test } from 'uvu';
import { RedisInstance, RedisMemoryServer } from 'redis-memory-server';
import { freeServerPort, systemRedisServer } from '../../tools/redis-server.js';

/** A real redis-server on a free loopback port, started and stopped by this process. */
export interface TestRedis {
  host: string;
  port: number;
  url: string;
  pid: number;
  /** A plain client for assertions; closed by stop(). */
  admin: Redis;
  /** SIGSTOP / SIGCONT the server process (a hung Redis). */
  pause(): void;
  resume(): void;
  /** SIGKILL the server and wait for it to exit. */
  kill(): Promise<void>;
  /** Start a server again on the same port with the same arguments; waits until it is ready. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const binary = systemRedisServer();
  // Its own working directory: AOF files and nodes.conf never land in the repository.
  const dir = mkdtempSync(join(tmpdir(), 'rss-redis-'));
  const args = ['--dir', dir, ...extraArgs];
  // The port is below the ephemeral range (no TCP self-connect while the server is down on
  // purpose); restarts go through RedisInstance on that same port (RedisMemoryServer would hand
  // out a new one: its port finder locks a given port for a while).
  const wanted = await freeServerPort();
  const server = await RedisMemoryServer.create({
    binary: { systemBinary: binary },
    instance: { ip: '127.0.0.1', port: wanted, args },
  });
  const host = await server.getHost();
  const port = await server.getPort();
  if (port !== wanted) {
    // Its port finder substituted another (possibly ephemeral) port: try again.
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    return startRedis(extraArgs);
  }
  let stopCurrent: () => Promise<unknown> = () => server.stop();
  let current = (server.getInstanceInfo() || undefined)?.instance;
  const pidOf = () => {
    const pid = current?.getPid();
    if (pid === undefined) throw new Error('redis-server has no pid');
    return pid;
  };
  let pid = pidOf();
  const admin = new Redis({ host, port, lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  await admin.connect();
  // Swallow the admin client's reconnect errors while a test has the server down on purpose.
  admin.on('error', () => undefined);

  const handle: TestRedis = {
    host,
    port,
    url: `redis://${host}:${port}`,
    get pid() {
      return pid;
    },
    admin,
    pause: () => process.kill(pid, 'SIGSTOP'),
    resume: () => process.kill(pid, 'SIGCONT'),
    async kill() {
      const child = current?.childProcess;
      const exited =
        child && child.exitCode === null ? new Promise((done) => child.once('exit', done)) : Promise.resolve();
      process.kill(pid, 'SIGKILL');
      await exited;
      await stopCurrent().catch(() => undefined);
    },
    async restart() {
      const instance = await RedisInstance.run({
        binary: { systemBinary: binary },
        instance: { ip: host, port, args },
      });
      current = instance;
      stopCurrent = () => instance.kill();
      pid = pidOf();
      await waitFor(async () => (await admin.ping()) === 'PONG', 5000);
    },
    async stop() {
      admin.disconnect();
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // already gone
      }
      await stopCurrent();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** Polls `check` until it holds or `timeoutMs` passes (a readiness check, not a fixed sleep). */
export async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const BACKGROUND_COMMANDS = new Set(['info', 'replconf', 'ping', 'cluster', 'client', 'hello', 'auth', 'command']);

/** Total calls Redis has served (INFO commandstats), to prove rejected input sent nothing. */
export async function commandCount(admin: Redis): Promise<number> {
  const info = await admin.info('commandstats');
  let total = 0;
  for (const m of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    // The probe itself (INFO) and background traffic (replication acks and pings, a cluster
    // client's slot-table refreshes) are excluded, so two readings compare only the store's calls.
    if (!BACKGROUND_COMMANDS.has(m[1]!)) total += Number(m[2]);
  }
  return total;
}

/** The CLUSTER KEYSLOT of a key as Redis computes it (the server must run with --cluster-enabled yes). */
export function keySlot(admin: Redis, key: string): Promise<number> {
  return admin.call('CLUSTER', 'KEYSLOT', key) as Promise<number>;
}

/**
 * Registers a suite's server lifecycle: a Redis started before its tests, stopped after them,
 * and (by default) flushed before each test. Returns a getter for the running server.
 */
export function useRedis(test: Test, args: string[] = [], flushEach = true): () => TestRedis {
  let server: TestRedis | undefined;
  test.before(async () => {
    server = await startRedis(args);
  });
  test.after(async () => {
    await server?.stop();
  });
  if (flushEach) test.before.each(async () => void (await server!.admin.flushall()));
  return () => server!;
}

/** Every key name and every value in the database as text (SCAN, never KEYS), for secret scans. */
export async function dumpAll(admin: Redis): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      parts.push(key);
      const type = await admin.type(key);
      if (type === 'hash') parts.push(...Object.entries(await admin.hgetall(key)).flat());
      else if (type === 'zset') parts.push(...(await admin.zrange(key, '0', '-1', 'WITHSCORES')));
      else parts.push(String(await admin.dump(key)));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}
