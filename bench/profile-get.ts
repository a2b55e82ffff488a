// Profiling aid (node --cpu-prof): uncached getSession at 32 in flight for a few seconds.
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { benchRedis } from './server.js';
import { drive } from './driver.js';
import { benchMetadata, benchUser } from './payload.js';
import { fill } from './cases.js';

const redis = await benchRedis();
const store = await RedisSessionStore.connect({ url: redis.url, metrics: { registry: new Registry() } });
const tokens = await fill(2000, (i) =>
  store.createSession(benchUser(i), { metadata: benchMetadata }).then((s) => s.token),
);
const op = process.argv.includes('--refresh') ? 'refresh' : 'get';
const cpu0 = process.cpuUsage();
const r = await drive(
  (w) => {
    let i = w;
    return () =>
      op === 'get' ? store.getSession(tokens[(i += 7) % 2000]!) : store.refreshSession(tokens[(i += 7) % 2000]!);
  },
  32,
  4000,
);
const cpu = process.cpuUsage(cpu0);
console.log(`${op}: ${Math.round(r.perSecond)}/s, Node ${((cpu.user + cpu.system) / r.ops).toFixed(2)} us per call`);
await store.close();
await redis.stop();
