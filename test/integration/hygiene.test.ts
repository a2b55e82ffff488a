import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RedisSessionStore } from '../../src/index.js';
import { dumpAll, startRedis, type TestRedis } from '../helpers/redis.js';
import { openStore } from '../helpers/store.js';

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
