/**
 * Profiling aid: `node --import tsx bench/profile.ts [get|hit|refresh|create|destroy|batch] [out]`.
 * One store operation at 32 in flight for 4 seconds against a throwaway Redis, uncached except
 * `hit` (getSession from the session cache); `batch` is getSessions of 100 users. Prints the Node
 * CPU per call (process.cpuUsage) and writes a V8 CPU profile of the timed part only
 * (node:inspector; --cpu-prof would also profile the setup, which for destroy is its creates).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { benchRedis } from './server.js';
import { drive } from './driver.js';
import { benchMetadata, benchUser } from './payload.js';
import { fill } from './cases.js';

const OPS = ['get', 'hit', 'refresh', 'create', 'destroy', 'batch'] as const;
type Op = (typeof OPS)[number];
const isOp = (s: string | undefined): s is Op => OPS.some((o) => o === s);
const arg = process.argv[2];
const op: Op = isOp(arg) ? arg : 'get';
const LIVE = 2000;
const MS = 4000;

const redis = await benchRedis([], []);
const store = await RedisSessionStore.connect({
  url: redis.url,
  metrics: { registry: new Registry() },
  ...(op === 'hit' ? { cache: true } : {}),
});
const create = (i: number) => store.createSession(benchUser(i), { metadata: benchMetadata }).then((s) => s.token);
// destroy needs a token per call: enough for the run (at most ~60k/s on this kind of machine).
const tokens = await fill(op === 'destroy' ? 250_000 : LIVE, create);
let made = LIVE;
// The misses that fill the cache, untimed.
if (op === 'hit') for (const token of tokens) await store.getSession(token);
const inspector = new Session();
inspector.connect();
await inspector.post('Profiler.enable');
await inspector.post('Profiler.start');
const cpu0 = process.cpuUsage();
const r = await drive(
  (w) => {
    let i = w;
    const next = () => tokens[(i += 7) % LIVE]!;
    if (op === 'get' || op === 'hit') return () => store.getSession(next());
    if (op === 'refresh') return () => store.refreshSession(next());
    if (op === 'create') return () => create(made++);
    if (op === 'batch') return () => store.getSessions(Array.from({ length: 100 }, next));
    return () => {
      const token = tokens.pop();
      return token === undefined ? null : store.destroySession(token);
    };
  },
  32,
  MS,
);
const cpu = process.cpuUsage(cpu0);
const { profile } = await inspector.post('Profiler.stop');
const out = process.argv[3] ?? `profile-${op}.cpuprofile`;
writeFileSync(out, JSON.stringify(profile));
inspector.disconnect();
const per = op === 'batch' ? 100 : 1;
console.log(
  `${op}: ${Math.round(r.perSecond * per)}/s, Node ${((cpu.user + cpu.system) / r.ops / per).toFixed(2)} us per ${op === 'batch' ? 'session' : 'call'}; profile in ${out}`,
);
await store.close();
await redis.stop();
