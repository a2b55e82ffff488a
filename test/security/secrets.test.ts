import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisSessionStore } from '../../src/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// A logged or serialised store must never show the Redis password (review defect 1).
const test = suite('no credential in a store');
const PASSWORD = 'pw-Zq8-never-printed';
let r: TestRedis;

test.before(async () => {
  r = await startRedis();
  // Set after start: the helper's admin connection stays authenticated, new ones need the password.
  await r.admin.config('SET', 'requirepass', PASSWORD);
});
test.after(async () => {
  await r?.stop();
});

/** Every string reachable from `root` through own properties (getters included), each object once. */
function reachableText(root: unknown): string {
  const seen = new Set<unknown>();
  const out: string[] = [];
  const walk = (v: unknown, depth: number) => {
    if (typeof v === 'string') return void out.push(v);
    if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 12) return;
    seen.add(v);
    for (const name of Object.getOwnPropertyNames(v)) {
      try {
        walk((v as Record<string, unknown>)[name], depth + 1);
      } catch {
        // a throwing getter shows nothing
      }
    }
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto !== null && proto !== Object.prototype && proto !== Function.prototype) {
      for (const name of Object.getOwnPropertyNames(proto)) {
        const d = Object.getOwnPropertyDescriptor(proto, name);
        if (d?.get !== undefined) walk((v as Record<string, unknown>)[name], depth + 1);
      }
    }
  };
  walk(root, 0);
  return out.join('\n');
}

for (const [how, options] of [
  ['in the URL', () => ({ url: `redis://:${PASSWORD}@${r.host}:${r.port}` })],
  ['as the password option', () => ({ url: r.url, password: PASSWORD })],
  ['in redisOptions', () => ({ url: r.url, redisOptions: { password: PASSWORD } })],
] as const) {
  test(`password ${how}: not in inspect, JSON or anything reachable from the store`, async () => {
    const store = await RedisSessionStore.connect({ ...options(), metrics: false, maxConnections: 2 });
    try {
      // The store works, so the password did reach Redis.
      assert.ok((await store.healthCheck()).healthy);
      const shown = [
        inspect(store, { depth: Infinity, showHidden: true, getters: true }),
        inspect(store.options, { depth: Infinity, showHidden: true }),
        JSON.stringify(store),
        JSON.stringify(store.options),
        reachableText(store),
      ];
      for (const text of shown) assert.not.ok(text.includes(PASSWORD), text.slice(0, 200));
      assert.is(store.options.auth.password, true, 'says that a password is set');
      if (how === 'in the URL') assert.match(store.options.url, /:\*\*\*@/);
    } finally {
      await store.close();
    }
  });
}

test.run();
