import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { serverLabel, serverOf } from '../src/server.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { argOf } from './args.js';

/** The Redis a benchmark runs against, and the server it is, as it names itself. */
export interface BenchRedis {
  url: string;
  /** "Redis 7.0.15", "Valkey 8.0.1". */
  label: string;
  /** The server's own version ("8.0.1" for Valkey 8.0.1). */
  version: string;
  /** The server's PID when the benchmark started it. */
  pid: number | undefined;
  /** Stops the server when the benchmark started it. */
  stop(): Promise<void>;
}

/**
 * `--server DIR`: a throwaway server from that folder's redis-server (e.g.
 * ../shared/servers/valkey-8.0.1); else REDIS_URL; else a throwaway one of the redis-server on PATH.
 * `under`: a command a throwaway server runs under (startEmbeddedRedis); REDIS_URL is then ignored.
 */
export async function benchRedis(
  args: string[] = [],
  argv = process.argv.slice(2),
  under: readonly string[] = [],
): Promise<BenchRedis> {
  const dir = argOf('server', argv);
  let url = process.env.REDIS_URL;
  let stop = () => Promise.resolve();
  let pid: number | undefined;
  if (dir !== undefined || url === undefined || under.length > 0) {
    const binary = dir === undefined ? undefined : resolve(dir, 'redis-server');
    if (binary !== undefined && !existsSync(binary)) throw new Error(`--server ${dir}: no redis-server there`);
    // No snapshots: a BGSAVE fork in the middle of a run would be charged to whichever side ran then.
    const embedded = await startEmbeddedRedis(
      ['--maxmemory-policy', 'noeviction', '--save', '', ...args],
      binary,
      under,
    );
    url = embedded.url;
    pid = embedded.pid;
    stop = () => embedded.stop();
  }
  const admin = new Redis(url);
  try {
    const server = serverOf(await admin.info('server'));
    return { url, label: serverLabel(server), version: server.version, pid, stop };
  } finally {
    admin.disconnect();
  }
}
