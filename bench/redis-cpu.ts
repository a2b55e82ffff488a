/**
 * `npm run bench:cpu [-- --rounds N] [--calls N]`
 * Redis CPU per call of every store operation beside the plain command a naive store sends for
 * the same job, in one run on one embedded Redis: CONFIG RESETSTAT, N calls with 32 in flight,
 * then INFO commandstats (usec summed over every command, divided by the calls made). Each call's
 * ratio is taken against its plain command run right beside it. Medians and ranges over the
 * rounds; writes results/redis-cpu.md.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { RedisSessionStore } from '../src/index.js';
import { sessionIdOf, tagOfToken, userKey } from '../src/keys.js';
import { argOf } from './args.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { benchMetadata, benchUser } from './payload.js';

const argv = process.argv.slice(2);
const arg = (name: string) => argOf(name, argv);
const ROUNDS = Number(arg('rounds') ?? 3);
const CALLS = Number(arg('calls') ?? 20_000);
const IN_FLIGHT = 32;

const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
const admin = new Redis(redis.url);
const raw = new Redis(redis.url, { enableAutoPipelining: true });
const store = await RedisSessionStore.connect({ url: redis.url, metrics: false });
const value = JSON.stringify({ user: benchUser(0), metadata: benchMetadata }).padEnd(526, ' ');

/** Redis usec per call of `op` (i = 0..calls-1), 32 in flight. */
async function cpuPerCall(calls: number, op: (i: number) => Promise<unknown>): Promise<number> {
  await admin.config('RESETSTAT');
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < calls) await op(next++);
    }),
  );
  const info = await admin.info('commandstats');
  let usec = 0;
  for (const m of info.matchAll(/^cmdstat_([\w|]+):calls=\d+,usec=(\d+)/gm)) {
    if (m[1] !== 'config' && m[1] !== 'info') usec += Number(m[2]);
  }
  return usec / calls;
}

async function plainKeys(prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) {
    const p = raw.pipeline();
    for (let k = i; k < Math.min(n, i + 1000); k++) p.set(`${prefix}:${k}`, value, 'EX', 3600);
    await p.exec();
  }
}

/** `goal`: issue 13's ceiling, as a multiple of the plain command. */
type Case = {
  name: string;
  base: string;
  goal?: number;
  setup: (n: number) => Promise<(i: number) => Promise<unknown>>;
};
/** A script run by SHA on each of 1000 sessions: the price of a script before it does any work. */
async function floorScript(body: string): Promise<(i: number) => Promise<unknown>> {
  const sha = (await admin.script('LOAD', body)) as string;
  const refs = (await tokens(1000)).map((t) => [userKey(store.options.keyPrefix, tagOfToken(t)!), sessionIdOf(t)]);
  return (i) => raw.evalsha(sha, 1, refs[i % 1000]![0]!, refs[i % 1000]![1]!);
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
const cases: Case[] = [
  // Baselines touch 1000 keys, as the store's cases touch 1000 sessions: one hot key would be cheaper.
  { name: 'GET', base: 'GET', setup: async () => (await plainKeys('g', 1000), (i) => raw.get(`g:${i % 1000}`)) },
  { name: 'SET EX', base: 'SET EX', setup: async () => (i) => raw.set(`s:${round}:${i}`, value, 'EX', 3600) },
  {
    name: 'EXPIRE',
    base: 'EXPIRE',
    setup: async () => (await plainKeys('e', 1000), (i) => raw.expire(`e:${i % 1000}`, 3600 + (i % 7))),
  },
  {
    name: 'DEL',
    base: 'DEL',
    setup: async (n) => (await plainKeys('d', n), (i) => raw.del(`d:${i}`)),
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
      return (i) => raw.evalsha(sha, 1, `f:{${round}:${i}}:d`, 'AAAAAAAAAAAAAAAAAAAAAA', value, at);
    },
  },
  {
    name: 'getSession',
    goal: 2,
    base: 'GET',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.getSession(t[i % t.length]!);
    },
  },
  {
    name: 'getSessions(100), per session',
    base: 'GET',
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
    goal: 6,
    base: 'SET EX',
    setup: async () => (i) => store.createSession(benchUser(round * 1_000_000 + i), { metadata: benchMetadata }),
  },
  {
    name: 'refreshSession',
    goal: 8,
    base: 'EXPIRE',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.refreshSession(t[i % t.length]!);
    },
  },
  {
    name: 'destroySession',
    goal: 8,
    base: 'DEL',
    setup: async (n) => {
      const t = await tokens(n);
      return (i) => store.destroySession(t[i]!);
    },
  },
  {
    name: 'updateSessionMetadata',
    goal: 6,
    base: 'SET EX',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.updateSessionMetadata(t[i % t.length]!, { step: String(i) });
    },
  },
  {
    name: 'rotateSession',
    goal: 7,
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
    goal: 10,
    base: 'SET EX',
    setup: async () => {
      await tokens(1000, 10);
      return (i) => store.listUserSessions(benchUser(i % 100).id);
    },
  },
  {
    name: 'countUserSessions',
    goal: 3,
    base: 'GET',
    setup: async () => {
      await tokens(1000, 10);
      return (i) => store.countUserSessions(benchUser(i % 100).id);
    },
  },
  {
    name: 'getSessionTtl',
    goal: 2,
    base: 'GET',
    setup: async () => {
      const t = await tokens(1000);
      return (i) => store.getSessionTtl(t[i % t.length]!);
    },
  },
];

const results = new Map<string, number[]>();
const ratios = new Map<string, number[]>();
const byName = new Map(cases.map((c) => [c.name, c]));
async function measure(c: Case): Promise<number> {
  await admin.flushall();
  const calls = c.name.startsWith('getSessions') ? CALLS * 5 : CALLS;
  return cpuPerCall(calls, await c.setup(calls));
}
const push = (map: Map<string, number[]>, name: string, v: number) => map.set(name, [...(map.get(name) ?? []), v]);
for (round = 0; round < ROUNDS; round++) {
  for (const c of cases) {
    if (c.name === c.base) {
      push(results, c.name, await measure(c));
      push(ratios, c.name, 1);
      continue;
    }
    // Each call is divided by its plain command measured right beside it (before it in even
    // rounds, after it in odd ones): the machine's speed drifts within a round.
    const base = byName.get(c.base)!;
    const baseFirst = round % 2 === 0;
    const first = await measure(baseFirst ? base : c);
    const second = await measure(baseFirst ? c : base);
    const [plainUs, usec] = baseFirst ? [first, second] : [second, first];
    push(results, c.name, usec);
    push(ratios, c.name, usec / plainUs);
    process.stderr.write(
      `round ${round + 1}: ${c.name} ${usec.toFixed(2)} us (${c.base} beside it ${plainUs.toFixed(2)} us)\n`,
    );
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const lines = [
  `# Redis CPU per call (INFO commandstats, ${IN_FLIGHT} in flight, ${CALLS} calls, median of ${ROUNDS} rounds, range in brackets)`,
  '',
  'Each ratio divides a call by its plain command measured right beside it in the same round (the command first in even rounds, second in odd ones).',
  '',
  '| call | Redis CPU per call | plain command | ratio to it (same round) | target |',
  '| --- | --- | --- | --- | --- |',
  ...cases.map((c) => {
    const us = results.get(c.name)!;
    const r = ratios.get(c.name)!;
    const range = (xs: number[], d: number) => `${Math.min(...xs).toFixed(d)}-${Math.max(...xs).toFixed(d)}`;
    const goal = c.goal === undefined ? '' : `<= ${c.goal}x: ${median(r) <= c.goal ? 'met' : '**missed**'}`;
    return `| ${c.name} | ${median(us).toFixed(2)} us (${range(us, 2)}) | ${c.base} | ${c.name === c.base ? '1.00x' : `${median(r).toFixed(2)}x (${range(r, 2)})`} | ${goal} |`;
  }),
];
const text = lines.join('\n') + '\n';
process.stdout.write(text);
writeFileSync(join(import.meta.dirname, 'results', 'redis-cpu.md'), text);

await store.close();
raw.disconnect();
admin.disconnect();
await redis.stop();
