/**
 * `npm run bench:connections [-- --rounds N] [--duration-ms N]`
 * How many connections the store should open by default. With auto-pipelining, Node and Redis
 * take turns on one connection (REDIS-FACTS 22): a second connection lets one batch run in
 * Redis while Node parses the replies of another. Runs get, create, refresh and destroy with
 * 1, 2 and 4 connections beside connect-redis (on one connection, as it is used) at 16 and 256
 * in flight, cases interleaved within each round. Writes results/connections.md.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
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
let next = 0;
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
const drainPool = (pool: string[]) => () => pool.pop();
const cases: Case[] = [];
for (const n of COUNTS) {
  const s = stores.get(n)!;
  const impl = `store, ${n} connection${n > 1 ? 's' : ''}`;
  cases.push(
    {
      name: impl,
      op: 'get',
      make: async () => (w) =>
        (
          (t) => () =>
            s.getSession(t())
        )(pick(tokens, w)),
    },
    {
      name: impl,
      op: 'create',
      make: async () => () => () => s.createSession(benchUser(1_000_000 + next++), { metadata: benchMetadata }),
    },
    {
      name: impl,
      op: 'refresh',
      make: async () => (w) =>
        (
          (t) => () =>
            s.refreshSession(t())
        )(pick(tokens, w)),
    },
    {
      name: impl,
      op: 'destroy',
      make: async (level) => {
        const pool = await fill(Math.max(level, 60_000 * (DURATION / 1000)), (i) =>
          s.createSession(benchUser(2_000_000 + next++ + i), { metadata: benchMetadata }).then((x) => x.token),
        );
        const take = drainPool(pool);
        return () => () => {
          const t = take();
          return t === undefined ? null : s.destroySession(t);
        };
      },
    },
  );
}
cases.push(
  {
    name: 'connect-redis',
    op: 'get',
    make: async () => (w) =>
      (
        (t) => () =>
          cr.get(t())
      )(pick(sids, w)),
  },
  {
    name: 'connect-redis',
    op: 'create',
    make: async () => () => () => cr.set(randomBytes(24).toString('base64url'), expressSession(next++, TTL)),
  },
  {
    name: 'connect-redis',
    op: 'refresh',
    make: async () => (w) =>
      (
        (t, sess) => () =>
          cr.touch(t(), sess)
      )(pick(sids, w), expressSession(0, TTL)),
  },
  {
    name: 'connect-redis',
    op: 'destroy',
    make: async (level) => {
      const pool = await fill(Math.max(level, 80_000 * (DURATION / 1000)), async () => {
        const sid = randomBytes(24).toString('base64url');
        await cr.set(sid, expressSession(next++, TTL));
        return sid;
      });
      const take = drainPool(pool);
      return () => () => {
        const t = take();
        return t === undefined ? null : cr.destroy(t);
      };
    },
  },
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
const out = join(import.meta.dirname, 'results', 'connections.md');
writeFileSync(out, lines.join('\n'));
process.stdout.write(`${lines.join('\n')}\nwritten to ${out}\n`);
for (const s of stores.values()) await s.close();
crClient.disconnect();
await redis.stop();
