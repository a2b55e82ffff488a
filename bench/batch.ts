/**
 * `npm run bench:batch [-- --rounds N] [--duration-ms N] [--server DIR] [--before DIR]`
 * getSessions(100) against MGET(100) of the same sessions stored as strings, 256 batches in
 * flight, sessions per second, side by side in interleaved rounds on one Redis. Sides: the
 * store (one readSessions script per batch on one server), raw ioredis MGET(100), the same
 * MGET with each value decoded by the store's decoder (the floor of any store that returns
 * decoded sessions), raw ioredis HMGET per user pipelined (what the store sent before), and
 * with `--before DIR` the store of another checkout. Per side also Node CPU and Redis CPU per session. Writes results/batch[-<server>].md.
 */
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { decodeSession } from '../src/codec.js';
import { RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
import { redisCpuUs } from './cost.js';
import { benchMetadata, benchUser } from './payload.js';
import { writeResult } from './results-file.js';
import { benchRedis } from './server.js';
import { summarize, type Spread } from './stats.js';

const ROUNDS = Number(argOf('rounds') ?? 5);
const DURATION = Number(argOf('duration-ms') ?? 2000);
const IN_FLIGHT = 256;
const BATCH = 100;
const USERS = 5000;
const before = argOf('before');

type Reader = (batch: number) => Promise<unknown>;
interface Sample {
  perSecond: number;
  nodeUs: number;
  redisUs: number;
}

const server = await benchRedis();
const admin = new Redis(server.url);
const raw = new Redis(server.url); // as a caller would set up ioredis for MGET: a plain client
const options = () => ({ url: server.url, metrics: { registry: new Registry() } });
const store = await RedisSessionStore.connect(options());
type Other = { getSessions(tokens: string[]): Promise<unknown>; close(): Promise<void> };
const other =
  before === undefined
    ? undefined
    : await (
        (await import(resolve(before, 'src/index.ts'))) as { RedisSessionStore: { connect(o: object): Promise<Other> } }
      ).RedisSessionStore.connect(options());

// One session per user, each also stored as a string for MGET (the same bytes).
const tokens: string[] = [];
for (let i = 0; i < USERS; i += 500) {
  const made = await Promise.all(
    Array.from({ length: 500 }, (_, k) => store.createSession(benchUser(i + k), { metadata: benchMetadata })),
  );
  tokens.push(...made.map((m) => m.token));
}
const userKeys: string[] = [];
const ids: string[] = [];
for (const t of tokens) {
  const key = `session:{${t.slice(0, 22)}}:d`;
  const [[id, value]] = Object.entries(await admin.hgetall(key)).filter(([f]) => f !== '.') as [[string, string]];
  userKeys.push(key);
  ids.push(id);
  await admin.set(`mget:${key}`, value);
}
const pick = (b: number) => Array.from({ length: BATCH }, (_, i) => (b * 7919 + i * 131) % USERS);

const sides: [string, Reader][] = [
  ['store getSessions(100)', (b) => store.getSessions(pick(b).map((i) => tokens[i]!))],
  ['raw ioredis MGET(100)', (b) => raw.mget(pick(b).map((i) => `mget:${userKeys[i]}`))],
  // The floor for any store that returns decoded sessions: the same bytes, read and decoded.
  [
    'raw ioredis MGET(100), each value decoded',
    (b) =>
      raw.mget(pick(b).map((i) => `mget:${userKeys[i]}`)).then((values) => values.map((v) => decodeSession('', v))),
  ],
  ['raw ioredis HMGET per user, pipelined', (b) => Promise.all(pick(b).map((i) => raw.hget(userKeys[i]!, ids[i]!)))],
  ...(other === undefined
    ? []
    : [
        [`store of ${before} getSessions(100)`, (b: number) => other.getSessions(pick(b).map((i) => tokens[i]!))] as [
          string,
          Reader,
        ],
      ]),
];

async function measure(read: Reader): Promise<Sample> {
  let next = 0;
  let done = 0;
  const until = performance.now() + DURATION;
  const cpu0 = process.cpuUsage();
  const redis0 = await redisCpuUs(admin);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < until) {
        await read(next++);
        done++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const sessions = done * BATCH;
  return {
    perSecond: sessions / seconds,
    nodeUs: (cpu.user + cpu.system) / sessions,
    redisUs: ((await redisCpuUs(admin)) - redis0) / sessions,
  };
}

const samples = new Map<string, Sample[]>(sides.map(([name]) => [name, []]));
for (const [, read] of sides) await measure(read); // warm-up, untimed
for (let round = 0; round < ROUNDS; round++) {
  for (let s = 0; s < sides.length; s++) {
    const [name, read] = sides[(s + round) % sides.length]!;
    samples.get(name)!.push(await measure(read));
  }
}
const fmt = (x: Spread, digits = 0) =>
  `${x.median.toFixed(digits)} (${x.min.toFixed(digits)}-${x.max.toFixed(digits)})`;
const mget = samples.get('raw ioredis MGET(100)')!;
const lines = [
  `# getSessions(100) against MGET(100) on ${server.label}`,
  '',
  `${USERS} users with one session each, batches of ${BATCH} users, ${IN_FLIGHT} batches in flight, ${ROUNDS} interleaved rounds of ${DURATION} ms: median (min-max).`,
  'Ratios: per round, against MGET(100) of the same values stored as strings. CPU per session: process.cpuUsage, INFO CPU.',
  '',
  '| side | sessions / s | vs MGET(100) | Node CPU / session (us) | Redis CPU / session (us) |',
  '| --- | --- | --- | --- | --- |',
  ...sides.map(([name]) => {
    const s = samples.get(name)!;
    const ratio = summarize(s.map((x, i) => x.perSecond / mget[i]!.perSecond));
    return `| ${name} | ${fmt(summarize(s.map((x) => x.perSecond)))} | ${fmt(ratio, 2)}x | ${fmt(summarize(s.map((x) => x.nodeUs)), 2)} | ${fmt(summarize(s.map((x) => x.redisUs)), 2)} |`;
  }),
  '',
];
const suffix = argOf('server') === undefined ? '' : `-${server.label.toLowerCase().replace(/ /g, '-')}`;
writeResult(`batch${suffix}.md`, lines);
await store.close();
await other?.close();
raw.disconnect();
admin.disconnect();
await server.stop();
