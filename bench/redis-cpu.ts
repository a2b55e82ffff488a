/**
 * `npm run bench:cpu [-- --rounds N] [--calls N] [--server DIR] [--instructions]`
 * What every store operation costs the processes, beside connect-redis doing the same job (on
 * an ioredis client as its README sets one up) and beside the plain command a naive store sends,
 * in one run on one Redis: N calls with 32 in flight, and around them
 *   - Redis CPU: INFO CPU, used_cpu_user + used_cpu_sys of redis-server (parsing, networking and
 *     the commands themselves; never INFO commandstats usec, which counts a script's inner
 *     commands a second time and leaves out parsing and networking),
 *   - Node CPU: process.cpuUsage() of this process (the store or client, and the driver),
 *   - Redis commands per call: from INFO commandstats, used only to count (a script's inner
 *     commands are not counted: only the EVALSHA/EVAL that ran them).
 * Each ratio divides a call by its baseline measured right beside it (the baseline first in even
 * rounds, second in odd ones). Medians and ranges over the rounds; writes
 * results/redis-cpu[-<server>].md, naming the server.
 *
 * `--instructions`: the same calls with redis-server under valgrind's callgrind, which counts
 * the instructions the server runs in user space around each row (callgrind_control): the same
 * count for the same work whatever else the machine does, so it tells a script's parts apart
 * where CPU time on a shared 2-core machine moves by 20%. It leaves out the kernel's share of
 * socket reads and writes, which a client that does not batch pays more of: the CPU table stays
 * the measure of cost. Defaults to 1 round of 2,000 calls (valgrind runs the server ~50x
 * slower); writes results/redis-instructions[-<server>].md.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { DEFAULTS, RedisSessionStore, type Session } from '../src/index.js';
import { adapt } from '../src/transport/client.js';
import { sessionIdOf, tagOfToken, userKey } from '../src/keys.js';
import { argOf } from './args.js';
import { ConnectRedis } from './baselines.js';
import { clientCommands, redisCpuUs } from './cost.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';
import { benchRedis } from './server.js';

const argv = process.argv.slice(2);
const arg = (name: string) => argOf(name, argv);
const INSTRUCTIONS = argv.includes('--instructions');
const ROUNDS = Number(arg('rounds') ?? (INSTRUCTIONS ? 1 : 3));
const CALLS = Number(arg('calls') ?? (INSTRUCTIONS ? 2000 : 20_000));
const IN_FLIGHT = 32;

/** The callgrind launcher for --instructions; fails clearly where valgrind is not installed. */
function callgrind(): string[] {
  try {
    execFileSync('callgrind_control', ['-h'], { stdio: 'ignore' });
  } catch {
    throw new Error('--instructions needs valgrind on PATH (Debian: apt-get install -y valgrind)');
  }
  return ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null'];
}
const redis = await benchRedis([], argv, INSTRUCTIONS ? callgrind() : []);
/** callgrind_control on the server: '-z' zeroes its counts, '-e' prints them per thread. */
const control = (flag: '-z' | '-e') =>
  execFileSync('callgrind_control', [flag, String(redis.pid)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
/** Instructions the server ran since the last zeroing, every thread's. */
const instructionsSinceZero = () => {
  let n = 0;
  for (const m of control('-e').matchAll(/^\s*Th \d+\s+([\d,]+)/gm)) n += Number(m[1]!.replace(/,/g, ''));
  return n;
};
const admin = new Redis(redis.url);
// Plain commands and the floors go out as the store sends: one tick's commands in one write.
const rawClient = new Redis(redis.url, { enableAutoPipelining: false });
const raw = adapt(rawClient);
// connect-redis's README: `new Redis()` handed to the store, no auto-pipelining.
const connectClient = new Redis(redis.url);
const connect = new ConnectRedis(connectClient);
// The store as shipped: its default connections and metrics on (tracing has no SDK here).
const store = await RedisSessionStore.connect({ url: redis.url });
// The same store with its session cache: what a hit costs Node (issue 23: <= 1 us).
const cached = await RedisSessionStore.connect({ url: redis.url, cache: true });
const value = JSON.stringify({ user: benchUser(0), metadata: benchMetadata }).padEnd(526, ' ');

interface Cost {
  redisUs: number;
  nodeUs: number;
  commands: number;
  /** redis-server's user-space instructions per call (--instructions), else 0. */
  instructions: number;
}

/** What `op` (i = 0..calls-1) costs per call, 32 in flight. */
async function costPerCall(calls: number, op: (i: number) => Promise<unknown>): Promise<Cost> {
  await admin.config('RESETSTAT');
  let next = 0;
  const redis0 = await redisCpuUs(admin);
  const node0 = process.cpuUsage();
  // Zeroed and read right around the calls: the INFO probes are not counted.
  if (INSTRUCTIONS) control('-z');
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < calls) await op(next++);
    }),
  );
  const instructions = INSTRUCTIONS ? instructionsSinceZero() / calls : 0;
  const node = process.cpuUsage(node0);
  const redisUs = (await redisCpuUs(admin)) - redis0;
  const commands = await clientCommands(admin);
  return {
    redisUs: redisUs / calls,
    nodeUs: (node.user + node.system) / calls,
    commands: commands / calls,
    instructions,
  };
}

async function plainKeys(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const p = rawClient.pipeline();
    for (let k = i; k < Math.min(n, i + 1000); k++) p.set(`${prefix}:${k}`, value, 'EX', 3600);
    await p.exec();
  }
}

/** `base`: the row this one is divided by; `target`: issue 23's ceilings on Node and Redis CPU, as multiples of it. */
type Case = {
  name: string;
  base: string;
  target?: { node?: number; redis?: number };
  /** Calls per row as a multiple of --calls: a cheap call needs more to rise above the noise. */
  scale?: number;
  setup: (n: number) => Promise<(i: number) => Promise<unknown>>;
};
/** A script run by SHA on each of 1000 sessions: the price of a script before it does any work. */
async function floorScript(body: string): Promise<(i: number) => Promise<unknown>> {
  const sha = (await admin.script('LOAD', body)) as string;
  const refs = (await tokens(1000)).map((t) => [userKey(store.options.keyPrefix, tagOfToken(t)!), sessionIdOf(t)]);
  return (i) => raw.send('EVALSHA', [sha, '1', refs[i % 1000]![0]!, refs[i % 1000]![1]!]);
}

/**
 * A refresh's commands (TIME, HMGET of the session and the bookkeeping, HSET) on the session as
 * stored, or on a header kept in a field of its own (`<id>:h`, 40 bytes): what keeping the header
 * apart would save a refresh, before any of the script's logic. Also reports what the header
 * field costs in bytes per session (INFO used_memory over the 1000 sessions).
 */
async function refreshFloor(apart: boolean): Promise<(i: number) => Promise<unknown>> {
  const refs = (await tokens(1000)).map((t) => [userKey(store.options.keyPrefix, tagOfToken(t)!), sessionIdOf(t)]);
  const field = (id: string) => (apart ? `${id}:h` : id);
  if (apart) {
    const used = async () => Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))![1]);
    const before = await used();
    for (const [key, id] of refs)
      await rawClient.hset(key!, field(id!), `${Date.now() + 3_600_000}|${Date.now()}|3600|0`);
    headerBytes.push(((await used()) - before) / refs.length);
  }
  const body = apart
    ? "redis.call('TIME') local got = redis.call('HMGET', KEYS[1], ARGV[1], '.') " +
      "redis.call('HSET', KEYS[1], ARGV[1], string.format('%d|%d|3600|0', 1796307474724, 1796303874724)) return 1"
    : "redis.call('TIME') local got = redis.call('HMGET', KEYS[1], ARGV[1], '.') redis.call('HSET', KEYS[1], ARGV[1], got[1]) return 1";
  const sha = (await admin.script('LOAD', body)) as string;
  return (i) => raw.send('EVALSHA', [sha, '1', refs[i % 1000]![0]!, field(refs[i % 1000]![1]!)]);
}
const headerBytes: number[] = [];
/** Whether the server expires hash fields (HPEXPIRE: Redis 7.4+, Valkey 9; not Valkey 8). */
async function hasFieldTtl(): Promise<boolean> {
  const reply = await admin.command('INFO', 'hpexpire'); // [null] where the command is unknown
  return Array.isArray(reply) && reply[0] !== null && reply[0] !== undefined;
}
const tokens = async (n: number, perUser = 1) => {
  const out: string[] = [];
  for (let i = 0; i < n; i += 256) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(256, n - i) }, (_, k) =>
        store.createSession(benchUser(Math.floor((i + k) / perUser)), { metadata: benchMetadata }),
      ),
    );
    out.push(...batch.map((s) => s.token));
  }
  return out;
};
let round = 0;
const sessionOf = (i: number) => expressSession(i, 3600);
const sids = (n: number) => Array.from({ length: n }, (_, i) => `sid-${round}-${i}`);
const connectSessions = async (n: number) => {
  const ids = sids(n);
  for (let i = 0; i < n; i += 256)
    await Promise.all(ids.slice(i, i + 256).map((id, k) => connect.set(id, sessionOf(i + k))));
  return ids;
};
const cases: Case[] = [
  // connect-redis, the store people replace with this one: the same jobs on the same payload.
  {
    name: 'connect-redis get',
    base: 'connect-redis get',
    setup: async () => {
      const ids = await connectSessions(1000);
      return (i) => connect.get(ids[i % 1000]!);
    },
  },
  {
    name: 'connect-redis set',
    base: 'connect-redis set',
    setup: async () => (i) => connect.set(`new-${round}-${i}`, sessionOf(i)),
  },
  {
    name: 'connect-redis touch',
    base: 'connect-redis touch',
    setup: async () => {
      const ids = await connectSessions(1000);
      const sess = sessionOf(0);
      return (i) => connect.touch(ids[i % 1000]!, sess);
    },
  },
  {
    name: 'connect-redis destroy',
    base: 'connect-redis destroy',
    setup: async (n) => {
      const ids = await connectSessions(n);
      return (i) => connect.destroy(ids[i]!);
    },
  },
  // Baselines touch 1000 keys, as the store's cases touch 1000 sessions: one hot key would be cheaper.
  {
    name: 'GET',
    base: 'GET',
    setup: async () => (await plainKeys('g', 1000), (i) => raw.send('GET', [`g:${i % 1000}`])),
  },
  {
    name: 'SET EX',
    base: 'SET EX',
    setup: async () => (i) => raw.send('SET', [`s:${round}:${i}`, value, 'EX', '3600']),
  },
  {
    name: 'EXPIRE',
    base: 'EXPIRE',
    setup: async () => (
      await plainKeys('e', 1000),
      (i) => raw.send('EXPIRE', [`e:${i % 1000}`, String(3600 + (i % 7))])
    ),
  },
  {
    name: 'DEL',
    base: 'DEL',
    setup: async (n) => (await plainKeys('d', n), (i) => raw.send('DEL', [`d:${i}`])),
  },
  // Floors: what any script costs here before it writes anything (issue 13's context).
  { name: 'floor: EVALSHA of return 1', base: 'EXPIRE', setup: () => floorScript('return 1') },
  {
    name: 'floor: EVALSHA that only reads the session (HMGET)',
    base: 'EXPIRE',
    setup: () => floorScript("redis.call('HMGET', KEYS[1], ARGV[1], '.') return 1"),
  },
  {
    name: "floor: EVALSHA of a new user's create commands only (HMGET, HSET, PEXPIREAT NX)",
    base: 'SET EX',
    setup: async () => {
      const body =
        "redis.call('HMGET', KEYS[1], ARGV[1], '.') redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], '.', ARGV[3]) " +
        "redis.call('PEXPIREAT', KEYS[1], ARGV[3], 'NX') return 1";
      const sha = (await admin.script('LOAD', body)) as string;
      const at = String(Date.now() + 3_600_000);
      return (i) => raw.send('EVALSHA', [sha, '1', `f:{${round}:${i}}:d`, 'AAAAAAAAAAAAAAAAAAAAAA', value, at]);
    },
  },
  {
    name: "floor: a refresh's commands only (TIME, HMGET, HSET of the stored value)",
    base: 'connect-redis touch',
    setup: () => refreshFloor(false),
  },
  {
    name: "floor: a refresh's commands on a header kept apart (TIME, HMGET, HSET of a 40-byte header)",
    base: 'connect-redis touch',
    setup: () => refreshFloor(true),
  },
  // Redis 7.4+ (and Valkey 9) expire hash fields on their own clock: a refresh on such a layout
  // would read the session's TTLs and move its field's expiry, with no TIME and no value
  // rewritten (a hash goes when its last field does). Printed where the server has HPEXPIRE.
  ...((await hasFieldTtl())
    ? [
        {
          name: 'floor: a refresh on hash-field TTLs, Redis 7.4+ only (HMGET, HPEXPIRE of the field)',
          base: 'connect-redis touch',
          setup: () =>
            floorScript(
              "redis.call('HMGET', KEYS[1], ARGV[1]) redis.call('HPEXPIRE', KEYS[1], 3600000, 'FIELDS', 1, ARGV[1]) return 1",
            ),
        },
      ]
    : []),
  {
    name: 'getSession',
    base: 'connect-redis get',
    target: { node: 1 },
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.getSession(t[i % t.length]!);
    },
  },
  {
    name: 'getSession, cache hit',
    base: 'connect-redis get',
    // ~2 us a call: 20,000 calls are 40 ms, within which one collection of an earlier row's
    // garbage moved the figure by half.
    scale: 10,
    setup: async () => {
      const t = await tokens(1000);
      for (const token of t) await cached.getSession(token); // the misses that fill the cache, untimed
      for (const token of t) await cached.getSession(token);
      return (i) => cached.getSession(t[i % t.length]!);
    },
  },
  {
    // What any hit must do: the id is the token's SHA-256, looked up in a Map, copied for the
    // caller, and handed back as a promise that the driver awaits.
    name: "floor: a cache hit's own work (the token's SHA-256, a Map lookup, a copy, a resolved promise)",
    base: 'connect-redis get',
    scale: 10,
    setup: async () => {
      const t = await tokens(1000);
      const held = new Map<string, Session>();
      for (const token of t) held.set(sessionIdOf(token), (await store.getSession(token))!);
      return (i) => {
        const s = held.get(sessionIdOf(t[i % t.length]!))!;
        const { id, userId, user, createdAt, lastAccessedAt, expiresAt, metadata } = s;
        return Promise.resolve({ id, userId, user, createdAt, lastAccessedAt, expiresAt, metadata });
      };
    },
  },
  {
    name: 'getSessions(100), per session',
    base: 'GET',
    scale: 5,
    setup: async () => {
      const t = await tokens(1000);
      // 100 sessions per call: usec per call / 100 is per session.
      return async (i) => {
        if (i % 100 === 0) await store.getSessions(t.slice(((i / 100) % 10) * 100, ((i / 100) % 10) * 100 + 100));
      };
    },
  },
  {
    name: 'createSession',
    base: 'connect-redis set',
    target: { node: 1, redis: 1 },
    setup: async () => (i) => store.createSession(benchUser(round * 1_000_000 + i), { metadata: benchMetadata }),
  },
  {
    name: 'refreshSession',
    base: 'connect-redis touch',
    target: { node: 1, redis: 1 },
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.refreshSession(t[i % t.length]!);
    },
  },
  {
    name: 'destroySession',
    base: 'connect-redis destroy',
    target: { node: 1, redis: 1 },
    setup: async (n) => {
      const t = await tokens(n);
      return (i) => store.destroySession(t[i]!);
    },
  },
  {
    name: 'updateSessionMetadata',
    base: 'SET EX',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.updateSessionMetadata(t[i % t.length]!, { step: String(i) });
    },
  },
  {
    name: 'rotateSession',
    base: 'SET EX',
    setup: async () => {
      const t = await tokens(1000);
      return async (i) => {
        const r = await store.rotateSession(t[i % t.length]!);
        t[i % t.length] = r!.token;
      };
    },
  },
  {
    name: 'listUserSessions (10 sessions)',
    base: 'SET EX',
    setup: async () => {
      await tokens(1000, 10);
      return (i) => store.listUserSessions(benchUser(i % 100).id);
    },
  },
  {
    name: 'countUserSessions',
    base: 'GET',
    setup: async () => {
      await tokens(1000, 10);
      return (i) => store.countUserSessions(benchUser(i % 100).id);
    },
  },
  {
    name: 'getSessionTtl',
    base: 'GET',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.getSessionTtl(t[i % t.length]!);
    },
  },
];

type Series = {
  redis: number[];
  node: number[];
  commands: number[];
  redisRatio: number[];
  nodeRatio: number[];
  instructions: number[];
  instructionsRatio: number[];
};
const series = new Map<string, Series>();
const byName = new Map(cases.map((c) => [c.name, c]));
async function measure(c: Case): Promise<Cost> {
  await admin.flushall();
  const calls = CALLS * (c.scale ?? 1);
  return costPerCall(calls, await c.setup(calls));
}
function record(name: string, cost: Cost, base: Cost): void {
  const s = series.get(name) ?? {
    redis: [],
    node: [],
    commands: [],
    redisRatio: [],
    nodeRatio: [],
    instructions: [],
    instructionsRatio: [],
  };
  s.redis.push(cost.redisUs);
  s.node.push(cost.nodeUs);
  s.commands.push(cost.commands);
  s.instructions.push(cost.instructions);
  s.instructionsRatio.push(cost.instructions / base.instructions);
  s.redisRatio.push(cost.redisUs / base.redisUs);
  s.nodeRatio.push(cost.nodeUs / base.nodeUs);
  series.set(name, s);
}
for (round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    if (c.name === c.base) {
      const cost = await measure(c);
      record(c.name, cost, cost);
      continue;
    }
    // Each call is divided by its baseline measured right beside it (before it in even rounds,
    // after it in odd ones): the machine's speed drifts within a round.
    const base = byName.get(c.base)!;
    const baseFirst = round % 2 === 0;
    const first = await measure(baseFirst ? base : c);
    const second = await measure(baseFirst ? c : base);
    const [plain, cost] = baseFirst ? [first, second] : [second, first];
    record(c.name, cost, plain);
    process.stderr.write(
      `round ${round + 1}: ${c.name} Redis ${cost.redisUs.toFixed(2)} us, Node ${cost.nodeUs.toFixed(2)} us (${c.base} beside it: ${plain.redisUs.toFixed(2)}, ${plain.nodeUs.toFixed(2)})\n`,
    );
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], d: number) => `${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}`;
const ratio = (xs: number[], self: boolean) => (self ? '1.00x' : `${median(xs).toFixed(2)}x (${range(xs, 2)})`);
const SETUP = `connect-redis 7.1 runs on an ioredis client as its README sets one up (no auto-pipelining); the store as shipped (${DEFAULTS.maxConnections} connection(s) by default, one tick's commands in one socket write, metrics on); the plain commands and the floors go out through the store's transport.`;
const verdict = (xs: number[], goal: number | undefined) =>
  goal === undefined ? '' : ` <= ${goal}x: ${median(xs) <= goal ? 'met' : '**missed**'}`;
const cpuLines = () => [
  `# Cost per call: Redis CPU (INFO CPU) and Node CPU (process.cpuUsage), ${redis.label}`,
  '',
  `${new Date().toISOString()}: ${IN_FLIGHT} in flight, ${CALLS} calls per row (${CALLS * 10} for the cache hit, ${CALLS * 5} for getSessions), medians of ${ROUNDS} rounds, ranges in brackets. Redis CPU is redis-server's own (parsing, networking and commands); Node CPU is this process's. Each ratio divides a row by its baseline measured right beside it in the same round. ${SETUP}`,
  '',
  '| call | Redis CPU per call | Node CPU per call | Redis commands per call | baseline | Redis CPU, ratio | Node CPU, ratio |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...cases.map((c) => {
    const s = series.get(c.name)!;
    const self = c.name === c.base;
    return `| ${c.name} | ${median(s.redis).toFixed(2)} us (${range(s.redis, 2)}) | ${median(s.node).toFixed(2)} us (${range(s.node, 2)}) | ${median(s.commands).toFixed(2)} | ${c.base} | ${ratio(s.redisRatio, self)}${verdict(s.redisRatio, c.target?.redis)} | ${ratio(s.nodeRatio, self)}${verdict(s.nodeRatio, c.target?.node)} |`;
  }),
  '',
  `A header kept in a field of its own adds ${median(headerBytes).toFixed(0)} bytes per session (INFO used_memory over 1000 users with one session each, medians of the rounds; the session value is over hash-max-listpack-value, so each field is a hash table entry).`,
];
// Under callgrind only the instruction counts mean anything: valgrind slows the server ~50x,
// which changes how many commands each socket read finds, and so both CPU columns.
const instructionLines = () => [
  `# Cost per call in redis-server instructions (callgrind), ${redis.label}`,
  '',
  `${new Date().toISOString()}: ${IN_FLIGHT} in flight, ${CALLS} calls per row (${CALLS * 10} for the cache hit, ${CALLS * 5} for getSessions), ${ROUNDS} round(s), medians and ranges. The instructions redis-server ran in user space around each row (valgrind --tool=callgrind, callgrind_control), per call: the same count for the same work, whatever else the machine does. Not counted: the kernel's share of socket reads and writes, which grows with every read a client's commands take, so connect-redis's unbatched commands cost Redis more than this shows (bench:cpu's CPU table is the measure of cost). ${SETUP}`,
  '',
  '| call | Redis instructions per call | Redis commands per call | baseline | ratio |',
  '| --- | --- | --- | --- | --- |',
  ...cases.map((c) => {
    const s = series.get(c.name)!;
    const self = c.name === c.base;
    return `| ${c.name} | ${median(s.instructions).toFixed(0)} (${range(s.instructions, 0)}) | ${median(s.commands).toFixed(2)} | ${c.base} | ${ratio(s.instructionsRatio, self)} |`;
  }),
];
const text = (INSTRUCTIONS ? instructionLines() : cpuLines()).join('\n') + '\n';
process.stdout.write(text);
const suffix = argOf('server', argv) === undefined ? '' : `-${redis.label.toLowerCase().replace(/ /g, '-')}`;
writeFileSync(
  join(import.meta.dirname, 'results', `${INSTRUCTIONS ? 'redis-instructions' : 'redis-cpu'}${suffix}.md`),
  text,
);

await store.close();
await cached.close();
rawClient.disconnect();
connectClient.disconnect();
admin.disconnect();
await redis.stop();
