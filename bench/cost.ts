import type { Redis } from 'ioredis';

/**
 * What the benchmarks read from Redis to price a run, as the process spends it (REDIS-FACTS 28):
 * redis-server's CPU time from INFO CPU. INFO commandstats is used only to count commands: its
 * usec counts a script's inner commands a second time and leaves out parsing and networking.
 */

/** redis-server's user + system CPU so far, in microseconds. */
export async function redisCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6;
}

/**
 * How many reads redis-server made from client sockets, and writes to them, so far (INFO stats,
 * since CONFIG RESETSTAT): with the commands, how many a read found, and so how well the clients'
 * batching and the scheduling spread the per-read work.
 */
export async function redisSocketIo(admin: Redis): Promise<{ reads: number; writes: number }> {
  const info = await admin.info('stats');
  const field = (name: string) => Number(new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1] ?? NaN);
  return { reads: field('total_reads_processed'), writes: field('total_writes_processed') };
}

// What clients send on their own beside scripts. Commands that scripts also call inside (HSET,
// HMGET, DEL, ...) cannot be told apart in commandstats, so while scripts ran only these count.
const PLAIN_READS = new Set(['get', 'mget', 'hget', 'ping', 'client|tracking']);

/**
 * The commands clients have sent so far (since CONFIG RESETSTAT), without a script's inner
 * commands: every command when no script ran; else EVALSHA and EVAL plus the plain reads.
 * The probes (INFO, CONFIG) are not counted.
 */
export async function clientCommands(admin: Redis): Promise<number> {
  const stats = await admin.info('commandstats');
  let all = 0;
  let scripts = 0;
  let reads = 0;
  for (const m of stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    const name = m[1]!;
    const calls = Number(m[2]);
    if (name === 'info' || name.startsWith('config')) continue;
    all += calls;
    if (name === 'evalsha' || name === 'eval') scripts += calls;
    else if (PLAIN_READS.has(name)) reads += calls;
  }
  return scripts === 0 ? all : scripts + reads;
}
