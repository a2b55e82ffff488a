// The one launcher of throwaway redis-server processes, shared by the tests, the demo and the
// benchmarks: on a free loopback port below the ephemeral range, stopped by PID.
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

/**
 * A free loopback port below the kernel's ephemeral range. A server on an ephemeral port can be
 * "reached" while it is down: a reconnecting client may be handed that same port as its local
 * port and connect to itself (TCP self-connect), then read its own commands back as replies.
 */
export async function freeServerPort(): Promise<number> {
  let low = 32768;
  try {
    low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || low;
  } catch {
    // not Linux: assume the common default
  }
  const floor = Math.min(20000, low - 2000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = floor + Math.floor(Math.random() * (low - floor - 1));
    const free = await new Promise<boolean>((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

export interface EmbeddedRedis {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/**
 * A throwaway redis-server on a free loopback port (for the demo and the benchmarks): the one
 * on PATH, or `binary` (another server build, such as ../shared/servers/valkey-8.0.1/redis-server).
 * `under`: a command the server runs under (bench:cpu --instructions runs it under valgrind's
 * callgrind); a script in the server's own directory execs it, so the PID is still the server's.
 */
export async function startEmbeddedRedis(
  args: string[] = [],
  binary = systemRedisServer(),
  under: readonly string[] = [],
): Promise<EmbeddedRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'rss-embedded-'));
  let launch = binary;
  if (under.length > 0) {
    launch = join(dir, 'redis-server');
    const quote = (word: string) => `'${word.replace(/'/g, "'\\''")}'`;
    writeFileSync(launch, `#!/bin/sh\nexec ${[...under, binary].map(quote).join(' ')} "$@"\n`, { mode: 0o755 });
  }
  const server = await RedisMemoryServer.create({
    binary: { systemBinary: launch },
    instance: { ip: '127.0.0.1', port: await freeServerPort(), args: ['--dir', dir, ...args] },
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
