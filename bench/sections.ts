import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import { Bench } from 'tinybench';
import { ConnectRedis } from './baselines.js';
import { CASES, COMPARISONS, fill, TTL, type BenchContext, type Case } from './cases.js';
import { drive } from './driver.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';
import { clientCommands, redisCpuUs } from './cost.js';
import { summarize, type Spread } from './stats.js';

export interface Plan {
  quick: boolean;
  rounds: number;
  durationMs: number;
  levels: number[];
  scaleSizes: number[];
  memorySessions: number;
  destroyAllSizes: number[];
  latencyTimeMs: number;
  benchmarkRequests: number;
}

export type Progress = (message: string) => void;

// Expected ops/s per in-flight level, to size single-use pools. Pools are capped: filling them
// is untimed but not free, and a worker that drains its pool simply stops (the rate is taken
// over the time actually measured).
const RATE_GUESS: Record<number, number> = { 1: 10_000, 16: 30_000, 256: 40_000 };
const MAX_POOL = 30_000;

export interface ThroughputRow {
  id: string;
  operation: string;
  impl: string;
  level: number;
  perSecond: Spread;
  p50Ms: number;
  p99Ms: number;
  perRound: number[];
  /** Redis CPU per call: redis-server's own CPU time (INFO CPU) during the run / calls made. */
  redisUsPerCall: Spread;
  /** Node CPU per call: this process's CPU time (process.cpuUsage) during the run / calls made. */
  nodeUsPerCall?: Spread;
  /** Redis commands per call, as the clients sent them (0 for a cache hit). */
  redisCommandsPerCall: Spread;
}

/**
 * The order of one round: each case followed by the cases it is compared with (first a
 * metrics-off twin that names it as its baseline, then its baselines), so a ratio divides runs made seconds
 * apart rather than half a round apart on a machine whose speed drifts. A baseline shared by
 * several cases runs with the first. Odd rounds run each group backwards, so neither side of a
 * ratio always goes first.
 */
export function roundOrder(cases: readonly Case[], round: number): Case[] {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const placed = new Set<string>();
  const out: Case[] = [];
  for (const c of cases) {
    if (placed.has(c.id)) continue;
    const twins = Object.keys(COMPARISONS).filter((id) => COMPARISONS[id]!.includes(c.id));
    const group = [...new Set([c.id, ...twins, ...(COMPARISONS[c.id] ?? [])])].filter(
      (id) => !placed.has(id) && byId.has(id),
    );
    group.forEach((id) => placed.add(id));
    if (round % 2 === 1) group.reverse();
    out.push(...group.map((id) => byId.get(id)!));
  }
  return out;
}

/** Every case at every in-flight level, for several rounds, compared cases side by side (roundOrder). */
export async function throughput(
  ctx: BenchContext,
  plan: Plan,
  progress: Progress,
  cases: readonly Case[] = CASES,
): Promise<ThroughputRow[]> {
  const runs = new Map<
    string,
    {
      perSecond: number[];
      p50: number[];
      p99: number[];
      redisUs: number[];
      nodeUs: number[];
      redisCommands: number[];
    }
  >();
  const total = plan.rounds * plan.levels.length * cases.length;
  let done = 0;
  for (let round = 0; round < plan.rounds; round++) {
    for (const level of plan.levels) {
      for (const c of roundOrder(cases, round)) {
        if (c.refill) {
          const need = Math.min(MAX_POOL, Math.ceil(((RATE_GUESS[level] ?? 40_000) * plan.durationMs) / 1000));
          ctx.drain.set(c.id, await c.refill(ctx, Math.max(need, level)));
        }
        await c.before?.(ctx);
        await ctx.admin.config('RESETSTAT');
        const redis0 = await redisCpuUs(ctx.admin);
        const node0 = process.cpuUsage();
        const r = await drive((w) => c.op(ctx, w), level, plan.durationMs, c.itemsPerOp ?? 1);
        const node = process.cpuUsage(node0);
        const redisUs = (await redisCpuUs(ctx.admin)) - redis0;
        const commands = await clientCommands(ctx.admin);
        const key = `${c.id}@${level}`;
        const acc = runs.get(key) ?? { perSecond: [], p50: [], p99: [], redisUs: [], nodeUs: [], redisCommands: [] };
        const calls = Math.max(1, r.ops);
        acc.perSecond.push(r.perSecond);
        acc.redisUs.push(redisUs / calls);
        acc.nodeUs.push((node.user + node.system) / calls);
        acc.redisCommands.push(commands / calls);
        acc.p50.push(r.p50Ms);
        acc.p99.push(r.p99Ms);
        runs.set(key, acc);
        done++;
        progress(
          `[${done}/${total}] round ${round + 1} ${c.id} @${level} in flight: ${Math.round(r.perSecond).toLocaleString('en')}/s`,
        );
      }
    }
  }
  return cases.flatMap((c) =>
    plan.levels.map((level) => {
      const acc = runs.get(`${c.id}@${level}`)!;
      return {
        id: c.id,
        operation: c.operation,
        impl: c.impl,
        level,
        perSecond: summarize(acc.perSecond),
        p50Ms: summarize(acc.p50).median,
        p99Ms: summarize(acc.p99).median,
        perRound: acc.perSecond,
        redisUsPerCall: summarize(acc.redisUs),
        nodeUsPerCall: summarize(acc.nodeUs),
        redisCommandsPerCall: summarize(acc.redisCommands),
      };
    }),
  );
}

export interface LatencyRow {
  name: string;
  p50Ms: number;
  p99Ms: number;
  opsPerSec: number;
  samples: number;
}

function latencyRows(bench: Bench): LatencyRow[] {
  return bench.tasks.map((t) => {
    const r = t.result;
    if (r.state === 'errored') throw r.error;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    return {
      name: t.name,
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      opsPerSec: r.throughput.mean,
      samples: r.latency.samplesCount,
    };
  });
}

/** tinybench, one call at a time: warm-up, p50/p99 and ops/s per operation; a throwing task fails the run. */
export async function latency(ctx: BenchContext, plan: Plan, progress: Progress): Promise<LatencyRow[]> {
  const bench = new Bench({ time: plan.latencyTimeMs, warmupTime: Math.min(200, plan.latencyTimeMs), throws: true });
  const single = CASES.filter((c) => !c.refill && c.impl !== 'store (metrics off)');
  for (const c of single) bench.add(`${c.impl}: ${c.operation}`, c.op(ctx, 0));
  bench.addEventListener('cycle', (e) =>
    progress(`latency: ${(e as unknown as { task?: { name: string } }).task?.name ?? ''}`),
  );
  await bench.run();
  const rows = latencyRows(bench);

  // destroyUserSessions and count against the user's own session count: sessions are
  // created before each iteration, outside the measured time.
  for (const n of plan.destroyAllSizes) {
    const perUser = new Bench({ iterations: plan.quick ? 5 : 20, time: 0, warmupIterations: 2, throws: true });
    let user = 0;
    const prepare = async () => {
      user = ctx.next++;
      await fill(n, () => ctx.store.createSession(benchUser(user), { metadata: benchMetadata }).then((s) => s.id));
    };
    perUser.add(`store: destroyUserSessions (${n} sessions)`, () => ctx.store.destroyUserSessions(benchUser(user).id), {
      beforeEach: prepare,
    });
    perUser.add(`store: countUserSessions (${n} sessions)`, () => ctx.store.countUserSessions(benchUser(user).id), {
      beforeEach: prepare,
    });
    await perUser.run();
    rows.push(...latencyRows(perUser));
    progress(`latency: destroyUserSessions with ${n} sessions`);
  }
  return rows;
}

export interface ScalingRow {
  stored: number;
  operation: string;
  perSecond: Spread;
}

export interface UserScalingRow {
  stored: number;
  sessionsOfUser: number;
  destroyAllMs: number;
  countMs: number;
}

/** Throughput of the hot operations and per-user cost as the database grows. */
export async function scaling(
  ctx: BenchContext,
  redis: Redis,
  plan: Plan,
  progress: Progress,
): Promise<{ rows: ScalingRow[]; users: UserScalingRow[] }> {
  const rows: ScalingRow[] = [];
  const users: UserScalingRow[] = [];
  const hot = CASES.filter((c) => ['store.get', 'store.create', 'store.refresh', 'store.destroy'].includes(c.id));
  await redis.flushall('SYNC');
  let stored = 0;
  for (const size of plan.scaleSizes) {
    progress(`scaling: filling to ${size.toLocaleString('en')} sessions`);
    const tokens = await fill(size - stored, () =>
      ctx.store.createSession(benchUser(ctx.next++ % 500_000), { metadata: benchMetadata }).then((s) => s.token),
    );
    stored = size;
    ctx.pools.storeTokens = tokens.slice(-10_000);
    const measured = await throughput(ctx, { ...plan, levels: [256] }, progress, hot);
    for (const m of measured) rows.push({ stored: size, operation: m.operation, perSecond: m.perSecond });
    for (const n of plan.destroyAllSizes) {
      const times = { destroy: [] as number[], count: [] as number[] };
      for (let i = 0; i < (plan.quick ? 3 : 7); i++) {
        const user = benchUser(ctx.next++);
        await fill(n, () => ctx.store.createSession(user, { metadata: benchMetadata }).then((s) => s.id));
        let t0 = performance.now();
        await ctx.store.countUserSessions(user.id);
        times.count.push(performance.now() - t0);
        t0 = performance.now();
        await ctx.store.destroyUserSessions(user.id);
        times.destroy.push(performance.now() - t0);
      }
      users.push({
        stored: size,
        sessionsOfUser: n,
        destroyAllMs: summarize(times.destroy).median,
        countMs: summarize(times.count).median,
      });
    }
  }
  return { rows, users };
}

export interface MemoryRow {
  layout: string;
  sessions: number;
  bytesPerSession: number;
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/^used_memory:(\d+)/m.exec(await redis.info('memory'))![1]);
}

/** Bytes per session in Redis (INFO memory delta), index included, against connect-redis. */
export async function memory(ctx: BenchContext, redis: Redis, plan: Plan, progress: Progress): Promise<MemoryRow[]> {
  const n = plan.memorySessions;
  const rows: MemoryRow[] = [];
  const measure = async (layout: string, create: (i: number) => Promise<string>) => {
    await redis.flushall('SYNC');
    const before = await usedMemory(redis);
    await fill(n, create);
    rows.push({ layout, sessions: n, bytesPerSession: ((await usedMemory(redis)) - before) / n });
    progress(`memory: ${layout}: ${rows.at(-1)!.bytesPerSession.toFixed(0)} bytes/session`);
  };
  const cr = new ConnectRedis(ctx.raw);
  await measure('store, 1 session per user', (i) =>
    ctx.store.createSession(benchUser(i), { metadata: benchMetadata }).then((s) => s.id),
  );
  await measure('store, 4 sessions per user', (i) =>
    ctx.store.createSession(benchUser(i >> 2), { metadata: benchMetadata }).then((s) => s.id),
  );
  // Session values are ~400 bytes, over the default hash-max-listpack-value of 64, so a user's
  // hash is a hashtable. Raising the limit keeps small per-user hashes in compact listpacks.
  const [, listpackValue] = (await redis.config('GET', 'hash-max-listpack-value')) as [string, string];
  await redis.config('SET', 'hash-max-listpack-value', '1024');
  try {
    await measure('store, 1 session per user, hash-max-listpack-value 1024', (i) =>
      ctx.store.createSession(benchUser(i), { metadata: benchMetadata }).then((s) => s.id),
    );
    await measure('store, 4 sessions per user, hash-max-listpack-value 1024', (i) =>
      ctx.store.createSession(benchUser(i >> 2), { metadata: benchMetadata }).then((s) => s.id),
    );
  } finally {
    await redis.config('SET', 'hash-max-listpack-value', listpackValue);
  }
  await measure('connect-redis 7.1', async (i) => {
    const sid = `${String(i).padStart(32, '0')}`;
    await cr.set(sid, expressSession(i, TTL));
    return sid;
  });
  await redis.flushall('SYNC');
  return rows;
}

export interface ServerLimitRow {
  test: string;
  pipeline: number;
  requestsPerSec: number;
}

/** redis-benchmark (C) on the same server: SET and GET with the same value size, pipelined and not. */
export async function serverLimit(
  host: string,
  port: number,
  plan: Plan,
  valueBytes: number,
): Promise<ServerLimitRow[]> {
  const rows: ServerLimitRow[] = [];
  for (const pipeline of [1, 16]) {
    const { stdout } = await promisify(execFile)('redis-benchmark', [
      '-h',
      host,
      '-p',
      String(port),
      '-t',
      'set,get',
      '-n',
      String(plan.benchmarkRequests),
      '-c',
      '50',
      '-d',
      String(valueBytes),
      '-P',
      String(pipeline),
      '--csv',
      '-q',
    ]);
    for (const line of stdout.split('\n')) {
      const m = /^"(SET|GET)","([\d.]+)"/.exec(line);
      if (m) rows.push({ test: m[1]!, pipeline, requestsPerSec: Number(m[2]) });
    }
  }
  return rows;
}
