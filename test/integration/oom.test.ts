import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreOutOfMemoryError, type RedisSessionStore } from '../../src/index.js';
import { rejects } from '../helpers/assert.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { alice, openStore } from '../helpers/store.js';

// Redis at maxmemory with noeviction: creating must fail clearly, while reading, logging out and
// revoking keep working (scripts flagged allow-oom or no-writes).
const test = suite('out of memory');
let r: TestRedis;
let store: RedisSessionStore;

test.before(async () => {
  r = await startRedis(['--maxmemory-policy', 'noeviction']);
  store = await openStore(r);
});
test.after(async () => {
  await store?.close();
  await r?.stop();
});

test('create and metadata growth fail with StoreOutOfMemoryError; every other operation works', async () => {
  const a = await store.createSession(alice, { metadata: { k: 'v' } });
  const b = await store.createSession(alice);
  const c = await store.createSession(alice);
  // Fill memory, then set the limit below what is used.
  await r.admin.set('ballast', 'x'.repeat(4 * 1024 * 1024));
  const used = Number(/used_memory:(\d+)/.exec(await r.admin.info('memory'))![1]);
  await r.admin.config('SET', 'maxmemory', String(used - 1024 * 1024));
  try {
    await rejects(store.createSession(alice), StoreOutOfMemoryError, 'STORE_OOM');
    await rejects(store.updateSessionMetadata(a.token, { more: 'data' }), StoreOutOfMemoryError);
    assert.ok(await store.getSession(a.token));
    assert.is((await store.getSessions([a.token, b.token])).filter(Boolean).length, 2);
    assert.ok(await store.refreshSession(a.token, 120));
    assert.ok((await store.getSessionTtl(a.token))! > 100);
    assert.is(await store.countUserSessions('alice'), 3);
    assert.is((await store.listUserSessions('alice')).length, 3);
    const rotated = await store.rotateSession(c.token);
    assert.ok(rotated);
    assert.ok(await store.revokeSession('alice', rotated.id));
    assert.ok(await store.destroySession(b.token));
    assert.is(await store.destroyUserSessions('alice'), 1);
    assert.is(await store.getSession(a.token), null);
  } finally {
    await r.admin.config('SET', 'maxmemory', '0');
  }
});

test.run();
