/**
 * `npm run bench:metrics [-- --rounds N] [--duration-ms N]`
 * What the Prometheus metrics cost on every operation, measured two ways.
 * 1. In isolation (tinybench): a method that returns at once, called through the observer
 *    every store method uses (with metrics) against the same method called bare, so the
 *    difference is what the metrics add to a call. Divided
 *    by the Node CPU per call of the real operation (from 2), that is the overhead.
 * 2. End to end: each operation at 256 in flight on a store with
 * metrics, on one without, and on a second one without (the control: what two identical stores
 * differ by on this machine), the three runs back to back in an order that rotates by round.
 * The cost is Node CPU per call (process.cpuUsage over the run, divided by the calls), which
 * steal time and Redis do not move as they move throughput; throughput ratios are given too.
 * Ratios per round; medians and ranges over the rounds. Writes results/metrics-overhead.md.
 */
import { Registry } from 'prom-client';
import { Bench } from 'tinybench';
import { RedisSessionStore } from '../src/index.js';
import { StoreMetrics } from '../src/metrics.js';
import { Observer } from '../src/observe.js';
import { STORE_OPERATIONS, type StoreOperation } from '../src/operations.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { argOf } from './args.js';
import { writeResult } from './results-file.js';
import { fill } from './cases.js';
import { drive, type Op } from './driver.js';
import { benchMetadata, benchUser } from './payload.js';
import { summarize, type Spread } from './stats.js';

const ROUNDS = Number(argOf('rounds') ?? 7);
const DURATION = Number(argOf('duration-ms') ?? 500);
const IN_FLIGHT = 256;
const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
const measured = await RedisSessionStore.connect({ url: redis.url, metrics: { registry: new Registry() } });
const bare = await RedisSessionStore.connect({ url: redis.url, metrics: false });
const control = await RedisSessionStore.connect({ url: redis.url, metrics: false });

let nextUser = 0;
const newTokens = (n: number) =>
  fill(n, () => bare.createSession(benchUser(nextUser++), { metadata: benchMetadata }).then((s) => s.token));
const tokens = await newTokens(10_000);
const listUsers = Array.from({ length: 100 }, () => benchUser(nextUser++));
await fill(1000, (i) => bare.createSession(listUsers[i % 100]!, { metadata: benchMetadata }).then(() => ''));
const pick = (pool: readonly string[], w: number) => {
  let i = (w * 7919) % pool.length;
  return () => pool[(i = (i + 1) % pool.length)]!;
};

type Make = (store: RedisSessionStore) => Promise<(worker: number) => Op>;
const ops: Record<string, Make> = {
  getSession: async (s) => (w) => {
    const t = pick(tokens, w);
    return () => s.getSession(t());
  },
  getSessionTtl: async (s) => (w) => {
    const t = pick(tokens, w);
    return () => s.getSessionTtl(t());
  },
  createSession: async (s) => () => () => s.createSession(benchUser(nextUser++), { metadata: benchMetadata }),
  refreshSession: async (s) => (w) => {
    const t = pick(tokens, w);
    return () => s.refreshSession(t());
  },
  updateSessionMetadata: async (s) => (w) => {
    const t = pick(tokens, w);
    let n = 0;
    return () => s.updateSessionMetadata(t(), { page: String(n++ % 100) });
  },
  rotateSession: async (s) => {
    const own = await newTokens(IN_FLIGHT);
    return (w) => () => s.rotateSession(own[w]!).then((r) => void (own[w] = r!.token));
  },
  // One fresh session per call, made before the run (untimed); the run stops if they run out.
  destroySession: async (s) => {
    const pool = await newTokens(Math.ceil((DURATION / 1000) * 200_000));
    return () => () => {
      const t = pool.pop();
      return t === undefined ? null : s.destroySession(t);
    };
  },
  countUserSessions: async (s) => (w) => {
    let i = w;
    return () => s.countUserSessions(listUsers[i++ % 100]!.id);
  },
  listUserSessions: async (s) => (w) => {
    let i = w;
    return () => s.listUserSessions(listUsers[i++ % 100]!.id);
  },
};

interface Run {
  perSecond: number;
  cpuUsPerCall: number;
}
async function run(store: RedisSessionStore, make: Make): Promise<Run> {
  const op = await make(store);
  const cpu = process.cpuUsage();
  const r = await drive(op, IN_FLIGHT, DURATION);
  const used = process.cpuUsage(cpu);
  return { perSecond: r.perSecond, cpuUsPerCall: (used.user + used.system) / r.ops };
}

// Per operation: [cpu with / without, cpu control / without, throughput with / without] per round.
const results = new Map<string, [number[], number[], number[]]>();
const bareCpu = new Map<string, number[]>();
const stores = [measured, bare, control];
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, make] of Object.entries(ops)) {
    const order = stores.map((_, i) => stores[(i + round) % stores.length]!);
    const runs = new Map<RedisSessionStore, Run>();
    for (const store of order) runs.set(store, await run(store, make));
    const [m, b, c] = [runs.get(measured)!, runs.get(bare)!, runs.get(control)!];
    const entry = results.get(name) ?? [[], [], []];
    entry[0].push(m.cpuUsPerCall / b.cpuUsPerCall);
    entry[1].push(c.cpuUsPerCall / b.cpuUsPerCall);
    entry[2].push(m.perSecond / b.perSecond);
    results.set(name, entry);
    bareCpu.set(name, [...(bareCpu.get(name) ?? []), b.cpuUsPerCall]);
    process.stderr.write(`round ${round + 1} ${name}: cpu ${(m.cpuUsPerCall / b.cpuUsPerCall).toFixed(3)}\n`);
  }
}

// 1. What the metrics add to one call, in isolation.
// A method that returns at once, called bare and through the observer every store method uses.
const answer = (): Promise<unknown> => Promise.resolve(true);
const observer = new Observer(StoreMetrics.for({ registry: new Registry() }), undefined);
const isolated = new Map<string, number>();
for (const name of Object.keys(ops).filter((n): n is StoreOperation =>
  STORE_OPERATIONS.includes(n as StoreOperation),
)) {
  const bench = new Bench({ time: 300, warmupTime: 100, throws: true });
  bench.add('bare', () => answer());
  bench.add('metrics', () => observer.run(name, undefined, answer, undefined, undefined));
  await bench.run();
  const [b, m] = bench.tasks.map((t) => {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${name} ${t.name}: ${r.state}`);
    return r.latency.mean * 1000; // us
  });
  isolated.set(name, Math.max(0, m! - b!));
}

const fmt = (s: Spread) => `${s.median.toFixed(3)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
const lines = [
  `# Metrics overhead, ${IN_FLIGHT} in flight`,
  '',
  `${new Date().toISOString()}: what the metrics add to one call in isolation (tinybench, mean), set against the Node CPU one call of the operation costs without metrics (target: under 5%). End to end: ${ROUNDS} rounds of ${DURATION} ms per store and operation, three stores back to back in rotating order; the control is a second store without metrics against the first, this machine's noise floor for the end-to-end ratios. Median (range) over rounds.`,
  '',
  '| operation | metrics per call, isolated | Node CPU per call without metrics | overhead (isolated / CPU per call) | | end to end: Node CPU per call with / without | control / without | throughput with / without |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...Object.keys(ops).map((name) => {
    const [cpu, ctl, tput] = results.get(name)!.map(summarize) as [Spread, Spread, Spread];
    const perCall = summarize(bareCpu.get(name)!).median;
    const overhead = isolated.get(name)! / perCall;
    return `| ${name} | ${(isolated.get(name)! * 1000).toFixed(0)} ns | ${perCall.toFixed(2)} us | ${(overhead * 100).toFixed(1)}% | ${overhead < 0.05 ? 'met' : '**missed**'} | ${fmt(cpu)} | ${fmt(ctl)} | ${fmt(tput)} |`;
  }),
  '',
];
writeResult('metrics-overhead.md', lines);
await measured.close();
await bare.close();
await control.close();
await redis.stop();
