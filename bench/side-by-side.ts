/**
 * `node --import tsx bench/side-by-side.ts <other checkout> [--rounds N] [--duration-ms N]`
 * This checkout's store against another checkout's (e.g. the last release, from `git worktree
 * add`), on one Redis, 32 in flight, the two runs of each operation back to back in an order
 * that alternates by round. Per call: Node CPU (process.cpuUsage) and Redis CPU (INFO CPU
 * used_cpu_user + used_cpu_sys). Prints medians and ranges of this / other over the rounds.
 */
import { resolve } from 'node:path';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { Redis } from 'ioredis';
import { argOf } from './args.js';
import { fill } from './cases.js';
import { drive, type Op } from './driver.js';
import { benchMetadata, benchUser } from './payload.js';
import { summarize } from './stats.js';

const other = resolve(process.argv[2] ?? '');
const ROUNDS = Number(argOf('rounds') ?? 5);
const DURATION = Number(argOf('duration-ms') ?? 1000);
const IN_FLIGHT = 32;

type Store = Pick<RedisSessionStore, 'createSession' | 'getSession' | 'refreshSession' | 'destroySession' | 'close'>;
const { RedisSessionStore: Other } = (await import(`${other}/src/index.ts`)) as {
  RedisSessionStore: { connect(o: object): Promise<Store> };
};
const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
const admin = new Redis(redis.url);
const options = () => ({ url: redis.url, metrics: { registry: new Registry() } });
const stores: [string, Store][] = [
  ['this', await RedisSessionStore.connect(options())],
  ['other', await Other.connect(options())],
];
let user = 0;
const tokensOf = (s: Store, n: number) =>
  fill(n, () => s.createSession(benchUser(user++), { metadata: benchMetadata }).then((c) => c.token));

async function redisCpu(): Promise<number> {
  const info = await admin.info('cpu');
  const f = (n: string) => Number(new RegExp(`^${n}:(.*)$`, 'm').exec(info)![1]);
  return (f('used_cpu_user') + f('used_cpu_sys')) * 1e6;
}

type Make = (s: Store) => Promise<(w: number) => Op>;
const cycle = (pool: string[], w: number) => {
  let i = w;
  return () => pool[(i = (i + 1) % pool.length)]!;
};
const ops: Record<string, Make> = {
  getSession: async (s) => {
    const pool = await tokensOf(s, 5000);
    return (w) => {
      const t = cycle(pool, w);
      return () => s.getSession(t());
    };
  },
  createSession: async (s) => () => () => s.createSession(benchUser(user++), { metadata: benchMetadata }),
  refreshSession: async (s) => {
    const pool = await tokensOf(s, 5000);
    return (w) => {
      const t = cycle(pool, w);
      return () => s.refreshSession(t());
    };
  },
  destroySession: async (s) => {
    const pool = await tokensOf(s, Math.ceil((DURATION / 1000) * 60_000));
    return () => () => {
      const t = pool.pop();
      return t === undefined ? null : s.destroySession(t);
    };
  },
};

const ratios = new Map<string, { node: number[]; redis: number[] }>();
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(ops)) {
    const order = round % 2 === 0 ? stores : [...stores].reverse();
    const cost = new Map<string, { node: number; redis: number }>();
    for (const [label, store] of order) {
      const op = await make(store);
      const cpu0 = process.cpuUsage();
      const r0 = await redisCpu();
      const result = await drive(op, IN_FLIGHT, DURATION);
      const r1 = await redisCpu();
      const cpu = process.cpuUsage(cpu0);
      cost.set(label, { node: (cpu.user + cpu.system) / result.ops, redis: (r1 - r0) / result.ops });
    }
    const a = cost.get('this')!;
    const b = cost.get('other')!;
    const entry = ratios.get(name) ?? { node: [], redis: [] };
    entry.node.push(a.node / b.node);
    entry.redis.push(a.redis / b.redis);
    ratios.set(name, entry);
    process.stderr.write(
      `round ${round + 1} ${name}: node ${a.node.toFixed(1)} / ${b.node.toFixed(1)} us, redis ${a.redis.toFixed(1)} / ${b.redis.toFixed(1)} us\n`,
    );
  }
}
console.log(`| operation | Node CPU per call, this / other | Redis CPU per call, this / other |\n| --- | --- | --- |`);
for (const [name, { node, redis: r }] of ratios) {
  const [n, rr] = [summarize(node), summarize(r)];
  console.log(
    `| ${name} | ${n.median.toFixed(2)}x (${n.min.toFixed(2)}-${n.max.toFixed(2)}) | ${rr.median.toFixed(2)}x (${rr.min.toFixed(2)}-${rr.max.toFixed(2)}) |`,
  );
}
for (const [, s] of stores) await s.close();
admin.disconnect();
await redis.stop();
