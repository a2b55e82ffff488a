/**
 * `npm run bench [-- --quick] [--rounds N] [--duration-ms N] [--scale 10000,100000] [--destroy-all 1,10]
 *   [--memory-sessions N] [--out DIR] [--server DIR]`
 * Runs every case side by side on one Redis (a throwaway one, of --server DIR's redis-server when
 * given, unless REDIS_URL is set) and writes results/latest.json, latest.md and latest.svg, which
 * name the server. Progress goes to stderr.
 */
import { cpus } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
import { benchRedis } from './server.js';
import { ConnectRedis, MultiStore, NaiveStore } from './baselines.js';
import { fill, TTL, type BenchContext } from './cases.js';
import { benchMetadata, benchUser, expressSession } from './payload.js';
import { computeTargets, renderMarkdown, renderSvg, type Results } from './report.js';
import { latency, memory, scaling, serverLimit, throughput, type Plan } from './sections.js';

const argv = process.argv.slice(2);
const arg = (name: string) => argOf(name, argv);
const quick = argv.includes('--quick');
const plan: Plan = {
  quick,
  rounds: Number(arg('rounds') ?? (quick ? 1 : 3)),
  durationMs: Number(arg('duration-ms') ?? (quick ? 250 : 1000)),
  levels: [1, 16, 256],
  scaleSizes: arg('scale')?.split(',').map(Number) ?? (quick ? [5_000, 20_000] : [10_000, 100_000, 1_000_000]),
  memorySessions: Number(arg('memory-sessions') ?? (quick ? 5_000 : 100_000)),
  destroyAllSizes: arg('destroy-all')?.split(',').map(Number) ?? (quick ? [1, 10, 100] : [1, 10, 100, 1000]),
  latencyTimeMs: quick ? 60 : 500,
  benchmarkRequests: quick ? 20_000 : 200_000,
};
const outDir = arg('out') ?? join(import.meta.dirname, 'results');
const progress = (m: string) => process.stderr.write(`${m}\n`);

const server = await benchRedis([], argv);
const url = server.url;
progress(`${server.label} at ${url}`);

// Baselines get ioredis at its best on its own (auto-pipelining): one write per loop turn, as
// the store sends (its own transport does it for less CPU, so they are not an upper bound).
const clientOptions = { enableAutoPipelining: true, maxRetriesPerRequest: 1 };
const raw = new Redis(url, clientOptions);
const admin = new Redis(url);
const baselineClients = [
  new Redis(url, clientOptions),
  new Redis(url, clientOptions),
  new Redis(url, clientOptions),
] as const;
const connectOptions = { url, redisOptions: {} };
const ctx: BenchContext = {
  store: await RedisSessionStore.connect({ ...connectOptions, metrics: { registry: new Registry() } }),
  bare: await RedisSessionStore.connect({ ...connectOptions, metrics: false }),
  rolling: await RedisSessionStore.connect({
    ...connectOptions,
    metrics: { registry: new Registry() },
    rolling: true,
    touchAfter: 0,
  }),
  cached: await RedisSessionStore.connect({ ...connectOptions, metrics: { registry: new Registry() }, cache: true }),
  raw,
  admin,
  naive: new NaiveStore(baselineClients[0], TTL),
  multi: new MultiStore(baselineClients[1], TTL),
  cr: new ConnectRedis(baselineClients[2]),
  noopSha: (await admin.script('LOAD', 'return 1')) as string,
  payload: JSON.stringify(expressSession(0, TTL)),
  pools: { storeTokens: [], rawKeys: [], naiveTokens: [], crSids: [], listUsers: [], naiveListUsers: [] },
  drain: new Map(),
  next: 0,
};

try {
  const started = new Date();
  progress('setting up pools');
  await admin.flushall('SYNC');
  ctx.pools.storeTokens = await fill(10_000, (i) =>
    ctx.store.createSession(benchUser(2_000_000 + i), { metadata: benchMetadata }).then((s) => s.token),
  );
  ctx.pools.rawKeys = await fill(
    10_000,
    async (i) => (await raw.set(`rawpool:${i}`, ctx.payload, 'EX', TTL), `rawpool:${i}`),
  );
  ctx.pools.naiveTokens = await fill(10_000, (i) =>
    ctx.naive.create(benchUser(3_000_000 + i).id, expressSession(i, TTL)),
  );
  ctx.pools.crSids = await fill(
    10_000,
    async (i) => (await ctx.cr.set(`crpool${i}`, expressSession(i, TTL)), `crpool${i}`),
  );
  ctx.pools.listUsers = Array.from({ length: 200 }, (_, u) => benchUser(4_000_000 + u).id);
  await fill(2000, (i) =>
    ctx.store.createSession(benchUser(4_000_000 + (i % 200)), { metadata: benchMetadata }).then((s) => s.id),
  );
  ctx.pools.naiveListUsers = Array.from({ length: 200 }, (_, u) => benchUser(5_000_000 + u).id);
  await fill(2000, (i) => ctx.naive.create(benchUser(5_000_000 + (i % 200)).id, expressSession(i, TTL)));

  const results: Results = {
    startedAt: started.toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      redis: server.version,
      server: server.label,
      ioredis: (
        JSON.parse(
          readFileSync(join(import.meta.dirname, '..', 'node_modules', 'ioredis', 'package.json'), 'utf8'),
        ) as { version: string }
      ).version,
      connectRedis: (
        JSON.parse(
          readFileSync(join(import.meta.dirname, '..', 'node_modules', 'connect-redis', 'package.json'), 'utf8'),
        ) as { version: string }
      ).version,
    },
    plan,
    payloadBytes: Buffer.byteLength(ctx.payload),
    throughput: await throughput(ctx, plan, progress),
    latency: await latency(ctx, plan, progress),
    serverLimit: await serverLimit(
      raw.options.host ?? '127.0.0.1',
      raw.options.port ?? 6379,
      plan,
      Buffer.byteLength(ctx.payload),
    ),
    scaling: await scaling(ctx, admin, plan, progress),
    memory: await memory(ctx, admin, plan, progress),
    finishedAt: '',
  };
  results.finishedAt = new Date().toISOString();
  results.targets = computeTargets(results);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), renderMarkdown(results));
  writeFileSync(join(outDir, 'latest.svg'), renderSvg(results));
  progress(`wrote ${join(outDir, 'latest.{json,md,svg}')}`);
} finally {
  await Promise.all([ctx.store.close(), ctx.bare.close(), ctx.rolling.close()]);
  for (const client of [raw, admin, ...baselineClients]) client.disconnect();
  await server.stop();
}
process.exit(0);
