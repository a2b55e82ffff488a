import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import session, { type SessionData } from 'express-session';
import { Cluster, Redis } from 'ioredis';
import { createClient } from 'redis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigurationError } from '../../src/errors.js';
import { ExpressSessionStore } from '../../src/express.js';
import { startSingleNodeCluster } from '../helpers/cluster.js';
import { startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

const test = suite('express-session store');
let r: TestRedis;
let client: Redis;

test.before(async () => {
  r = await startRedis();
  client = new Redis(r.url);
});
test.after(async () => {
  client?.disconnect();
  await r?.stop();
});
test.before.each(async () => {
  await r.admin.flushall();
});

const sess = (extra: Record<string, unknown> = {}, expires?: Date): SessionData => ({
  cookie: {
    originalMaxAge: expires ? expires.getTime() - Date.now() : null,
    expires: expires ?? null,
    httpOnly: true,
    path: '/',
  },
  ...extra,
});

test('defaults and public properties match connect-redis', () => {
  const store = new ExpressSessionStore({ client });
  assert.equal(
    [store.prefix, store.scanCount, store.ttl, store.disableTTL, store.disableTouch, store.serializer],
    ['sess:', 100, 86400, false, false, JSON],
  );
  assert.is(store.client, client);
  assert.instance(store, session.Store);
});

test('set/get round trip under exactly prefix + sid, as the serializer string, TTL from ttl', async () => {
  const store = new ExpressSessionStore({ client });
  const data = sess({ user: 'ann', n: 1 });
  await store.set('abc', data);
  assert.is(await client.get('sess:abc'), JSON.stringify(data));
  assert.ok((await client.ttl('sess:abc')) >= 86399);
  assert.equal(await store.get('abc'), JSON.parse(JSON.stringify(data)));
  assert.is(await store.get('nope'), null);
  // Callback form too.
  const viaCallback = await new Promise(
    (resolve, reject) => void store.get('abc', (err, v) => (err ? reject(err) : resolve(v))),
  );
  assert.equal(viaCallback, JSON.parse(JSON.stringify(data)));
});

test('TTL follows the cookie expiry (rounded up); touch extends it; a past expiry deletes', async () => {
  const store = new ExpressSessionStore({ client });
  await store.set('c60', sess({}, new Date(Date.now() + 60_000)));
  const t1 = await client.ttl('sess:c60');
  assert.ok(t1 > 0 && t1 <= 60, String(t1));
  await store.touch('c60', sess({}, new Date(Date.now() + 90_000)));
  assert.ok((await client.ttl('sess:c60')) > 60);
  await store.set('past', sess({}, new Date(Date.now() - 1000)));
  assert.is(await client.exists('sess:past'), 0);
  await store.set('c60', sess({}, new Date(Date.now() - 1000)));
  assert.is(await client.exists('sess:c60'), 0, 'an expired cookie deletes an existing session');
  const untouched = new ExpressSessionStore({ client, disableTouch: true, ttl: 50 });
  await untouched.set('x', sess());
  await untouched.touch('x', sess({}, new Date(Date.now() + 900_000)));
  assert.ok((await client.ttl('sess:x')) <= 50);
  const forever = new ExpressSessionStore({ client, disableTTL: true });
  await forever.set('y', sess({}, new Date(Date.now() + 1000)));
  assert.is(await client.ttl('sess:y'), -1);
  const fnTtl = new ExpressSessionStore({ client, ttl: () => 42 });
  await fnTtl.set('z', sess());
  assert.ok((await client.ttl('sess:z')) <= 42 && (await client.ttl('sess:z')) > 40);
});

test('length, ids, all (id injected, dates as ISO strings), destroy and clear use SCAN', async () => {
  const store = new ExpressSessionStore({ client, scanCount: 7 });
  const expires = new Date(Date.now() + 60_000);
  for (const id of ['a', 'b', 'c']) await store.set(id, sess({ who: id }, expires));
  await client.set('other:key', 'not a session');
  await store.destroy('c'); // leaves a tombstone that must not count as a session
  assert.is(await store.length(), 2);
  assert.equal((await store.ids()).sort(), ['a', 'b']);
  const all = await store.all();
  assert.equal(all.map((s) => s.id).sort(), ['a', 'b']);
  const a = all.find((s) => s.id === 'a') as unknown as { who: string; cookie: { expires: string } };
  assert.is(a.who, 'a');
  assert.is(a.cookie.expires, expires.toISOString());
  await store.clear();
  assert.is(await store.length(), 0);
  assert.is(await client.get('other:key'), 'not a session');
  const before = Number(/cmdstat_keys:calls=(\d+)/.exec(await r.admin.info('commandstats'))?.[1] ?? 0);
  await store.length();
  const after = Number(/cmdstat_keys:calls=(\d+)/.exec(await r.admin.info('commandstats'))?.[1] ?? 0);
  assert.is(after, before, 'KEYS is never used');
});

test('1,000 sessions with a 1 s TTL are all counted before they expire', async () => {
  const store = new ExpressSessionStore({ client, ttl: 1 });
  const started = Date.now();
  await Promise.all(Array.from({ length: 1000 }, (_, i) => store.set(`s${i}`, sess({ i }))));
  const n = await store.length();
  assert.ok(Date.now() - started < 1000, 'counted within the TTL');
  assert.is(n, 1000);
});

test('a session written by connect-redis is read back (migration keeps sessions)', async () => {
  const { default: RedisStore } = await import('connect-redis');
  const legacy = new RedisStore({ client });
  const data = sess({ user: 'legacy' }, new Date(Date.now() + 60_000));
  await new Promise<void>((resolve, reject) => void legacy.set('old', data, (err) => (err ? reject(err) : resolve())));
  const store = new ExpressSessionStore({ client });
  assert.equal(await store.get('old'), JSON.parse(JSON.stringify(data)));
  assert.ok((await client.ttl('sess:old')) <= 60);
});

test('logout vs in-flight write: 1,000 trials, 0 sessions brought back', async () => {
  const writer = new ExpressSessionStore({ client: new Redis(r.url) });
  const logout = new ExpressSessionStore({ client });
  let resurrected = 0;
  for (let i = 0; i < 1000; i += 50) {
    const ids = Array.from({ length: 50 }, (_, j) => `race${i + j}`);
    await Promise.all(ids.map((id) => writer.set(id, sess({ v: 0 }))));
    // A request loaded the session before the logout and saves it after (or around) it.
    await Promise.all(
      ids.map((id, j) =>
        j % 2
          ? Promise.all([logout.destroy(id), writer.set(id, sess({ v: 1 }))])
          : Promise.all([writer.set(id, sess({ v: 1 })), logout.destroy(id)]),
      ),
    );
    for (const id of ids) if ((await client.exists(`sess:${id}`)) === 1) resurrected++;
  }
  (writer.client as Redis).disconnect();
  assert.is(resurrected, 0);
});

test('per-user liveness is decided on the Redis clock, not on this process clock', async () => {
  const store = new ExpressSessionStore({ client, ttl: 600, userId: (s) => (s as unknown as { user?: string }).user });
  await store.set('clock-1', sess({ user: 'cal' }));
  const realNow = Date.now;
  // This process's clock an hour ahead of Redis's: the session still has ten minutes on Redis.
  Date.now = () => realNow() + 3_600_000;
  try {
    assert.is(await store.countUserSessions('cal'), 1);
    assert.equal((await store.listUserSessions('cal')).length, 1);
  } finally {
    Date.now = realNow;
  }
  await store.destroyUserSessions('cal');
});

test('userId: per-user index kept by the same scripts; count, list, destroy all', async () => {
  const store = new ExpressSessionStore({ client, userId: (s) => (s as unknown as { user?: string }).user });
  const future = new Date(Date.now() + 60_000);
  for (const id of ['u1', 'u2', 'u3']) await store.set(id, sess({ user: 'ann' }, future));
  await store.set('short', sess({ user: 'ann' }, new Date(Date.now() + 1000)));
  await store.set('anon', sess({}, future));
  await store.set('b1', sess({ user: 'bob' }, future));
  assert.is(await store.countUserSessions('ann'), 4);
  await waitFor(async () => (await store.countUserSessions('ann')) === 3, 3000, 50);
  assert.equal((await store.listUserSessions('ann')).map((s) => s.id).sort(), ['u1', 'u2', 'u3']);
  await store.destroy('u2');
  assert.is(await store.countUserSessions('ann'), 2);
  assert.is(await store.destroyUserSessions('ann', { except: 'u1' }), 1);
  assert.equal(await store.ids().then((ids) => ids.sort()), ['anon', 'b1', 'u1']);
  assert.is(await store.countUserSessions('bob'), 1);
  // A write racing the destroy-all cannot bring a destroyed session back (set says so: false).
  assert.is(await store.set('u3', sess({ user: 'ann' }, future)), false);
  assert.is(await client.exists('sess:u3'), 0);
  assert.is(await store.countUserSessions('ann'), 1);
  assert.not.throws(() => new ExpressSessionStore({ client }));
  await store.destroyUserSessions('ann');
  assert.is(await store.countUserSessions('ann'), 0);
  // destroy(sid) of an anonymous session with userId set: read back, no index to touch.
  await store.destroy('anon');
  assert.is(await store.get('anon'), null);
  await rejectsConfig(() => new ExpressSessionStore({ client }).countUserSessions('ann'));
});

async function rejectsConfig(fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    assert.instance(err, ConfigurationError);
    return;
  }
  assert.unreachable('expected ConfigurationError');
}

test('metrics: express.* operations are counted with outcomes, refused writes as not_found', async () => {
  const { Registry } = await import('prom-client');
  const registry = new Registry();
  const store = new ExpressSessionStore({ client, metrics: { registry } });
  await store.set('m1', sess());
  await store.get('m1');
  await store.get('nope');
  await store.destroy('m1');
  await store.set('m1', sess());
  const values = (await registry.getMetricsAsJSON()).find((m) => m.name === 'session_store_operations_total')!.values;
  const count = (operation: string, outcome: string) =>
    values.find((v) => v.labels.operation === operation && v.labels.outcome === outcome)?.value;
  assert.is(count('express.set', 'ok'), 1);
  assert.is(count('express.set', 'not_found'), 1, 'the write refused after destroy');
  assert.is(count('express.get', 'ok'), 1);
  assert.is(count('express.get', 'not_found'), 1);
  assert.is(count('express.destroy', 'ok'), 1);
});

test('node-redis client works the same', async () => {
  const nodeRedis = createClient({ url: r.url });
  await nodeRedis.connect();
  try {
    const store = new ExpressSessionStore({
      client: nodeRedis,
      userId: (s) => (s as unknown as { user?: string }).user,
    });
    await store.set('n1', sess({ user: 'nia' }));
    assert.equal(await store.get('n1'), JSON.parse(JSON.stringify(sess({ user: 'nia' }))));
    assert.is(await store.length(), 1);
    assert.is(await store.countUserSessions('nia'), 1);
    await store.touch('n1', sess({ user: 'nia' }, new Date(Date.now() + 5000)));
    assert.ok((await client.ttl('sess:n1')) <= 5);
    await store.destroy('n1');
    assert.is(await store.get('n1'), null);
    assert.is(await store.countUserSessions('nia'), 0);
  } finally {
    await nodeRedis.quit();
  }
});

test('a real Express app: login, later requests, rolling touch, logout, log out everywhere', async () => {
  const store = new ExpressSessionStore({ client, userId: (s) => (s as unknown as { user?: string }).user });
  const app = express();
  app.use(
    session({
      store,
      secret: 'test secret',
      resave: false,
      saveUninitialized: false,
      rolling: true,
      cookie: { maxAge: 60_000 },
    }),
  );
  app.post('/login/:user', (req, res) => {
    req.session.regenerate(() => {
      (req.session as unknown as { user: string }).user = req.params.user;
      req.session.save(() => res.json({ ok: true }));
    });
  });
  app.get('/me', (req, res) => res.json({ user: (req.session as unknown as { user?: string }).user ?? null }));
  app.post('/logout', (req, res) => req.session.destroy(() => res.json({ ok: true })));
  app.post('/logout-all', async (req, res) => {
    const user = (req.session as unknown as { user: string }).user;
    res.json({ destroyed: await store.destroyUserSessions(user, { except: req.sessionID }) });
  });
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const login = async () => {
      const res = await fetch(`${base}/login/ann`, { method: 'POST' });
      const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
      return cookie;
    };
    const a = await login();
    const b = await login();
    const me = async (cookie: string) =>
      ((await (await fetch(`${base}/me`, { headers: { cookie } })).json()) as { user: string | null }).user;
    assert.is(await me(a), 'ann');
    assert.is(await store.countUserSessions('ann'), 2);
    const sid = decodeURIComponent(a.split('=')[1]!).slice(2).split('.')[0]!;
    await client.expire(`sess:${sid}`, 10);
    await me(a);
    assert.ok((await client.ttl(`sess:${sid}`)) > 50, 'rolling touch extended the TTL');
    const all = (await (await fetch(`${base}/logout-all`, { method: 'POST', headers: { cookie: a } })).json()) as {
      destroyed: number;
    };
    assert.is(all.destroyed, 1);
    assert.is(await me(b), null);
    assert.is(await me(a), 'ann');
    await fetch(`${base}/logout`, { method: 'POST', headers: { cookie: a } });
    assert.is(await me(a), null);
    assert.is(await store.countUserSessions('ann'), 0);
  } finally {
    server.close();
  }
});

test('a real Fastify app with @fastify/session', async () => {
  const { default: Fastify } = await import('fastify');
  const { default: fastifyCookie } = await import('@fastify/cookie');
  const { default: fastifySession } = await import('@fastify/session');
  const store = new ExpressSessionStore({ client, prefix: 'fsess:' });
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    secret: 'a secret with minimum length of 32 characters',
    store: store,
    cookie: { secure: false, maxAge: 60_000 },
    saveUninitialized: false,
  });
  app.post('/login', async (req) => {
    (req.session as unknown as { set(k: string, v: unknown): void }).set('user', 'fay');
    return { ok: true };
  });
  app.get('/me', async (req) => ({
    user: (req.session as unknown as { get(k: string): unknown }).get('user') ?? null,
  }));
  app.post('/logout', async (req) => {
    await (req.session as unknown as { destroy(): Promise<void> }).destroy();
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  try {
    const res = await fetch(`${base}/login`, { method: 'POST' });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    assert.is(await store.length(), 1);
    const me = async () =>
      ((await (await fetch(`${base}/me`, { headers: { cookie } })).json()) as { user: string | null }).user;
    assert.is(await me(), 'fay');
    await fetch(`${base}/logout`, { method: 'POST', headers: { cookie } });
    assert.is(await me(), null);
    assert.is(await store.length(), 0);
  } finally {
    await app.close();
  }
});

test('on a cluster: SCAN runs on every master; the per-user index is refused', async () => {
  const node = await startSingleNodeCluster();
  const cluster = new Cluster([{ host: node.host, port: node.port }], { redisOptions: { maxRetriesPerRequest: 1 } });
  cluster.on('error', () => undefined);
  try {
    const store = new ExpressSessionStore({ client: cluster });
    for (const id of ['k1', 'k2', 'k3', 'k4']) await store.set(id, sess({ id }));
    await store.destroy('k4');
    assert.is(await store.length(), 3);
    assert.is((await store.all()).length, 3);
    await store.set('k4', sess({ id: 'k4' }));
    assert.is(await store.get('k4'), null, 'destroyed ids stay destroyed on a cluster too');
    await store.clear();
    assert.is(await store.length(), 0);
    assert.throws(
      () => new ExpressSessionStore({ client: cluster, userId: () => 'x' }),
      (e: unknown) => e instanceof ConfigurationError,
    );
  } finally {
    cluster.disconnect();
    await node.stop();
  }
});

test.run();
