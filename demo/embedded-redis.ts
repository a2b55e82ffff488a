import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { RedisMemoryServer } from 'redis-memory-server';

/** The redis-server on PATH: redis-memory-server cannot download one on this network. */
export function systemRedisServer(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error('redis-server is not on PATH: install it (Debian: apt-get install -y redis-server)');
}

export interface EmbeddedRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free loopback port (for the demo and the benchmarks). */
export async function startEmbeddedRedis(args: string[] = []): Promise<EmbeddedRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'rss-embedded-'));
  const server = await RedisMemoryServer.create({
    binary: { systemBinary: systemRedisServer() },
    instance: { ip: '127.0.0.1', args: ['--dir', dir, ...args] },
  });
  const host = await server.getHost();
  const port = await server.getPort();
  const info = server.getInstanceInfo();
  const pid = info ? info.instance.getPid() : undefined;
  if (pid === undefined) throw new Error('embedded redis-server did not start');
  return {
    url: `redis://${host}:${port}`,
    pid,
    async stop() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
