import { Cluster } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisSessionStore } from '../../src/index.js';
import { startSingleNodeCluster } from '../helpers/cluster.js';
import { keySlot, type TestRedis } from '../helpers/redis.js';

// A real cluster-mode server owning all 16384 slots. Standalone Redis checks no slots; here a
// #!lua script that touched a key outside its declared slot would fail, and ioredis routes by
// slot as it does on any cluster.
const test = suite('one hash slot per operation');
let r: TestRedis;
let cluster: Cluster;
let store: RedisSessionStore;

const awkwardIds = [
  '{',
  '}',
  '}abc',
  '{}',
  'a{b}c',
  '{{x}}',
  ' ',
  '*',
  '?[]\\',
  'é',
  'e\u0301',
  '😀',
  'x'.repeat(256),
  'user:42',
];

test.before(async () => {
  r = await startSingleNodeCluster();
  cluster = new Cluster([{ host: r.host, port: r.port }], { redisOptions: { maxRetriesPerRequest: 1 } });
  cluster.on('error', () => undefined);
  store = await RedisSessionStore.connect({ redis: cluster, maxSessionsPerUser: 3, rolling: true, touchAfter: 0 });
});
test.after(async () => {
  await store?.close();
  cluster?.disconnect();
  await r?.stop();
});

test('every key of a user shares one slot, for awkward user ids too', async () => {
  for (const id of awkwardIds) {
    const s = await store.createSession({ id, username: 'x' });
    const tag = s.token.slice(0, 22);
    // One key per user: nothing of a user's can land in another slot.
    assert.is(await r.admin.exists(`session:{${tag}}:d`), 1, JSON.stringify(id));
    assert.equal(await r.admin.keys(`*${tag}*`), [`session:{${tag}}:d`]);
  }
});

test('every operation runs on a cluster node without CROSSSLOT or non-local key errors', async () => {
  const slotsUsed = new Set<number>();
  for (const id of awkwardIds) {
    const user = { id, username: 'x' };
    const a = await store.createSession(user, { metadata: { k: 'v' } });
    const b = await store.createSession(user);
    slotsUsed.add(await keySlot(r.admin, `session:{${a.token.slice(0, 22)}}:d`));
    assert.ok(await store.getSession(a.token));
    assert.is((await store.getSessions([a.token, b.token])).filter(Boolean).length, 2);
    assert.ok(await store.refreshSession(a.token, 120));
    assert.ok(await store.updateSessionMetadata(a.token, { k: null, j: 'w' }));
    assert.ok((await store.getSessionTtl(a.token))! > 100);
    const rotated = await store.rotateSession(b.token);
    assert.ok(rotated);
    assert.ok((await store.countUserSessions(id)) >= 2);
    assert.ok((await store.listUserSessions(id)).length >= 2);
    assert.ok(await store.revokeSession(id, rotated.id));
    await store.createSession(user);
    assert.ok((await store.destroyUserSessions(id, { except: a.token })) >= 1);
    assert.ok(await store.destroySession(a.token));
    assert.is(await store.countUserSessions(id), 0);
  }
  assert.ok(slotsUsed.size >= awkwardIds.length - 2, 'users spread over slots');
  await r.admin.script('FLUSH');
  const s = await store.createSession({ id: 'after-flush', username: 'x' });
  assert.ok(await store.getSession(s.token));
});

test('the slot check is real: a script touching an undeclared key in another slot fails here', async () => {
  const err = await cluster.eval("#!lua\nreturn redis.call('GET', 'elsewhere')", 1, 'session:{abc}:d').then(
    () => null,
    (e: Error) => e,
  );
  assert.ok(err instanceof Error);
  assert.match(err.message, /same slot|non local/);
});

test.run();
