/**
 * `npm run bench:express [-- --rounds N] [--requests N] [--users N] [--server DIR] [--before DIR] [--only V,...]`
 * What a user of express-session or @fastify/session sees: a real app (tools/express-app.ts) in
 * a child process on loopback, N users logged in, then read-only requests over HTTP with 32 in
 * flight. Sides, side by side in one run: connect-redis 7.1 on ioredis (its README's client),
 * the adapter without its cache, and the adapter with it; with `--before DIR`, also the adapter
 * of another checkout (DIR/src/express.ts), for "without the cache, within 10% of before".
 * Each with express 5 (resave false and true) and Fastify 5 (rolling false and true).
 *
 * Per side: Redis commands per request (INFO commandstats, without a script's inner commands),
 * redis-server CPU per request (INFO CPU), app process CPU per request (process.cpuUsage in the
 * app), requests per second. Each app is warmed up first by one read of every session (what a
 * running app has cached), untimed. Sides alternate in order by round; medians and ranges over
 * the rounds. With 2+ cores and taskset the app runs on a core of its own (--no-pin: not).
 * Writes results/express[-<server>].md.
 */
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { execFileSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { AppProcess, pin } from '../tools/app-process.js';
import type { AppConfig } from '../tools/express-app.js';
import { argOf } from './args.js';
import { redisCpuUs } from './cost.js';
import { writeResult } from './results-file.js';
import { benchRedis } from './server.js';
import { summarize, type Spread } from './stats.js';

const IN_FLIGHT = 32;
const rounds = Number(argOf('rounds') ?? 3);
const requests = Number(argOf('requests') ?? 8000);
const users = Number(argOf('users') ?? 200);
const before = argOf('before');
/** The other checkout as its commit names it. */
const beforeLabel =
  before === undefined
    ? ''
    : `${execFileSync('git', ['-C', before, 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim()} (${before})`;
// The app on a core of its own, the load driver and redis-server on another (with 2+ cores and
// taskset): its CPU per request is then not the scheduler's mix of three processes. --no-pin: off.
const pinned = !process.argv.includes('--no-pin') && availableParallelism() >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

type Side = AppConfig['store'] | 'adapter, before';
const SIDES: Side[] = [
  'connect-redis',
  'adapter',
  'adapter + cache',
  ...(before ? (['adapter, before'] as const) : []),
];
// `--only fastify:false,express:true` runs those variants alone (for profiling a case).
const only = argOf('only')?.split(',');
const VARIANTS = (
  [
    { framework: 'express', resave: false },
    { framework: 'express', resave: true },
    { framework: 'fastify', resave: false },
    { framework: 'fastify', resave: true },
  ] as const
).filter((v) => only === undefined || only.includes(`${v.framework}:${v.resave}`));
// The adapter's scripts run these inside (expressSet, expressDestroy): not commands its client sent.
const SCRIPT_INNER = new Set(['exists', 'set', 'pttl', 'del']);

interface Sample {
  commands: number;
  redisUs: number;
  appUs: number;
  rps: number;
}

/** Commands the side's clients sent so far (the probes INFO and CONFIG left out). */
async function sentCommands(admin: Redis, side: Side): Promise<number> {
  let n = 0;
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    const name = m[1]!;
    if (name === 'info' || name.startsWith('config')) continue;
    if (side !== 'connect-redis' && SCRIPT_INNER.has(name)) continue;
    n += Number(m[2]);
  }
  return n;
}

async function measure(url: string, admin: Redis, side: Side, variant: (typeof VARIANTS)[number]): Promise<Sample> {
  const app = await AppProcess.start(
    {
      framework: variant.framework,
      resave: variant.resave,
      redisUrl: url,
      store: side === 'adapter, before' ? 'adapter' : side,
      adapterModule: side === 'adapter, before' ? resolve(before!, 'src/express.ts') : undefined,
    },
    pinned ? 1 : undefined,
  );
  try {
    const cookies: string[] = [];
    for (let i = 0; i < users; i += IN_FLIGHT)
      cookies.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(IN_FLIGHT, users - i) }, (_, k) => app.login(`u${i + k}`)),
        )),
      );
    const run = async (n: number) => {
      let next = 0;
      const worker = async () => {
        while (next < n) {
          const i = next++;
          const reply = await app.request('GET', '/me', cookies[i % cookies.length]);
          if (reply.status !== 200) throw new Error(`GET /me: ${reply.status}`);
        }
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    };
    await run(Math.max(users, 1000)); // warm-up: every session read once, the JIT warm
    const [commands0, redis0, app0] = [await sentCommands(admin, side), await redisCpuUs(admin), await app.cpuUs()];
    const started = performance.now();
    await run(requests);
    const ms = performance.now() - started;
    const [commands1, redis1, app1] = [await sentCommands(admin, side), await redisCpuUs(admin), await app.cpuUs()];
    return {
      commands: (commands1 - commands0) / requests,
      redisUs: (redis1 - redis0) / requests,
      appUs: (app1 - app0) / requests,
      rps: requests / (ms / 1000),
    };
  } finally {
    await app.stop();
    await admin.flushall();
  }
}

const fmt = (s: Spread, digits = 2) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

const server = await benchRedis();
const admin = new Redis(server.url);
if (pinned) {
  pin(process.pid, 0);
  pin(Number(/^process_id:(\d+)/m.exec(await admin.info('server'))![1]), 0);
}
try {
  const samples = new Map<string, Sample[]>();
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      // Sides in a different order each round, so drift in the machine spreads over all of them.
      const order = SIDES.map((_, i) => SIDES[(i + round) % SIDES.length]!);
      for (const side of order) {
        const key = `${variant.framework}|${variant.resave}|${side}`;
        const sample = await measure(server.url, admin, side, variant);
        samples.set(key, [...(samples.get(key) ?? []), sample]);
        process.stderr.write(
          `round ${round + 1} ${key}: ${sample.commands.toFixed(3)} cmd/req, Redis ${sample.redisUs.toFixed(2)} us, app ${sample.appUs.toFixed(1)} us, ${sample.rps.toFixed(0)} req/s\n`,
        );
      }
    }
  }
  const lines = [
    `# bench:express: express-session and @fastify/session apps on ${server.label}`,
    '',
    `${users} users logged in, ${requests} read-only requests (GET /me) per measurement over HTTP, ${IN_FLIGHT} in flight,`,
    `app in a child process, ${rounds} interleaved rounds: median (min-max). Ratios are the median of each round's ratio`,
    'against connect-redis 7.1 in the same round. Commands: what the side sent (INFO commandstats, without a',
    "script's inner commands; the cache's PINGs included). CPU: INFO CPU of redis-server, process.cpuUsage of the app.",
    'Each app read every session once before the measurement (what a running app has cached).',
    pinned
      ? 'The app ran pinned to core 1, the load driver and redis-server to core 0 (taskset).'
      : 'Not pinned: app, load driver and redis-server shared the cores as the scheduler chose.',
    '',
  ];
  for (const variant of VARIANTS) {
    const save = variant.framework === 'express' ? `resave: ${variant.resave}` : `rolling: ${variant.resave}`;
    lines.push(
      `## ${variant.framework === 'express' ? 'express 5 + express-session' : 'Fastify 5 + @fastify/session'}, ${save}`,
      '',
    );
    lines.push(
      '| side | commands / request | Redis CPU / request (us) | app CPU / request (us) | requests / s | Redis CPU vs connect-redis | app CPU vs connect-redis |',
    );
    lines.push('| --- | --- | --- | --- | --- | --- | --- |');
    const base = samples.get(`${variant.framework}|${variant.resave}|connect-redis`)!;
    for (const side of SIDES) {
      const s = samples.get(`${variant.framework}|${variant.resave}|${side}`)!;
      const ratio = (pick: (x: Sample) => number) => summarize(s.map((x, i) => pick(x) / pick(base[i]!)));
      lines.push(
        `| ${side} | ${fmt(summarize(s.map((x) => x.commands)), 3)} | ${fmt(summarize(s.map((x) => x.redisUs)))} | ${fmt(summarize(s.map((x) => x.appUs)), 1)} | ${fmt(summarize(s.map((x) => x.rps)), 0)} | ${fmt(ratio((x) => x.redisUs))}x | ${fmt(ratio((x) => x.appUs))}x |`,
      );
    }
    if (before !== undefined) {
      const now = samples.get(`${variant.framework}|${variant.resave}|adapter`)!;
      const then = samples.get(`${variant.framework}|${variant.resave}|adapter, before`)!;
      const ratio = (pick: (x: Sample) => number) => fmt(summarize(now.map((x, i) => pick(x) / pick(then[i]!))));
      lines.push(
        '',
        `The adapter without its cache against the adapter of commit ${beforeLabel} in the same rounds: app CPU ${ratio((x) => x.appUs)}x, Redis CPU ${ratio((x) => x.redisUs)}x.`,
      );
    }
    lines.push('');
  }
  const suffix = argOf('server') === undefined ? '' : `-${server.label.toLowerCase().replace(/ /g, '-')}`;
  writeResult(`express${suffix}.md`, lines);
} finally {
  admin.disconnect();
  await server.stop();
}
