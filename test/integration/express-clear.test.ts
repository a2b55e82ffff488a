import { createHash } from 'node:crypto';
import type { SessionData } from 'express-session';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigurationError, InvalidInputError } from '../../src/errors.js';
import { ExpressSessionStore } from '../../src/express.js';
import { RedisSessionStore } from '../../src/index.js';
import { rejects, throwsType } from '../helpers/assert.js';
import { useRedis } from '../helpers/redis.js';

// clear() makes the store what a new one would be, and nothing else's keys are ever taken for
// its own: not another prefix's (even a longer one), not the core store's.
const test = suite('express-session store: clear() and key ownership');
const redis = useRedis(test);
let client: Redis;
test.before(() => {
  client = new Redis(redis().url);
});
test.after(() => client?.disconnect());

const sess = (user?: string): SessionData => ({
  cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' },
  user,
});

test('set, destroy, clear, set again: the id is accepted, as with connect-redis', async () => {
  const store = new ExpressSessionStore({ client });
  await store.set('456', sess());
  await store.destroy('456');
  assert.is(await store.set('456', sess()), false, 'refused while the tombstone lives');
  await store.clear();
  assert.is(await store.length(), 0);
  assert.is(await store.set('456', sess()), undefined, 'accepted after clear()');
  assert.ok(await store.get('456'));
});

test('clear() also deletes the per-user index keys: every count is 0 afterwards', async () => {
  const store = new ExpressSessionStore({ client, userId: (s) => (s as { user?: string }).user });
  for (let i = 0; i < 6; i++) await store.set(`s${i}`, sess(`user-${i % 2}`));
  await store.destroy('s0');
  assert.is(await store.countUserSessions('user-0'), 2);
  await store.clear();
  assert.is(await redis().admin.dbsize(), 0, 'no key left: sessions, tombstones and indexes are gone');
  assert.is(await store.countUserSessions('user-0'), 0);
  assert.is(await store.countUserSessions('user-1'), 0);
  for (let i = 0; i < 6; i++) assert.is(await store.set(`s${i}`, sess(`user-${i % 2}`)), undefined);
  assert.is(await store.countUserSessions('user-0'), 3);
});

test("clear() leaves another prefix's keys alone, also when one prefix extends the other", async () => {
  const user = (s: SessionData) => (s as { user?: string }).user;
  const short = new ExpressSessionStore({ client, prefix: 'sess:', userId: user });
  const long = new ExpressSessionStore({ client, prefix: 'sess:admin:', userId: user });
  const other = new ExpressSessionStore({ client, prefix: 'app:', userId: user });
  const core = await RedisSessionStore.connect({ url: redis().url, keyPrefix: 'sess:', metrics: false });
  try {
    for (const s of [short, long, other]) {
      await s.set('live', sess('ann'));
      await s.set('gone', sess('ann'));
      await s.destroy('gone');
    }
    const coreSession = await core.createSession({ id: 'ann', username: 'ann' });
    const before = new Set(await redis().admin.keys('*'));

    await short.clear();
    const after = new Set(await redis().admin.keys('*'));
    const removed = [...before].filter((k) => !after.has(k)).sort();
    assert.equal(removed, ['sess:live', '{sess:gone}:destroyed', `{${indexTag('ann')}}:sess:by-user`].sort());
    assert.ok(await long.get('live'), "the longer prefix's session is intact");
    assert.is(await long.countUserSessions('ann'), 1);
    assert.is(await long.set('gone', sess('ann')), false, "the longer prefix's tombstone is intact");
    assert.ok(await other.get('live'));
    assert.ok(await core.getSession(coreSession.token), "the core store's session is intact");
    assert.equal(await long.ids(), ['live']);
    assert.equal(await short.ids(), []);
  } finally {
    await core.close();
  }
});

test("ids, all and length count exactly this prefix's sessions, next to a longer prefix and the core store", async () => {
  const short = new ExpressSessionStore({ client, prefix: 'sess:' });
  const long = new ExpressSessionStore({ client, prefix: 'sess:admin:' });
  const core = await RedisSessionStore.connect({ url: redis().url, keyPrefix: 'sess:', metrics: false });
  try {
    await short.set('a', sess());
    await short.set('b', sess());
    await short.destroy('b');
    await long.set('x', sess());
    await core.createSession({ id: 'ann', username: 'ann' });
    assert.equal((await short.ids()).sort(), ['a']);
    assert.is(await short.length(), 1);
    assert.equal(
      (await short.all()).map((s) => s.id),
      ['a'],
    );
    assert.equal(await long.ids(), ['x']);
  } finally {
    await core.close();
  }
});

test("session ids with ':' or braces are refused with a clear error, before any I/O; reads find nothing", async () => {
  const store = new ExpressSessionStore({ client });
  const commands = async () => Number(/total_commands_processed:(\d+)/.exec(await redis().admin.info('stats'))![1]);
  for (const bad of ['a:b', '{tag}x', 'x}y', '']) {
    const before = await commands();
    const err = await rejects<InvalidInputError>(store.set(bad, sess()), InvalidInputError);
    assert.is(err.parameter, 'sid');
    await rejects(store.touch(bad, sess()), InvalidInputError);
    assert.is(await store.get(bad), null);
    await store.destroy(bad);
    // Only the INFO probes themselves ran.
    assert.is((await commands()) - before, 1, `${JSON.stringify(bad)} sent nothing`);
  }
  // Through the callback form too: express-session sees the error.
  const viaCallback = await new Promise<unknown>((done) => void store.set('a:b', sess(), (e) => done(e)));
  assert.instance(viaCallback, InvalidInputError);
  assert.is(await redis().admin.dbsize(), 0);
});

test('a prefix that is empty or holds a brace is a ConfigurationError', () => {
  for (const prefix of ['', '{sess}:', 'sess{', 'a}b']) {
    throwsType(() => new ExpressSessionStore({ client, prefix }), ConfigurationError);
  }
});

function indexTag(userId: string): string {
  // The same digest the store puts in the key (keys.ts userTag), recomputed here.
  return createHash('sha256').update(userId).digest('base64url').slice(0, 22);
}

test.run();
