import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisSessionStore } from '../src/index.js';
import type { ConnectRedis, MultiStore, NaiveStore } from './baselines.js';
import type { Op } from './driver.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';

export const TTL = 3600;

/** Everything a case needs, set up once outside the timed code. */
export interface BenchContext {
  store: RedisSessionStore; // default configuration: metrics on
  bare: RedisSessionStore; // metrics: false
  rolling: RedisSessionStore; // rolling with a touch on every read
  cached: RedisSessionStore; // the session cache on, warmed with every pooled session
  raw: Redis;
  admin: Redis; // INFO commandstats between runs
  naive: NaiveStore;
  multi: MultiStore;
  cr: ConnectRedis;
  noopSha: string;
  payload: string;
  pools: {
    storeTokens: string[];
    rawKeys: string[];
    naiveTokens: string[];
    crSids: string[];
    listUsers: string[];
    naiveListUsers: string[];
  };
  /** Single-use pools for destroy cases, refilled before each run. */
  drain: Map<string, string[]>;
  next: number;
}

export type Impl = 'store' | 'store (metrics off)' | 'raw ioredis' | 'naive' | 'MULTI' | 'connect-redis';

export interface Case {
  id: string;
  operation: string;
  impl: Impl;
  itemsPerOp?: number;
  /** Runs before each measured run, untimed (e.g. warming the cache). */
  before?: (ctx: BenchContext) => Promise<void>;
  /** Refills a single-use pool before a run; `rate` is the expected ops/s. */
  refill?: (ctx: BenchContext, count: number) => Promise<string[]>;
  op: (ctx: BenchContext, worker: number) => Op;
}

const pick = (pool: readonly string[], worker: number) => {
  let i = (worker * 7919) % pool.length;
  return () => pool[(i = (i + 1) % pool.length)]!;
};
const popFrom = (ctx: BenchContext, id: string) => {
  const pool = ctx.drain.get(id) ?? [];
  return () => pool.pop();
};
const uid = (ctx: BenchContext) => ctx.next++;

/** Fresh sessions for a destroy case to use up. */
const refillDestroy = (c: BenchContext, n: number) =>
  fill(n, () => c.store.createSession(benchUser(uid(c)), { metadata: benchMetadata }).then((s) => s.token));

const destroyOp = (c: BenchContext, store: RedisSessionStore, id: string): Op => {
  const next = popFrom(c, id);
  return () => {
    const t = next();
    return t === undefined ? null : store.destroySession(t);
  };
};

/** Fills n items with `make`, 256 in flight. */
export async function fill(n: number, make: (i: number) => Promise<string>): Promise<string[]> {
  const out: string[] = new Array(n);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(256, n) }, async () => {
      while (i < n) {
        const k = i++;
        out[k] = await make(k);
      }
    }),
  );
  return out;
}

/** Reads every pooled session through the cached store: other cases' writes invalidated some. */
async function warmCache(ctx: BenchContext): Promise<void> {
  const tokens = ctx.pools.storeTokens;
  await fill(tokens.length, async (i) => (await ctx.cached.getSession(tokens[i]!), ''));
}

export const CASES: Case[] = [
  // The store
  {
    id: 'store.create',
    operation: 'create',
    impl: 'store',
    op: (c) => () => c.store.createSession(benchUser(uid(c)), { metadata: benchMetadata }),
  },
  {
    id: 'store.get',
    operation: 'get',
    impl: 'store',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.store.getSession(t());
    },
  },
  {
    id: 'store.getCached',
    operation: 'get (cache hit)',
    impl: 'store',
    before: warmCache,
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.cached.getSession(t());
    },
  },
  {
    id: 'store.getSessions100Cached',
    operation: 'getSessions(100) (cache hits)',
    impl: 'store',
    before: warmCache,
    itemsPerOp: 100,
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.cached.getSessions(Array.from({ length: 100 }, t));
    },
  },
  {
    id: 'store.getRolling',
    operation: 'get (rolling, touch every read)',
    impl: 'store',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.rolling.getSession(t());
    },
  },
  {
    id: 'store.getSessions10',
    operation: 'getSessions(10)',
    impl: 'store',
    itemsPerOp: 10,
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.store.getSessions(Array.from({ length: 10 }, t));
    },
  },
  {
    id: 'store.getSessions100',
    operation: 'getSessions(100)',
    impl: 'store',
    itemsPerOp: 100,
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.store.getSessions(Array.from({ length: 100 }, t));
    },
  },
  {
    id: 'store.refresh',
    operation: 'refresh',
    impl: 'store',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.store.refreshSession(t());
    },
  },
  {
    id: 'store.updateMetadata',
    operation: 'updateSessionMetadata',
    impl: 'store',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      let n = 0;
      return () => c.store.updateSessionMetadata(t(), { page: String(n++ % 100) });
    },
  },
  {
    id: 'store.ttl',
    operation: 'getSessionTtl',
    impl: 'store',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.store.getSessionTtl(t());
    },
  },
  {
    id: 'store.rotate',
    operation: 'rotate',
    impl: 'store',
    refill: (c, n) =>
      fill(Math.min(n, 512), (i) =>
        c.store.createSession(benchUser(1_000_000 + i), { metadata: benchMetadata }).then((s) => s.token),
      ),
    op: (c, w) => {
      let token = c.drain.get('store.rotate')![w]!;
      return () => c.store.rotateSession(token).then((s) => void (token = s!.token));
    },
  },
  {
    id: 'store.count',
    operation: 'count (10 sessions)',
    impl: 'store',
    op: (c, w) => {
      const u = pick(c.pools.listUsers, w);
      return () => c.store.countUserSessions(u());
    },
  },
  {
    id: 'store.list',
    operation: 'list (10 sessions)',
    impl: 'store',
    op: (c, w) => {
      const u = pick(c.pools.listUsers, w);
      return () => c.store.listUserSessions(u());
    },
  },
  {
    id: 'store.destroy',
    operation: 'destroy',
    impl: 'store',
    refill: (c, n) => refillDestroy(c, n),
    op: (c) => destroyOp(c, c.store, 'store.destroy'),
  },
  // Metrics overhead: the same calls with metrics: false
  {
    id: 'bare.create',
    operation: 'create',
    impl: 'store (metrics off)',
    op: (c) => () => c.bare.createSession(benchUser(uid(c)), { metadata: benchMetadata }),
  },
  {
    id: 'bare.get',
    operation: 'get',
    impl: 'store (metrics off)',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.bare.getSession(t());
    },
  },
  {
    id: 'bare.refresh',
    operation: 'refresh',
    impl: 'store (metrics off)',
    op: (c, w) => {
      const t = pick(c.pools.storeTokens, w);
      return () => c.bare.refreshSession(t());
    },
  },
  {
    id: 'bare.destroy',
    operation: 'destroy',
    impl: 'store (metrics off)',
    refill: (c, n) => refillDestroy(c, n),
    op: (c) => destroyOp(c, c.bare, 'bare.destroy'),
  },
  // The limit a Node client reaches
  {
    id: 'raw.setex',
    operation: 'create',
    impl: 'raw ioredis',
    op: (c) => () => c.raw.set(`raw:${uid(c)}`, c.payload, 'EX', TTL),
  },
  {
    id: 'raw.get',
    operation: 'get',
    impl: 'raw ioredis',
    op: (c, w) => {
      const k = pick(c.pools.rawKeys, w);
      return () => c.raw.get(k());
    },
  },
  {
    id: 'raw.mget10',
    operation: 'getSessions(10)',
    impl: 'raw ioredis',
    itemsPerOp: 10,
    op: (c, w) => {
      const k = pick(c.pools.rawKeys, w);
      return () => c.raw.mget(Array.from({ length: 10 }, k));
    },
  },
  {
    id: 'raw.mget100',
    operation: 'getSessions(100)',
    impl: 'raw ioredis',
    itemsPerOp: 100,
    op: (c, w) => {
      const k = pick(c.pools.rawKeys, w);
      return () => c.raw.mget(Array.from({ length: 100 }, k));
    },
  },
  { id: 'raw.evalsha', operation: 'no-op EVALSHA', impl: 'raw ioredis', op: (c) => () => c.raw.evalsha(c.noopSha, 0) },
  // The naive store, command by command
  {
    id: 'naive.create',
    operation: 'create',
    impl: 'naive',
    op: (c) => () => {
      const i = uid(c);
      return c.naive.create(benchUser(i).id, expressSession(i, TTL));
    },
  },
  {
    id: 'naive.get',
    operation: 'get',
    impl: 'naive',
    op: (c, w) => {
      const t = pick(c.pools.naiveTokens, w);
      return () => c.naive.get(t());
    },
  },
  {
    id: 'naive.refresh',
    operation: 'refresh',
    impl: 'naive',
    op: (c, w) => {
      const t = pick(c.pools.naiveTokens, w);
      return () => c.naive.refresh(t());
    },
  },
  {
    id: 'naive.count',
    operation: 'count (10 sessions)',
    impl: 'naive',
    op: (c, w) => {
      const u = pick(c.pools.naiveListUsers, w);
      return () => c.naive.count(u());
    },
  },
  {
    id: 'naive.list',
    operation: 'list (10 sessions)',
    impl: 'naive',
    op: (c, w) => {
      const u = pick(c.pools.naiveListUsers, w);
      return () => c.naive.list(u());
    },
  },
  {
    id: 'naive.destroy',
    operation: 'destroy',
    impl: 'naive',
    refill: (c, n) =>
      fill(n, () => {
        const i = uid(c);
        return c.naive.create(benchUser(i).id, expressSession(i, TTL));
      }),
    op: (c) => {
      const next = popFrom(c, 'naive.destroy');
      return () => {
        const t = next();
        return t === undefined ? null : c.naive.destroy(t);
      };
    },
  },
  // The same with MULTI/EXEC
  {
    id: 'multi.create',
    operation: 'create',
    impl: 'MULTI',
    op: (c) => () => {
      const i = uid(c);
      return c.multi.create(benchUser(i).id, expressSession(i, TTL));
    },
  },
  {
    id: 'multi.destroy',
    operation: 'destroy',
    impl: 'MULTI',
    refill: (c, n) =>
      fill(n, () => {
        const i = uid(c);
        return c.multi.create(benchUser(i).id, expressSession(i, TTL));
      }),
    op: (c) => {
      const next = popFrom(c, 'multi.destroy');
      return () => {
        const t = next();
        return t === undefined ? null : c.multi.destroy(t);
      };
    },
  },
  // connect-redis 7.1
  {
    id: 'cr.set',
    operation: 'create',
    impl: 'connect-redis',
    op: (c) => () => {
      const i = uid(c);
      return c.cr.set(randomBytes(24).toString('base64url'), expressSession(i, TTL));
    },
  },
  {
    id: 'cr.get',
    operation: 'get',
    impl: 'connect-redis',
    op: (c, w) => {
      const s = pick(c.pools.crSids, w);
      return () => c.cr.get(s());
    },
  },
  {
    id: 'cr.touch',
    operation: 'refresh',
    impl: 'connect-redis',
    op: (c, w) => {
      const s = pick(c.pools.crSids, w);
      const sess = expressSession(0, TTL);
      return () => c.cr.touch(s(), sess);
    },
  },
  {
    id: 'cr.destroy',
    operation: 'destroy',
    impl: 'connect-redis',
    refill: (c, n) =>
      fill(n, async () => {
        const sid = randomBytes(24).toString('base64url');
        await c.cr.set(sid, expressSession(uid(c), TTL));
        return sid;
      }),
    op: (c) => {
      const next = popFrom(c, 'cr.destroy');
      return () => {
        const s = next();
        return s === undefined ? null : c.cr.destroy(s);
      };
    },
  },
];

/** Store case -> the baselines it is compared with, first = the one the chart uses. */
export const COMPARISONS: Record<string, string[]> = {
  'store.create': ['raw.setex', 'multi.create', 'naive.create', 'cr.set'],
  'store.get': ['raw.get', 'naive.get', 'cr.get'],
  'store.getCached': ['raw.get', 'cr.get'],
  'store.getSessions100Cached': ['raw.mget100'],
  'store.getRolling': ['raw.get', 'cr.get'],
  'store.getSessions10': ['raw.mget10'],
  'store.getSessions100': ['raw.mget100'],
  'store.refresh': ['cr.touch', 'naive.refresh'],
  'store.updateMetadata': ['raw.evalsha'],
  'store.ttl': ['raw.get'],
  'store.rotate': ['raw.evalsha'],
  'store.count': ['naive.count', 'raw.get'],
  'store.list': ['naive.list'],
  'store.destroy': ['cr.destroy', 'multi.destroy', 'naive.destroy'],
  'bare.create': ['store.create'],
  'bare.get': ['store.get'],
  'bare.refresh': ['store.refresh'],
  'bare.destroy': ['store.destroy'],
};
