import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createClient } from 'redis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigurationError } from '../../src/errors.js';
import { ExpressSessionStore } from '../../src/express.js';
import { AppProcess } from '../../tools/app-process.js';
import type { AppConfig } from '../../tools/express-app.js';
import { cacheConnections, heapContains, metricValue } from '../helpers/cache.js';
import { commandCount, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

// The adapter's session cache on one real server. `a` caches; `b` is another adapter on its own
// client (as another app server would have), whose writes `a` must hear about.
const test = suite('express-session cache');
let r: TestRedis;
let clientA: Redis;
let clientB: Redis;
let a: ExpressSessionStore;
let b: ExpressSessionStore;
let registry: Registry;
const userId = (s: SessionData) => (s as { user?: string }).user;

test.before(async () => {
  r = await startRedis();
  clientA = new Redis(r.url);
  clientB = new Redis(r.url);
  registry = new Registry();
  a = new ExpressSessionStore({ client: clientA, cache: { maxStalenessMs: 300 }, userId, metrics: { registry } });
  b = new ExpressSessionStore({ client: clientB, userId, metrics: false });
  await a.ready();
});
test.after(async () => {
  a?.close();
  clientA?.disconnect();
  clientB?.disconnect();
  await r?.stop();
});

const DAY = 86_400_000;
let sids = 0;
const newSid = () => `sid-${process.pid}-${++sids}-${Math.random().toString(36).slice(2)}`;

/** A session as express-session hands it to a store, with the cookie expiring in `maxAge` ms. */
function sess(extra: Record<string, unknown> = {}, maxAge = DAY): SessionData {
  return {
    cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge), httpOnly: true, path: '/' },
    ...extra,
  };
}

/** Whether `a.get(sid)` sent no command to Redis. */
async function fromMemory(store: ExpressSessionStore, sid: string): Promise<boolean> {
  const before = await commandCount(r.admin);
  await store.get(sid);
  return (await commandCount(r.admin)) === before;
}

async function cached(store: ExpressSessionStore, sid: string): Promise<void> {
  await waitFor(async () => (await store.get(sid)) !== null && fromMemory(store, sid), 5000, 5);
}

/** Calls of `commands` Redis served (INFO commandstats), scripts' inner commands included. */
async function calls(...commands: string[]): Promise<number> {
  const info = await r.admin.info('commandstats');
  let n = 0;
  for (const m of info.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) if (commands.includes(m[1]!)) n += Number(m[2]);
  return n;
}

test('options: node-redis with the cache, and touchAfter without it, are configuration errors', () => {
  const nodeRedis = createClient({ url: r.url });
  let err: unknown;
  try {
    new ExpressSessionStore({ client: nodeRedis, cache: true });
  } catch (e) {
    err = e;
  }
  assert.instance(err, ConfigurationError);
  assert.match(String((err as Error).message), /ioredis/);
  const configError = (e: unknown) => e instanceof ConfigurationError;
  assert.throws(() => new ExpressSessionStore({ client: clientB, touchAfter: 60 }), configError);
  assert.throws(() => new ExpressSessionStore({ client: clientB, cache: true, touchAfter: -1 }), configError);
  assert.throws(() => new ExpressSessionStore({ client: clientB, cache: { maxEntries: 0 } }), configError);
  // Without the cache, touch is connect-redis's: every time.
  assert.is(new ExpressSessionStore({ client: clientB, metrics: false }).touchAfter, 0);
});

test('a hit sends nothing to Redis and returns a new object every time', async () => {
  const sid = newSid();
  await b.set(sid, sess({ user: 'ann', profile: { name: 'Ann', roles: ['reader'] } }));
  await cached(a, sid);
  const before = await commandCount(r.admin);
  const first = (await a.get(sid)) as SessionData & { profile: { name: string; roles: string[] } };
  for (let i = 0; i < 100; i++) assert.is(((await a.get(sid)) as { user?: string }).user, 'ann');
  assert.is(await commandCount(r.admin), before, 'no command for 101 cached reads');
  // A request that changes what it loaded (express-session keeps the values by reference)
  // changes nothing for the next one.
  first.profile.name = 'Mallory';
  first.profile.roles.push('admin');
  (first as { user?: string }).user = 'mallory';
  const again = (await a.get(sid)) as SessionData & { user: string; profile: { name: string; roles: string[] } };
  assert.not.ok(again === first);
  assert.equal([again.user, again.profile.name, again.profile.roles], ['ann', 'Ann', ['reader']]);
});

test('an expired session is not served, though nothing told the cache', async () => {
  const sid = newSid();
  await b.set(sid, sess({ user: 'ann' }, 1200)); // TTL 2 s (rounded up)
  await cached(a, sid);
  await waitFor(async () => (await a.get(sid)) === null, 4000, 20);
});

test("this process's writes: 0 stale reads after each write method (6 methods x 50 trials)", async () => {
  let stale = 0;
  const check = (ok: boolean) => void (ok || stale++);
  for (let trial = 0; trial < 50; trial++) {
    const fill = async (user = 'ann') => {
      const sid = newSid();
      await b.set(sid, sess({ user, n: 0 }));
      await cached(a, sid);
      return sid;
    };
    let sid = await fill();
    await a.set(sid, sess({ user: 'ann', n: trial + 1 }));
    check(((await a.get(sid)) as { n?: number } | null)?.n === trial + 1);
    sid = await fill();
    await a.set(sid, sess({ user: 'ann' }, -1000)); // an expiry in the past deletes
    check((await a.get(sid)) === null);
    sid = await fill();
    await a.touch(sid, sess({ user: 'ann' }, -1000));
    check((await a.get(sid)) === null);
    sid = await fill();
    await a.destroy(sid);
    check((await a.get(sid)) === null);
    sid = await fill(`user-${trial}`);
    assert.is(await a.destroyUserSessions(`user-${trial}`), 1);
    check((await a.get(sid)) === null);
    if (trial % 10 === 0) {
      sid = await fill();
      await a.clear();
      check((await a.get(sid)) === null);
    }
  }
  assert.is(stale, 0);
});

test("another process's writes stop being served once their invalidation arrives", async () => {
  const sid = newSid();
  await b.set(sid, sess({ user: 'ann', n: 1 }));
  await cached(a, sid);
  await b.set(sid, sess({ user: 'ann', n: 2 }));
  await waitFor(async () => ((await a.get(sid)) as { n?: number } | null)?.n === 2, 2000, 1);
  await b.destroy(sid);
  await waitFor(async () => (await a.get(sid)) === null, 2000, 1);
  // The tombstone rule is unchanged: the destroyed id cannot be written back from `a`.
  assert.is(await a.set(sid, sess({ user: 'ann', n: 3 })), false);
  assert.is(await a.get(sid), null);
  assert.ok(
    (await metricValue(registry, 'session_store_cache_invalidations_total', { operation: 'express.get' })) >= 2,
  );
});

test('a killed invalidation connection: 0 stale reads from the moment it is killed, then recovery', async () => {
  let stale = 0;
  for (let trial = 0; trial < 30; trial++) {
    const sid = newSid();
    await b.set(sid, sess({ user: 'ann', n: 0 }));
    await cached(a, sid);
    const { subscribers } = await cacheConnections(r.admin);
    assert.is(subscribers.length, 1);
    await r.admin.call('CLIENT', 'KILL', 'ID', subscribers[0]!.id!);
    // The change's invalidation has nowhere to go: the cache must not be trusted any more.
    await b.set(sid, sess({ user: 'ann', n: 1 }));
    if (((await a.get(sid)) as { n?: number } | null)?.n !== 1) stale++;
    // Recovery: served from memory again once the link is back.
    await cached(a, sid);
  }
  assert.is(stale, 0);
  assert.ok(
    (await metricValue(registry, 'session_store_cache_flushes_total', {
      operation: 'express.get',
      reason: 'disconnect',
    })) >= 30,
  );
});

test('FLUSHALL empties the cache', async () => {
  const sid = newSid();
  await b.set(sid, sess({ user: 'ann' }));
  await cached(a, sid);
  const labels = { operation: 'express.get', reason: 'flushdb' };
  const before = await metricValue(registry, 'session_store_cache_flushes_total', labels);
  await r.admin.flushall();
  await waitFor(async () => (await a.get(sid)) === null, 2000, 1);
  assert.ok((await metricValue(registry, 'session_store_cache_flushes_total', labels)) > before);
});

test('metrics: hits and misses under operation="express.get"', async () => {
  const sid = newSid();
  await b.set(sid, sess({ user: 'ann' }));
  const labels = { operation: 'express.get' };
  const hits = await metricValue(registry, 'session_store_cache_hits_total', labels);
  const misses = await metricValue(registry, 'session_store_cache_misses_total', labels);
  await a.get(sid);
  await a.get(sid);
  await a.get(sid);
  assert.is((await metricValue(registry, 'session_store_cache_misses_total', labels)) - misses, 1);
  assert.is((await metricValue(registry, 'session_store_cache_hits_total', labels)) - hits, 2);
  assert.ok((await metricValue(registry, 'session_store_cache_entries', labels)) >= 1);
  assert.is(await metricValue(registry, 'session_store_cache_hits_total', { operation: 'getSession' }), 0);
});

test('private: no sid is held in process memory by the cache', async () => {
  // The sid exists here only as bytes; each call gets a string that nothing keeps.
  const sid = Buffer.from(newSid());
  await b.set(sid.toString(), sess({ user: 'ann' }));
  await cached(a, sid.toString());
  for (let i = 0; i < 10; i++) await a.get(sid.toString());
  assert.not.ok(await heapContains(sid), 'the sid is reachable in the heap');
});

// Real express-session and @fastify/session apps, each in its own process.
const apps: AppProcess[] = [];
async function app(config: Partial<AppConfig>): Promise<AppProcess> {
  const started = await AppProcess.start({
    framework: 'express',
    store: 'adapter + cache',
    redisUrl: r.url,
    resave: false,
    ...config,
  });
  apps.push(started);
  return started;
}
test.after.each(async () => {
  await Promise.all(apps.splice(0).map((x) => x.stop()));
});

for (const framework of ['express', 'fastify'] as const) {
  test(`${framework}: login, read, a change saved on one app read back on the other, logout refused on both`, async () => {
    const [one, two] = await Promise.all([app({ framework }), app({ framework })]);
    const cookie = await one.login('ann');
    for (const x of [one, two])
      assert.equal(JSON.parse((await x.request('GET', '/me', cookie)).body), { user: 'ann', name: 'ann' });
    assert.is((await two.request('POST', '/rename/Annie', cookie)).status, 200);
    await waitFor(async () => JSON.parse((await one.request('GET', '/me', cookie)).body).name === 'Annie', 1000, 1);
    assert.is((await one.request('POST', '/logout', cookie)).status, 200);
    assert.is((await one.request('GET', '/me', cookie)).status, 401);
    await waitFor(async () => (await two.request('GET', '/me', cookie)).status === 401, 1000, 1);
  });
}

test('200 logouts on app B, then a request on app A 20 ms later: 0 served', async () => {
  const [appA, appB] = await Promise.all([app({}), app({})]);
  const cookies = await Promise.all(Array.from({ length: 200 }, (_, i) => appA.login(`user-${i}`)));
  for (const c of cookies) assert.is((await appA.request('GET', '/me', c)).status, 200);
  // Served from A's memory now.
  const before = await commandCount(r.admin);
  for (const c of cookies) assert.is((await appA.request('GET', '/me', c)).status, 200);
  assert.ok((await commandCount(r.admin)) - before <= 2, 'cached reads on A');
  await Promise.all(cookies.map((c) => appB.request('POST', '/logout', c)));
  await new Promise((done) => setTimeout(done, 20)); // the scenario's 20 ms, not a readiness wait
  const served = (await Promise.all(cookies.map((c) => appA.request('GET', '/me', c)))).filter((x) => x.status === 200);
  assert.is(served.length, 0);
});

test('touchAfter: touches over 1,000 requests of one session are what the rule says', async () => {
  // Cookie maxAge is one day: each request's touch would move the expiry by the time since the
  // session was written, a few seconds here.
  const count = async (touchAfter: number | undefined, between?: (cookie: string) => Promise<void>) => {
    const x = await app({ touchAfter });
    const cookie = await x.login('ann');
    await x.request('GET', '/me', cookie);
    await between?.(cookie);
    const before = await calls('expire', 'evalsha');
    for (let i = 0; i < 1000; i++) assert.is((await x.request('GET', '/me', cookie)).status, 200);
    const sent = (await calls('expire', 'evalsha')) - before;
    await x.stop();
    return sent;
  };
  assert.is(await count(0), 1000, 'touchAfter 0: every request');
  assert.is(await count(undefined), 0, 'default, a tenth of the TTL (2.4 h): none within seconds');
  assert.is(await count(3600), 0, 'an hour: none');
  // The key's expiry moved back by 23 hours behind the adapter's back (its invalidation drops
  // the entry): the first touch moves it forward by more than an hour, and then none is due.
  const moved = await count(3600, async (cookie) => void (await r.admin.pexpire(keyOf(cookie), 3_600_000)));
  assert.is(moved, 1);
});

for (const framework of ['express', 'fastify'] as const) {
  test(`${framework}: lazy save sends nothing for unchanged sessions and writes changed ones`, async () => {
    const x = await app({ framework, resave: true });
    const cookie = await x.login('ann');
    await x.request('GET', '/me', cookie);
    const before = await calls('evalsha', 'eval', 'set', 'expire');
    for (let i = 0; i < 200; i++) assert.is((await x.request('GET', '/me', cookie)).status, 200);
    assert.is((await calls('evalsha', 'eval', 'set', 'expire')) - before, 0, 'unchanged: nothing sent');
    const scripts = await calls('evalsha', 'eval');
    assert.is((await x.request('POST', '/rename/Annie', cookie)).status, 200);
    assert.is((await calls('evalsha', 'eval')) - scripts, 1, 'changed: one set');
    assert.is(JSON.parse((await r.admin.get(keyOf(cookie)))!).name, 'Annie');
    assert.is(JSON.parse((await x.request('GET', '/me', cookie)).body).name, 'Annie');
  });
}

/** The session key of a signed express-session or Fastify cookie (`name=s:<sid>.<signature>`, URL-encoded). */
function keyOf(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  const signed = value.startsWith('s:') ? value.slice(2) : value;
  return `sess:${signed.slice(0, signed.lastIndexOf('.'))}`;
}

test.run();
