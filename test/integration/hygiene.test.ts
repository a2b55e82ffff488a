import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidInputError, type RedisSessionStore } from '../../src/index.js';
import { rejects } from '../helpers/assert.js';
import { commandCount, dumpAll, startRedis, type TestRedis } from '../helpers/redis.js';
import { alice, bob, openStore } from '../helpers/store.js';

const test = suite('hygiene');
let r: TestRedis;
let store: RedisSessionStore;

test.before(async () => {
  r = await startRedis();
  store = await openStore(r, { maxSessionsPerUser: 8, rolling: true, touchAfter: 0 });
});
test.after(async () => {
  await store?.close();
  await r?.stop();
});

test('after a mixed run, no issued token or token secret appears anywhere in Redis', async () => {
  const issued: string[] = [];
  for (let u = 0; u < 20; u++) {
    const user = { id: `user-${u}`, username: `u${u}` };
    for (let i = 0; i < 10; i++) {
      const s = await store.createSession(user, { metadata: { device: `d${i}` } });
      issued.push(s.token);
      await store.getSession(s.token);
      if (i % 3 === 0) await store.updateSessionMetadata(s.token, { seen: 'yes' });
      if (i % 4 === 0) issued.push((await store.rotateSession(s.token))?.token ?? '');
      if (i % 5 === 0) await store.destroySession(s.token);
    }
    if (u % 7 === 0) await store.destroyUserSessions(user.id);
  }
  assert.ok((await r.admin.dbsize()) > 0);
  const everything = await dumpAll(r.admin);
  let found = 0;
  for (const t of issued.filter(Boolean)) {
    if (everything.includes(t) || everything.includes(t.slice(23))) found++;
  }
  assert.is(found, 0);
});

test('every rejected input: typed error, 0 commands sent, DBSIZE unchanged, Object.prototype untouched', async () => {
  const live = await store.createSession(alice);
  const sizeBefore = await r.admin.dbsize();
  const callsBefore = await commandCount(r.admin);
  const cyclic: Record<string, unknown> = { id: 'c', username: 'c' };
  cyclic.me = cyclic;
  const arrays = ['x', '999999999'];
  const bad: [string, () => Promise<unknown>][] = [
    ['user null', () => store.createSession(null as never)],
    ['user array', () => store.createSession(arrays as never)],
    ['user no id', () => store.createSession({ username: 'x' } as never)],
    ['user empty id', () => store.createSession({ id: '', username: 'x' })],
    ['user id array', () => store.createSession({ id: arrays as never, username: 'x' })],
    ['user id lone surrogate', () => store.createSession({ id: 'user\uD800', username: 'x' })],
    ['user id CRLF', () => store.createSession({ id: 'a\r\nb', username: 'x' })],
    ['user id NUL', () => store.createSession({ id: 'a\0b', username: 'x' })],
    ['user id 10 KB', () => store.createSession({ id: 'x'.repeat(10_000), username: 'x' })],
    ['user cyclic', () => store.createSession(cyclic as never)],
    ['user BigInt', () => store.createSession({ ...bob, n: 1n } as never)],
    ['user __proto__', () => store.createSession(JSON.parse('{"id":"p","username":"p","__proto__":{"isAdmin":true}}'))],
    ['ttl array', () => store.createSession(bob, { ttl: ['x', '999999999'] as never })],
    ['ttl 1e21', () => store.createSession(bob, { ttl: 1e21 })],
    ['ttl Infinity', () => store.createSession(bob, { ttl: Infinity })],
    ['metadata number', () => store.createSession(bob, { metadata: { a: 1 } as never })],
    ['metadata array', () => store.createSession(bob, { metadata: ['a'] as never })],
    ['metadata over limit', () => store.createSession(bob, { metadata: { k: 'x'.repeat(16_384) } })],
    ['metadata constructor', () => store.createSession(bob, { metadata: { constructor: 'x' } })],
    ['token object', () => store.getSession({} as never)],
    ['token Buffer', () => store.getSession(Buffer.from(live.token) as never)],
    ['token array', () => store.refreshSession([live.token, '999999999'] as never)],
    ['refresh ttl 0', () => store.refreshSession(live.token, 0)],
    ['refresh ttl negative', () => store.refreshSession(live.token, -5)],
    ['patch non-object', () => store.updateSessionMetadata(live.token, 'x' as never)],
    ['patch number value', () => store.updateSessionMetadata(live.token, { a: 5 } as never)],
    ['patch __proto__', () => store.updateSessionMetadata(live.token, JSON.parse('{"__proto__":"x"}'))],
    ['patch over limit', () => store.updateSessionMetadata(live.token, { k: 'x'.repeat(16_384) })],
    ['tokens not array', () => store.getSessions(live.token as never)],
    ['tokens with number', () => store.getSessions([live.token, 1 as never])],
    ['userId undefined', () => store.countUserSessions(undefined as never)],
    ['userId glob is fine but empty is not', () => store.listUserSessions('')],
    ['except other user', () => store.destroyUserSessions('bob', { except: live.token })],
    ['sessionId number', () => store.revokeSession('alice', 42 as never)],
  ];
  for (const [name, call] of bad) {
    const err = await rejects(call, InvalidInputError);
    assert.not.ok(err.message.includes(live.token.slice(23)), `${name}: message must not echo the token`);
  }
  assert.is(await commandCount(r.admin), callsBefore, 'no command reached Redis');
  assert.is(await r.admin.dbsize(), sizeBefore);
  assert.is(({} as Record<string, unknown>).isAdmin, undefined);
  assert.ok(await store.getSession(live.token), 'the live session is untouched');
});

test('glob characters in user ids are plain bytes, never patterns', async () => {
  await store.destroyUserSessions('*');
  const star = await store.createSession({ id: '*', username: 's' });
  const real = await store.createSession({ id: 'abc', username: 'a' });
  assert.is(await store.countUserSessions('*'), 1);
  assert.is(await store.destroyUserSessions('*'), 1);
  assert.ok(await store.getSession(real.token));
  assert.is(await store.getSession(star.token), null);
});

test.run();
