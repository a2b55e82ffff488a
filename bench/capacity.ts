/**
 * `npm run bench:capacity [-- --rounds N] [--requests N] [--apps 1,4] [--server DIR]`
 * What a realistic mix costs the processes that pay for it: 90% get, 5% refresh (touch), 3%
 * create (set), 2% destroy, run as it comes, one seeded sequence for every side, 32 requests in
 * flight in all. Sides: connect-redis 7.1 on an ioredis client as its README sets one up, the
 * store, and the store with its session cache. Each side runs with one app process, and with
 * several app processes sharing one Redis (each pipelining less: the 32 in flight are split).
 *
 * Per side: requests per Redis core-second (requests / redis-server CPU seconds, INFO CPU),
 * app CPU per request (process.cpuUsage of every app process), Redis commands per request (the
 * commands the side's clients send, counted in INFO commandstats without a script's inner
 * commands), Redis socket reads per request (INFO stats: how many commands each read found),
 * requests per second. Each app process first runs an untimed stretch of the same mix. Sides alternate in order by round; medians and ranges over
 * the rounds. Writes results/capacity[-<server>].md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { DEFAULTS, RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
import { ConnectRedis } from './baselines.js';
import { redisCpuUs, redisSocketIo } from './cost.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';
import { benchRedis } from './server.js';
import { summarize, type Spread } from './stats.js';

const SIDES = ['connect-redis', 'store', 'store + cache', 'store, 2 connections'] as const;
type Side = (typeof SIDES)[number];
const IN_FLIGHT = 32;
const LIVE = 2000; // sessions each app process reads and refreshes
// Untimed requests of the same mix (another seed) before the timed ones: each side is a fresh
// process, and with only reads to warm up, the first writes of the timed run paid for compiling
// their code (V8 compiles on helper threads, which process.cpuUsage counts). An app server runs
// warm; so does this.
const WARMUP = 20_000;
const MIX = { get: 0.9, refresh: 0.05, create: 0.03, destroy: 0.02 };
// The commands each side's own clients send. Commandstats counts a script's inner commands
// under their own names too, and every write script of the store calls HMGET: so HMGET is left
// out (in this mix the store sends none of its own; counting it added the writes' inner HMGETs,
// 0.10 commands per request).
const SENT: Record<Side, readonly string[]> = {
  'connect-redis': ['get', 'set', 'expire', 'del'],
  store: ['evalsha', 'eval', 'hget'],
  'store + cache': ['evalsha', 'eval', 'hget', 'ping', 'client|tracking'],
  'store, 2 connections': ['evalsha', 'eval', 'hget'],
};

/** A small seeded generator (mulberry32): every side replays the same sequence. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = 'get' | 'refresh' | 'create' | 'destroy';
function sequence(seed: number, n: number): Kind[] {
  const next = random(seed);
  return Array.from({ length: n }, () => {
    const x = next();
    if (x < MIX.get) return 'get';
    if (x < MIX.get + MIX.refresh) return 'refresh';
    if (x < MIX.get + MIX.refresh + MIX.create) return 'create';
    return 'destroy';
  });
}

interface Job {
  side: Side;
  url: string;
  seed: number;
  requests: number;
  inFlight: number;
  app: number;
  round: number;
}
interface Done {
  cpuUs: number;
  ms: number;
  requests: number;
}

/** One app process: sets up untimed, then on 'go' runs its sequence and reports its CPU. */
async function child(job: Job): Promise<void> {
  const ops = sequence(job.seed, job.requests);
  const warm = sequence(job.seed + 1_000_000, Math.floor(WARMUP / (IN_FLIGHT / job.inFlight)));
  const destroys = [...ops, ...warm].filter((k) => k === 'destroy').length;
  const tag = `${job.round}-${job.app}`;
  let request: (kind: Kind, i: number) => Promise<unknown>;
  let close: () => Promise<void>;
  if (job.side === 'connect-redis') {
    const client = new Redis(job.url); // connect-redis's README: a plain client
    const store = new ConnectRedis(client);
    const sess = (i: number) => expressSession(i, 3600);
    const live = Array.from({ length: LIVE }, (_, i) => `live-${tag}-${i}`);
    const doomed = Array.from({ length: destroys }, (_, i) => `doomed-${tag}-${i}`);
    for (const ids of [live, doomed])
      for (let i = 0; i < ids.length; i += 200)
        await Promise.all(ids.slice(i, i + 200).map((id, k) => store.set(id, sess(k))));
    const touchSess = sess(0);
    let made = 0;
    request = (kind, i) => {
      if (kind === 'get') return store.get(live[i % LIVE]!);
      if (kind === 'refresh') return store.touch(live[i % LIVE]!, touchSess);
      if (kind === 'create') return store.set(`new-${tag}-${made++}`, sess(i));
      return store.destroy(doomed.pop()!);
    };
    close = async () => void (await client.quit());
  } else {
    const store = await RedisSessionStore.connect({
      url: job.url,
      metrics: { registry: new Registry() },
      ...(job.side === 'store + cache' ? { cache: true } : {}),
      // The default before issue 23, beside the default: what a second connection costs.
      ...(job.side === 'store, 2 connections' ? { maxConnections: 2 } : {}),
    });
    const make = async (n: number, base: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i += 200) {
        const made = await Promise.all(
          Array.from({ length: Math.min(200, n - i) }, (_, k) =>
            store.createSession(benchUser(base + i + k), { metadata: benchMetadata }),
          ),
        );
        out.push(...made.map((s) => s.token));
      }
      return out;
    };
    const userBase = (job.round * 16 + job.app) * 1_000_000;
    const live = await make(LIVE, userBase);
    const doomed = await make(destroys, userBase + LIVE);
    let made = 0;
    request = (kind, i) => {
      if (kind === 'get') return store.getSession(live[i % LIVE]!);
      if (kind === 'refresh') return store.refreshSession(live[i % LIVE]!);
      if (kind === 'create')
        return store.createSession(benchUser(userBase + 500_000 + made++), { metadata: benchMetadata });
      return store.destroySession(doomed.pop()!);
    };
    close = () => store.close();
  }
  const runAll = async (kinds: Kind[]) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: job.inFlight }, async () => {
        while (next < kinds.length) {
          const i = next++;
          await request(kinds[i]!, i);
        }
      }),
    );
  };
  // Untimed: a read of every live session (which fills the cache), then the warm-up mix.
  for (let i = 0; i < LIVE; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => request('get', i + k)));
  await runAll(warm);
  process.send!('ready');
  await once(process, 'message');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runAll(ops);
  const cpu = process.cpuUsage(cpu0);
  const done: Done = { cpuUs: cpu.user + cpu.system, ms: performance.now() - t0, requests: ops.length };
  process.send!(done);
  await close();
  process.disconnect();
}

if (process.argv.includes('--child')) {
  const [job] = (await once(process, 'message')) as [Job];
  await child(job);
} else {
  await parent();
}

async function parent(): Promise<void> {
  const argv = process.argv.slice(2);
  const rounds = Number(argOf('rounds', argv) ?? 3);
  const requests = Number(argOf('requests', argv) ?? 60_000);
  const appCounts = (argOf('apps', argv) ?? '1,4').split(',').map(Number);
  const redis = await benchRedis();
  const admin = new Redis(redis.url);
  const sentCommands = async (side: Side) => {
    const stats = await admin.info('commandstats');
    let n = 0;
    for (const m of stats.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm))
      if (SENT[side].includes(m[1]!)) n += Number(m[2]);
    return n;
  };

  async function run(side: Side, apps: number, round: number) {
    const children: ChildProcess[] = Array.from({ length: apps }, () =>
      fork(import.meta.filename, ['--child'], { execArgv: ['--import', 'tsx'], stdio: 'inherit' }),
    );
    const ready = children.map((c) => once(c, 'message'));
    children.forEach((c, app) => {
      const job: Job = {
        side,
        url: redis.url,
        seed: 1000 * round + app + 1,
        requests: Math.floor(requests / apps),
        inFlight: IN_FLIGHT / apps,
        app,
        round,
      };
      c.send(job);
    });
    await Promise.all(ready);
    const done = children.map((c) => once(c, 'message') as Promise<[Done]>);
    const exited = children.map((c) => once(c, 'exit'));
    await admin.config('RESETSTAT');
    const redis0 = await redisCpuUs(admin);
    children.forEach((c) => c.send('go'));
    const results = (await Promise.all(done)).map(([d]) => d);
    const redisUs = (await redisCpuUs(admin)) - redis0;
    const commands = await sentCommands(side);
    const io = await redisSocketIo(admin);
    await Promise.all(exited);
    const total = results.reduce((n, d) => n + d.requests, 0);
    const appUs = results.reduce((n, d) => n + d.cpuUs, 0);
    const ms = Math.max(...results.map((d) => d.ms));
    await admin.flushall();
    return {
      perRedisCoreSecond: total / (redisUs / 1e6),
      appUsPerRequest: appUs / total,
      redisUsPerRequest: redisUs / total,
      commandsPerRequest: commands / total,
      readsPerRequest: io.reads / total,
      perSecond: total / (ms / 1000),
    };
  }

  type Row = { [K in keyof Awaited<ReturnType<typeof run>>]: number[] };
  const rows = new Map<string, Row>();
  const ratios = new Map<string, { core: number[]; app: number[] }>();
  for (let round = 0; round < rounds; round++) {
    for (const apps of appCounts) {
      const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]!);
      const got = new Map<Side, Awaited<ReturnType<typeof run>>>();
      for (const side of order) {
        const r = await run(side, apps, round);
        got.set(side, r);
        const key = `${apps}|${side}`;
        const row = rows.get(key) ?? {
          perRedisCoreSecond: [],
          appUsPerRequest: [],
          redisUsPerRequest: [],
          commandsPerRequest: [],
          readsPerRequest: [],
          perSecond: [],
        };
        for (const k of Object.keys(r) as (keyof typeof r)[]) row[k].push(r[k]);
        rows.set(key, row);
        process.stderr.write(
          `round ${round + 1}, ${apps} app(s), ${side}: ${Math.round(r.perRedisCoreSecond)} req per Redis core-s, app ${r.appUsPerRequest.toFixed(1)} us/req, Redis ${r.redisUsPerRequest.toFixed(2)} us/req, ${r.commandsPerRequest.toFixed(3)} cmd/req, ${r.readsPerRequest.toFixed(3)} socket reads/req, ${Math.round(r.perSecond)}/s\n`,
        );
      }
      const base = got.get('connect-redis')!;
      for (const side of SIDES) {
        const r = got.get(side)!;
        const key = `${apps}|${side}`;
        const x = ratios.get(key) ?? { core: [], app: [] };
        x.core.push(r.perRedisCoreSecond / base.perRedisCoreSecond);
        x.app.push(r.appUsPerRequest / base.appUsPerRequest);
        ratios.set(key, x);
      }
    }
  }

  const f = (s: Spread, d: number) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}-${s.max.toFixed(d)})`;
  const lines = [
    `# Capacity: the 90/5/3/2 mix, ${redis.label}`,
    '',
    `${new Date().toISOString()}: 90% get, 5% refresh (touch), 3% create (set), 2% destroy, one seeded sequence per app process for every side, ${IN_FLIGHT} requests in flight in all (split across the app processes), ${requests.toLocaleString('en')} requests per run, medians of ${rounds} rounds (ranges in brackets), sides in rotating order. Redis CPU from INFO CPU (redis-server's own), app CPU from process.cpuUsage of every app process, commands counted in INFO commandstats (what the clients send, not a script's inner commands), socket reads from INFO stats total_reads_processed (how many reads the commands took). Each app process first runs ${WARMUP.toLocaleString('en')} untimed requests of the same mix (split across the app processes). connect-redis 7.1 runs on an ioredis client as its README sets one up (no auto-pipelining); the store as shipped (${DEFAULTS.maxConnections} connection(s) by default, one tick's commands in one socket write, metrics on). 2 cores shared by every process.`,
    '',
    '| app processes | side | requests per Redis core-second | vs connect-redis | app CPU per request | vs connect-redis | Redis CPU per request | Redis commands per request | Redis socket reads per request | requests/s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const apps of appCounts) {
    for (const side of SIDES) {
      const row = rows.get(`${apps}|${side}`)!;
      const x = ratios.get(`${apps}|${side}`)!;
      const s = (k: keyof Row) => summarize(row[k]);
      lines.push(
        `| ${apps} | ${side} | ${f(s('perRedisCoreSecond'), 0)} | ${f(summarize(x.core), 2)}x | ${f(s('appUsPerRequest'), 1)} us | ${f(summarize(x.app), 2)}x | ${f(s('redisUsPerRequest'), 2)} us | ${f(s('commandsPerRequest'), 3)} | ${f(s('readsPerRequest'), 3)} | ${f(s('perSecond'), 0)} |`,
      );
    }
  }
  const text = lines.join('\n') + '\n';
  process.stdout.write(text);
  const suffix = argOf('server', argv) === undefined ? '' : `-${redis.label.toLowerCase().replace(/ /g, '-')}`;
  writeFileSync(join(import.meta.dirname, 'results', `capacity${suffix}.md`), text);
  admin.disconnect();
  await redis.stop();
}
