/**
 * `npm run bench:revocation [-- --destroys N] [--rounds N]`
 * The revocation window of the session cache (the core store's and the express adapter's)
 * across two processes on loopback: how long after
 * a destroy has been acknowledged to the process that made it (a writer, forked here) another
 * process (this one, with `cache: true`) can still serve the session from memory.
 *
 * Per destroy: this process caches a fresh session (a hit is confirmed), then polls getSession
 * every ~50 us while the writer destroys it and reports when its destroySession
 * resolved. The window is the start of the first read that returned null (the first the cache
 * could not answer) minus that time, on one clock
 * (performance.timeOrigin + now() is shared by processes on one machine). It is negative when
 * the invalidation arrived before the writer's own reply. Writes results/revocation.md.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { ExpressSessionStore } from '../src/express.js';
import { RedisSessionStore } from '../src/index.js';
import { argOf } from './args.js';
import { writeResult } from './results-file.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { benchMetadata, benchUser } from './payload.js';
import { percentile, summarize } from './stats.js';

type ToWriter = { destroy: string } | { expressDestroy: string } | { publish: true } | { stop: true };
type FromWriter = { ready: true } | { destroyedAt: number };

const wallNow = () => performance.timeOrigin + performance.now();
const FLOOR_CHANNEL = 'revocation-bench-floor';

if (process.env.REVOCATION_WRITER_URL !== undefined) {
  // The writer: another app server, without a cache.
  const store = await RedisSessionStore.connect({ url: process.env.REVOCATION_WRITER_URL, metrics: false });
  const publisher = new Redis(process.env.REVOCATION_WRITER_URL);
  const adapter = new ExpressSessionStore({ client: publisher, metrics: false });
  const send = (m: FromWriter) => process.send!(m);
  process.on('message', (m: ToWriter) => {
    if ('stop' in m) {
      publisher.disconnect();
      void store.close().then(() => process.exit(0));
    } else if ('expressDestroy' in m) {
      void adapter.destroy(m.expressDestroy).then(() => send({ destroyedAt: wallNow() }));
    } else if ('publish' in m) {
      void publisher.publish(FLOOR_CHANNEL, 'x').then(() => send({ destroyedAt: wallNow() }));
    } else {
      void store.destroySession(m.destroy).then(() => send({ destroyedAt: wallNow() }));
    }
  });
  send({ ready: true });
} else {
  const argv = process.argv.slice(2);
  const arg = (name: string) => argOf(name, argv);
  const destroys = Number(arg('destroys') ?? 1000);
  const rounds = Number(arg('rounds') ?? 5);
  const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
  const reader = await RedisSessionStore.connect({ url: redis.url, metrics: false, cache: true });
  const adapterClient = new Redis(redis.url);
  const adapterReader = new ExpressSessionStore({ client: adapterClient, metrics: false, cache: true });
  await adapterReader.ready();
  const writer: ChildProcess = fork(import.meta.filename, [], {
    env: { ...process.env, REVOCATION_WRITER_URL: redis.url },
    execArgv: ['--import', 'tsx'],
  });
  const next = () => new Promise<FromWriter>((resolve) => writer.once('message', resolve));
  const ackTime = (m: FromWriter) => {
    if (!('destroyedAt' in m)) throw new Error('unexpected message from the writer');
    return m.destroyedAt;
  };
  await next(); // ready
  // Between two reads the reader sleeps 50 us (Atomics.wait frees the core) and then lets the
  // event loop read its sockets: busy polling would take a whole core from Redis and the
  // writer, and the scheduler's ~3 ms slices would show up as the window.
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const turn = () =>
    new Promise((done) => {
      Atomics.wait(nap, 0, 0, 0.05);
      setImmediate(done);
    });
  /** One round of the cache: `n` destroys, each window in ms. */
  async function cacheRound(n: number, round: number): Promise<Float64Array> {
    const windows = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const s = await reader.createSession(benchUser(round * n + i), { metadata: benchMetadata });
      await reader.getSession(s.token);
      // Wait for a hit (after a write of this process its own invalidation may still be on its way).
      while ((await reader.getSession(s.token)) === null) await turn();
      const reply = next();
      writer.send({ destroy: s.token } satisfies ToWriter);
      let goneAt: number;
      for (;;) {
        // The cache stopped serving when a read started that it could not answer from memory
        // (that read then asks Redis, which says the session is gone).
        const started = wallNow();
        if ((await reader.getSession(s.token)) === null) {
          goneAt = started;
          break;
        }
        await turn();
      }
      windows[i] = goneAt - ackTime(await reply);
    }
    return windows.sort();
  }

  /** The same for the express adapter's cache: a writer's adapter destroys a session this one serves. */
  async function adapterRound(n: number, round: number): Promise<Float64Array> {
    const windows = new Float64Array(n);
    const day = 86_400_000;
    for (let i = 0; i < n; i++) {
      const sid = `revocation-${round}-${i}`;
      const sess = { cookie: { originalMaxAge: day, expires: new Date(Date.now() + day), httpOnly: true, path: '/' } };
      await adapterReader.set(sid, { ...sess, user: benchUser(i), metadata: benchMetadata } as never);
      while ((await adapterReader.get(sid)) === null) await turn();
      await adapterReader.get(sid);
      const reply = next();
      writer.send({ expressDestroy: sid } satisfies ToWriter);
      let goneAt: number;
      for (;;) {
        const started = wallNow();
        if ((await adapterReader.get(sid)) === null) {
          goneAt = started;
          break;
        }
        await turn();
      }
      windows[i] = goneAt - ackTime(await reply);
    }
    return windows.sort();
  }

  // The floor in the same run: a plain PUBLISH by the writer, received by a SUBSCRIBE here. No
  // cache can learn of a change faster than a message on another connection.
  const subscriber = new Redis(redis.url);
  await subscriber.subscribe(FLOOR_CHANNEL);
  let receivedAt = 0;
  subscriber.on('message', () => (receivedAt = wallNow()));
  async function floorRound(n: number): Promise<Float64Array> {
    const floor = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      receivedAt = 0;
      const reply = next();
      writer.send({ publish: true } satisfies ToWriter);
      while (receivedAt === 0) await turn();
      floor[i] = receivedAt - ackTime(await reply);
    }
    return floor.sort();
  }

  const cache: Float64Array[] = [];
  const adapter: Float64Array[] = [];
  const floors: Float64Array[] = [];
  for (let round = 0; round < rounds; round++) {
    cache.push(await cacheRound(destroys, round));
    adapter.push(await adapterRound(destroys, round));
    floors.push(await floorRound(destroys));
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
  subscriber.disconnect();
  writer.send({ stop: true } satisfies ToWriter);
  await new Promise((done) => writer.once('exit', done));
  await reader.close();
  adapterReader.close();
  adapterClient.disconnect();
  await redis.stop();

  const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
  const stats = (x: Float64Array) => ({
    p50: percentile(x, 50),
    p99: percentile(x, 99),
    max: x[x.length - 1]!,
    min: x[0]!,
  });
  const median = (values: number[]) => summarize(values).median;
  const rowsOf = (name: string, runs: Float64Array[]) => {
    const s = runs.map(stats);
    const range = (pick: (x: ReturnType<typeof stats>) => number) =>
      `${fmt(median(s.map(pick)))} (${fmt(Math.min(...s.map(pick)))} to ${fmt(Math.max(...s.map(pick)))})`;
    return `| ${name} | ${range((x) => x.p50)} | ${range((x) => x.p99)} | ${range((x) => x.max)} | ${fmt(Math.min(...s.map((x) => x.min)))} |`;
  };
  const p99 = Math.max(...[cache, adapter].map((runs) => median(runs.map((x) => stats(x).p99))));
  const max = Math.max(...[cache, adapter].map((runs) => median(runs.map((x) => stats(x).max))));
  const lines = [
    `# Revocation window of the session cache (two processes, loopback)`,
    '',
    `${new Date().toISOString()}: ${rounds} rounds of ${destroys} destroys by a writer process; the reader process (\`cache: true\`) polls getSession every ~50 us.`,
    "The window: the start of the reader's first read that returned null minus the time the writer's destroySession resolved (negative: the reader knew first).",
    'Medians over the rounds, range in brackets.',
    '',
    '| case | p50 | p99 | max | min |',
    '| --- | --- | --- | --- | --- |',
    rowsOf('session cache: destroyed session still served', cache),
    rowsOf('express adapter cache: destroyed session still served', adapter),
    rowsOf('floor: PUBLISH acknowledged to the writer -> message received here', floors),
    '',
    `Targets, for both caches: p99 <= 1 ms (${p99 <= 1 ? 'met' : '**missed**'}: ${fmt(p99)}), max <= 10 ms (${max <= 10 ? 'met' : '**missed**'}: ${fmt(max)}).`,
    '',
  ];
  writeResult('revocation.md', lines);
}
