import { Cookie, type SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExpressSessionStore } from '../../src/express.js';
import { useRedis } from '../helpers/redis.js';

// connect-redis 7.1's own lifecycle test (node_modules/connect-redis/index_test.ts), step by
// step and with its expectations, run on the adapter: on node-redis and ioredis as there, and
// on ioredis with the cache (which must not change any outcome).
const test = suite('connect-redis 7.1 lifecycle test');
const redis = useRedis(test);

type Client = { ttl(key: string): Promise<number> };

async function lifecycle(store: ExpressSessionStore, client: Client): Promise<void> {
  // The callback forms, as connect-redis's test promisifies them.
  const cb = <T>(call: (done: (err: unknown, v?: T) => void) => unknown) =>
    new Promise<T | undefined>((resolve, reject) => void call((err, v) => (err ? reject(err) : resolve(v))));
  const set = (sid: string, s: SessionData) => cb<void | false>((d) => store.set(sid, s, d));
  const get = (sid: string) => cb<SessionData | null>((d) => store.get(sid, d));
  const touch = (sid: string, s: SessionData) => cb<void>((d) => store.touch(sid, s, d));
  const length = () => cb<number>((d) => store.length(d));
  const ids = () => cb<string[]>((d) => store.ids(d)).then((x) => x ?? []);
  const all = () => cb<(SessionData & { id: string })[]>((d) => store.all(d)).then((x) => x ?? []);
  const destroy = (sid: string) => cb<void>((d) => store.destroy(sid, d));
  const clear = () => cb<void>((d) => store.clear(d));
  const sess = (value: object) => value as SessionData;

  await clear();
  await set('123', sess({ foo: 'bar' }));
  assert.equal(await get('123'), { foo: 'bar' }, 'store.get');
  assert.ok((await client.ttl('sess:123')) >= 86399, 'check one day ttl');

  const expires = new Date(Date.now() + 60_000).toISOString();
  await set('456', sess({ cookie: { expires } }));
  assert.ok((await client.ttl('sess:456')) <= 60, 'check expires ttl');
  await touch('456', sess({ cookie: { expires: new Date(Date.now() + 90_000).toISOString() } }));
  assert.ok((await client.ttl('sess:456')) > 60, 'check expires ttl touch');

  assert.is(await length(), 2, 'stored two keys length');
  assert.equal((await ids()).sort(), ['123', '456'], 'stored two keys ids');
  const found = (await all()).sort((a, b) => (a.id > b.id ? 1 : -1));
  assert.equal(
    found,
    [
      { id: '123', foo: 'bar' },
      { id: '456', cookie: { expires } },
    ],
    'stored two keys data',
  );

  await destroy('456');
  assert.is(await length(), 1, 'one key remains');
  await clear();
  assert.is(await length(), 0, 'no keys remain');

  const cookie = new Cookie();
  for (let sid = 0; sid < 1000; sid++) {
    cookie.expires = new Date(Date.now() + 1000);
    await store.set(`s${sid}`, { cookie });
  }
  assert.is(await length(), 1000, 'bulk count');
  await clear();
  assert.is(await length(), 0, 'bulk clear');

  await set('789', sess({ cookie: { expires: new Date(Date.now() + 90_000).toISOString() } }));
  assert.is(await length(), 1, 'one key exists (session 789)');
  await set('789', sess({ cookie: { expires: new Date(Date.now() - 90_000).toISOString() } }));
  assert.is(await length(), 0, 'no key remains and that includes session 789');
}

test('node-redis', async () => {
  const client = createClient({ url: redis().url });
  await client.connect();
  try {
    await lifecycle(new ExpressSessionStore({ client, metrics: false }), client);
  } finally {
    await client.disconnect();
  }
});

test('ioredis', async () => {
  const client = new Redis(redis().url);
  try {
    await lifecycle(new ExpressSessionStore({ client, metrics: false }), client);
  } finally {
    client.disconnect();
  }
});

test('ioredis with the cache: the same outcomes', async () => {
  const client = new Redis(redis().url);
  const store = new ExpressSessionStore({ client, metrics: false, cache: true });
  try {
    await store.ready();
    await lifecycle(store, client);
  } finally {
    store.close();
    client.disconnect();
  }
});

test.run();
