/**
 * `npm run bench:connections [-- --rounds N] [--duration-ms N]`
 * How many connections the store should open by default. With one write per loop turn (as
 * auto-pipelining did), Node and Redis take turns on one connection (REDIS-FACTS 22): a second
 * connection lets one batch run in Redis while Node parses the replies of another. Runs get, create, refresh and destroy with
 * 1, 2 and 4 connections beside connect-redis (on one connection, as it is used) at 16 and 256
 * in flight, cases interleaved within each round. Writes results/connections.md.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
import { writeResult } from './results-file.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { ConnectRedis } from './baselines.js';
import { fill } from './cases.js';
import { drive, type Op } from './driver.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';
import { summarize } from './stats.js';

const argv = process.argv.slice(2);
const arg = (name: string) => argOf(name, argv);
const ROUNDS = Number(arg('rounds') ?? 3);
const DURATION = Number(arg('duration-ms') ?? 1000);
const LEVELS = [16, 256];
const COUNTS = [1, 2, 4];
const TTL = 3600;

const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
const stores = new Map<number, RedisSessionStore>();
for (const n of COUNTS) {
  stores.set(
    n,
    await RedisSessionStore.connect({ url: redis.url, maxConnections: n, metrics: { registry: new Registry() } }),
  );
}
const crClient = new Redis(redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
const cr = new ConnectRedis(crClient);
let next = 1_000_000;
const tokens = await fill(10_000, (i) =>
  stores
    .get(1)!
    .createSession(benchUser(i), { metadata: benchMetadata })
    .then((s) => s.token),
);
const sids = await fill(10_000, async (i) => (await cr.set(`c${i}`, expressSession(i, TTL)), `c${i}`));
const pick = (pool: readonly string[], w: number) => {
  let i = (w * 7919) % pool.length;
  return () => pool[(i = (i + 1) % pool.length)]!;
};

type Case = { name: string; op: string; make: (level: number) => Promise<(w: number) => Op> };
/** Each worker reads the pool from its own offset. */
const each =
  (pool: readonly string[], call: (item: string) => Promise<unknown>) =>
  async () =>
  (w: number): Op => {
    const t = pick(pool, w);
    return () => call(t());
  };
/** Destroys need a fresh item per call: a pool filled before the run, drained by it. */
const draining =
  (perSecond: number, make: () => Promise<string>, destroy: (item: string) => Promise<unknown>) =>
  async (level: number) => {
    const pool = await fill(Math.max(level, perSecond * (DURATION / 1000)), make);
    return (): Op => () => {
      const item = pool.pop();
      return item === undefined ? null : destroy(item);
    };
  };
const cases: Case[] = [];
for (const n of COUNTS) {
  const s = stores.get(n)!;
  const name = `store, ${n} connection${n > 1 ? 's' : ''}`;
  const create = () => s.createSession(benchUser(next++), { metadata: benchMetadata });
  cases.push(
    { name, op: 'get', make: each(tokens, (t) => s.getSession(t)) },
    { name, op: 'create', make: async () => () => create },
    { name, op: 'refresh', make: each(tokens, (t) => s.refreshSession(t)) },
    {
      name,
      op: 'destroy',
      make: draining(
        60_000,
        () => create().then((x) => x.token),
        (t) => s.destroySession(t),
      ),
    },
  );
}
const crCreate = async () => {
  const sid = randomBytes(24).toString('base64url');
  await cr.set(sid, expressSession(next++, TTL));
  return sid;
};
const crSession = expressSession(0, TTL);
cases.push(
  { name: 'connect-redis', op: 'get', make: each(sids, (t) => cr.get(t)) },
  { name: 'connect-redis', op: 'create', make: async () => () => crCreate },
  { name: 'connect-redis', op: 'refresh', make: each(sids, (t) => cr.touch(t, crSession)) },
  { name: 'connect-redis', op: 'destroy', make: draining(80_000, crCreate, (t) => cr.destroy(t)) },
);

const rates = new Map<string, number[]>();
for (let round = 0; round < ROUNDS; round++) {
  for (const level of LEVELS) {
    for (const c of cases) {
      const make = await c.make(level);
      const r = await drive(make, level, DURATION);
      const key = `${c.name}|${c.op}|${level}`;
      rates.set(key, [...(rates.get(key) ?? []), r.perSecond]);
      process.stderr.write(`round ${round + 1} @${level} ${c.name} ${c.op}: ${Math.round(r.perSecond)}/s\n`);
    }
  }
}

const ops = ['get', 'create', 'refresh', 'destroy'];
const ratio = (a: string, op: string, level: number) => {
  const x = rates.get(`${a}|${op}|${level}`)!;
  const y = rates.get(`connect-redis|${op}|${level}`)!;
  return summarize(x.map((v, i) => v / y[i]!));
};
const lines = [
  `# Connections: the store with 1, 2 and 4 connections against connect-redis (one connection)`,
  '',
  `${new Date().toISOString()}: ${ROUNDS} rounds of ${DURATION} ms per case and level, cases interleaved. Throughput as a ratio to connect-redis in the same round: median (range).`,
  '',
  `| store | ${LEVELS.flatMap((l) => ops.map((op) => `${op} @${l}`)).join(' | ')} |`,
  `| --- | ${LEVELS.flatMap(() => ops.map(() => '---')).join(' | ')} |`,
  ...COUNTS.map((n) => {
    const name = `store, ${n} connection${n > 1 ? 's' : ''}`;
    return `| ${name} | ${LEVELS.flatMap((l) =>
      ops.map((op) => {
        const r = ratio(name, op, l);
        return `${r.median.toFixed(2)}x (${r.min.toFixed(2)}-${r.max.toFixed(2)})`;
      }),
    ).join(' | ')} |`;
  }),
  '',
  `connect-redis ops/s (median): ${LEVELS.flatMap((l) => ops.map((op) => `${op} @${l} ${Math.round(summarize(rates.get(`connect-redis|${op}|${l}`)!).median).toLocaleString('en')}`)).join(', ')}`,
  '',
];
writeResult('connections.md', lines);
for (const s of stores.values()) await s.close();
crClient.disconnect();
await redis.stop();
