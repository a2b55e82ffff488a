import type { Test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ConfigurationError,
  CorruptSessionError,
  InvalidInputError,
  RedisSessionStore,
  StoreClosedError,
  StoreUnavailableError,
  type CreatedSession,
  type StoreOptions,
} from '../../src/index.js';
import { rejects } from './assert.js';
import type { Deployment } from './deployment.js';
import { waitFor } from './redis.js';
import { alice, bob, redisNow } from './store.js';

/**
 * Registers the store's whole functional suite on `test`, against any deployment: one server
 * (RESP2 and RESP3), a real cluster, an ACL user. Register the hook that makes the deployment
 * first: `d` is called only once the suite runs.
 */
export function functionalTests(test: Test, d: () => Deployment, protocol: 2 | 3 = 3): void {
  let store: RedisSessionStore;
  const open = (options: StoreOptions = {}) => d().open(options, protocol);

  test.before(async () => {
    store = await open();
  });
  test.after(async () => {
    await store?.close();
  });
  test.before.each(async () => {
    await d().flushAll();
  });

  test('createSession then getSession round-trips the user, metadata and server-clock times', async () => {
    const before = await redisNow(d().admin);
    const created = await store.createSession(alice, { metadata: { ua: 'curl/8', ip: '127.0.0.1' } });
    const after = await redisNow(d().admin);
    // createdAt is the store's lower bound of the Redis clock: never later than the real one,
    // behind it by at most the estimate's uncertainty (about half a round trip).
    assert.ok(created.createdAt <= after, 'createdAt has passed on the Redis clock');
    assert.ok(created.createdAt >= before - 1000, 'createdAt from the Redis clock, not a local one');
    assert.is(created.lastAccessedAt, created.createdAt);
    assert.is(created.expiresAt, created.createdAt + 3600_000);
    assert.equal(created.evictedSessionIds, []);
    const got = await store.getSession(created.token);
    assert.equal(got, {
      id: created.id,
      userId: 'alice',
      user: alice,
      createdAt: created.createdAt,
      lastAccessedAt: created.createdAt,
      expiresAt: created.expiresAt,
      metadata: { ua: 'curl/8', ip: '127.0.0.1' },
    });
    assert.is((got as unknown as Record<string, unknown>).token, undefined);
  });

  test('createSession honours ttl and rejects bad ttl before any I/O', async () => {
    const s = await store.createSession(bob, { ttl: 90 });
    assert.is(s.expiresAt - s.createdAt, 90_000);
    const before = await d().commandCount();
    for (const ttl of [0, -1, 1.5, NaN, '60', 2 ** 31]) {
      await rejects(store.createSession(bob, { ttl: ttl as number }), InvalidInputError);
    }
    await rejects(store.createSession(bob, null as never), InvalidInputError);
    assert.is(await d().commandCount(), before);
  });

  test('getSession: unknown or malformed tokens are null; non-strings are InvalidInputError', async () => {
    const s = await store.createSession(bob);
    const forged = s.token.slice(0, 23) + 'A'.repeat(43);
    assert.is(await store.getSession(forged), null);
    const before = await d().commandCount();
    for (const t of ['', 'x', s.token + 'x', s.token.slice(0, -1), `${s.token.slice(0, 22)}:${s.token.slice(23)}`]) {
      assert.is(await store.getSession(t), null);
    }
    assert.is(await d().commandCount(), before, 'malformed tokens never reach Redis');
    for (const t of [null, undefined, 42, [s.token], { token: s.token }])
      await rejects(store.getSession(t as never), InvalidInputError);
  });

  test('getSessions: input order, nulls for unknown, duplicates, empty batch', async () => {
    const a = await store.createSession(alice);
    const b = await store.createSession(bob);
    const res = await store.getSessions([b.token, 'junk', a.token, b.token, a.token.slice(0, 23) + 'B'.repeat(43)]);
    assert.equal(
      res.map((s) => s?.id ?? null),
      [b.id, null, a.id, b.id, null],
    );
    assert.equal(await store.getSessions([]), []);
    await rejects(store.getSessions([a.token, 5 as never]), InvalidInputError);
    await rejects(store.getSessions('x' as never), InvalidInputError);
  });

  test('refreshSession: extends, replaces the idle TTL, false for unknown; never passes the absolute cap', async () => {
    const s = await store.createSession(alice, { ttl: 60 });
    assert.ok(await store.refreshSession(s.token, 7200));
    assert.ok((await store.getSessionTtl(s.token))! > 7000);
    assert.ok(await store.refreshSession(s.token));
    assert.ok((await store.getSessionTtl(s.token))! > 7000, 'later refreshes keep the new idle TTL');
    assert.is(await store.refreshSession(s.token.slice(0, 23) + 'C'.repeat(43)), false);
    assert.is(await store.refreshSession('nope'), false);
    await rejects(store.refreshSession(s.token, 0), InvalidInputError);
    await rejects(store.refreshSession(s.token, '5' as never), InvalidInputError);

    const capped = await open({ absoluteTtl: 100, defaultTtl: 50 });
    try {
      const c = await capped.createSession(alice);
      await rejects(capped.refreshSession(c.token, 101), InvalidInputError);
      assert.ok(await capped.refreshSession(c.token, 100));
      const after = await capped.getSession(c.token);
      assert.ok(after!.expiresAt <= c.createdAt + 100_000, 'the absolute deadline holds');
      await rejects(capped.createSession(alice, { ttl: 101 }), InvalidInputError);
    } finally {
      await capped.close();
    }
  });

  test('rolling: getSession slides the expiry at most every touchAfter; non-rolling never writes', async () => {
    const s = await store.createSession(alice, { ttl: 60 });
    await store.refreshSession(s.token, 30);
    const fixed = await store.getSession(s.token);
    assert.is((await store.getSession(s.token))!.expiresAt, fixed!.expiresAt, 'not rolling: unchanged');

    const rolling = await open({ rolling: true, touchAfter: 0 });
    const lazy = await open({ rolling: true, touchAfter: 3600 });
    try {
      const lazyRead = await lazy.getSession(s.token);
      assert.is(lazyRead!.expiresAt, fixed!.expiresAt, 'within touchAfter: no write');
      const slid = await rolling.getSession(s.token);
      assert.ok(slid!.expiresAt > fixed!.expiresAt, 'slid to now + idle TTL');
      assert.ok(slid!.lastAccessedAt >= fixed!.lastAccessedAt);
      // Persisted in Redis, as a store that reads it now sees (with the cache on, `store` sees
      // it once the invalidation arrives: another store's write is not read-your-writes).
      const reader = await open({ cache: false });
      try {
        assert.is((await reader.getSession(s.token))!.expiresAt, slid!.expiresAt, 'persisted');
      } finally {
        await reader.close();
      }
    } finally {
      await rolling.close();
      await lazy.close();
    }
  });

  test('destroySession: true once, then false; the token is dead', async () => {
    const s = await store.createSession(alice);
    assert.is(await store.destroySession(s.token), true);
    assert.is(await store.destroySession(s.token), false);
    assert.is(await store.getSession(s.token), null);
    assert.is(await store.destroySession('garbage'), false);
    await rejects(store.destroySession(undefined as never), InvalidInputError);
  });

  test('updateSessionMetadata: sets and removes keys; false when absent; over-limit writes nothing', async () => {
    const s = await store.createSession(alice, { metadata: { a: '1', b: '2' } });
    assert.is(await store.updateSessionMetadata(s.token, { b: null, c: 'three' }), true);
    assert.equal((await store.getSession(s.token))!.metadata, { a: '1', c: 'three' });
    assert.is(await store.updateSessionMetadata(s.token.slice(0, 23) + 'D'.repeat(43), { a: 'x' }), false);
    const small = await open({ maxMetadataBytes: 20 });
    try {
      // a(1)+1 + c(1)+5 = 8 bytes now; adding 13 more crosses 20.
      await rejects(small.updateSessionMetadata(s.token, { d: 'x'.repeat(12) }), InvalidInputError);
      assert.equal((await store.getSession(s.token))!.metadata, { a: '1', c: 'three' });
      assert.is(await small.updateSessionMetadata(s.token, { d: 'x'.repeat(11) }), true);
    } finally {
      await small.close();
    }
    for (const bad of [null, [], { a: 1 }, JSON.parse('{"__proto__":"x"}')]) {
      await rejects(store.updateSessionMetadata(s.token, bad as never), InvalidInputError);
    }
  });

  test('getSessionTtl: whole seconds left, null when absent', async () => {
    const s = await store.createSession(alice, { ttl: 120 });
    const ttl = await store.getSessionTtl(s.token);
    assert.ok(ttl === 120 || ttl === 119, String(ttl));
    assert.is(await store.getSessionTtl(s.token.slice(0, 23) + 'E'.repeat(43)), null);
    assert.is(await store.getSessionTtl('x'), null);
  });

  test('expired sessions are neither readable nor counted nor listed', async () => {
    const short = await store.createSession(alice, { ttl: 1 });
    const long = await store.createSession(alice, { ttl: 600 });
    assert.is(await store.countUserSessions('alice'), 2);
    await waitFor(async () => (await store.getSession(short.token)) === null, 3000);
    // Reads decide on the Redis clock estimate and call a session expired up to its bound (about
    // a millisecond) early; the scripts decide on Redis's own clock. Past that, all agree.
    await waitFor(async () => (await redisNow(d().admin)) > short.expiresAt, 1000, 1);
    assert.is(await store.getSession(short.token), null);
    assert.is(await store.countUserSessions('alice'), 1);
    assert.equal(
      (await store.listUserSessions('alice')).map((s) => s.id),
      [long.id],
    );
    assert.is(await store.getSessionTtl(short.token), null);
    assert.is(await store.refreshSession(short.token), false);
  });

  test('rotateSession: same data under a new token; the old one dies at once', async () => {
    const s = await store.createSession(alice, { metadata: { k: 'v' } });
    const rotated = await store.rotateSession(s.token);
    assert.ok(rotated);
    assert.is.not(rotated.token, s.token);
    assert.is.not(rotated.id, s.id);
    assert.is(await store.getSession(s.token), null);
    const got = await store.getSession(rotated.token);
    assert.equal(
      [got!.createdAt, got!.expiresAt, got!.metadata, got!.user],
      [s.createdAt, s.expiresAt, { k: 'v' }, alice],
    );
    assert.is(await store.rotateSession(s.token), null);
    assert.is(await store.countUserSessions('alice'), 1);
  });

  test('countUserSessions and listUserSessions: per user, no tokens in the list', async () => {
    const tokens: string[] = [];
    for (let i = 0; i < 3; i++) tokens.push((await store.createSession(alice, { metadata: { n: String(i) } })).token);
    await store.createSession(bob);
    assert.is(await store.countUserSessions('alice'), 3);
    assert.is(await store.countUserSessions('bob'), 1);
    assert.is(await store.countUserSessions('carol'), 0);
    const list = await store.listUserSessions('alice');
    assert.is(list.length, 3);
    assert.equal(list.map((s) => s.metadata.n).sort(), ['0', '1', '2']);
    const text = JSON.stringify(list);
    for (const t of tokens) {
      assert.not.ok(text.includes(t));
      assert.not.ok(text.includes(t.slice(23)));
    }
    assert.equal(await store.listUserSessions('carol'), []);
    for (const bad of ['', 5, null, ['alice'], 'a\uD800'])
      await rejects(store.countUserSessions(bad as never), InvalidInputError);
  });

  test('destroyUserSessions: all, or all but one of the same user', async () => {
    const made: CreatedSession[] = [];
    for (let i = 0; i < 4; i++) made.push(await store.createSession(alice));
    const other = await store.createSession(bob);
    assert.is(await store.destroyUserSessions('alice', { except: made[0]!.token }), 3);
    assert.ok(await store.getSession(made[0]!.token));
    assert.is(await store.getSession(made[1]!.token), null);
    assert.ok(await store.getSession(other.token), 'other users untouched');
    await rejects(store.destroyUserSessions('alice', { except: other.token }), InvalidInputError);
    await rejects(store.destroyUserSessions('alice', { except: 'garbage' }), InvalidInputError);
    await rejects(store.destroyUserSessions('alice', { except: 7 as never }), InvalidInputError);
    // By public id (as an operator who holds no token does it).
    const again = await store.createSession(alice);
    await rejects(store.destroyUserSessions('alice', { exceptSessionId: 'not an id' }), InvalidInputError);
    await rejects(
      store.destroyUserSessions('alice', { except: again.token, exceptSessionId: again.id }),
      InvalidInputError,
    );
    assert.is(await store.destroyUserSessions('alice', { exceptSessionId: again.id }), 1);
    assert.ok(await store.getSession(again.token));
    assert.is(await store.getSession(made[0]!.token), null);
    assert.is(await store.destroyUserSessions('alice'), 1);
    assert.is(await store.countUserSessions('alice'), 0);
    assert.is(await store.destroyUserSessions('alice'), 0);
  });

  test('mixed TTLs: a 5 s login after a 24 h one never shortens the index (revocation still works)', async () => {
    const long = await store.createSession(alice, { ttl: 86_400 });
    const short = await store.createSession(alice, { ttl: 5 });
    await waitFor(async () => (await store.getSession(short.token)) === null, 7000, 100);
    assert.is(await store.countUserSessions('alice'), 1);
    assert.is(await store.destroyUserSessions('alice'), 1);
    assert.is(await store.getSession(long.token), null);
    assert.is(await d().dbsize(), 0, 'nothing left behind');
  });

  test('revokeSession: by listed public id, only for its own user', async () => {
    const a = await store.createSession(alice);
    const b = await store.createSession(bob);
    assert.is(await store.revokeSession('bob', a.id), false, 'wrong user');
    assert.ok(await store.getSession(a.token));
    assert.is(await store.revokeSession('alice', 'not-an-id'), false);
    assert.is(await store.revokeSession('alice', a.id), true);
    assert.is(await store.getSession(a.token), null);
    assert.is(await store.revokeSession('alice', a.id), false);
    assert.ok(await store.getSession(b.token));
    await rejects(store.revokeSession('alice', 5 as never), InvalidInputError);
  });

  test('maxSessionsPerUser: the cap holds and the result names the evicted least recently used', async () => {
    const capped = await open({ maxSessionsPerUser: 2, rolling: true, touchAfter: 0 });
    try {
      const first = await capped.createSession(alice);
      const second = await capped.createSession(alice);
      // LRU has the Redis clock's ms resolution: touch first only once that clock has moved on.
      await waitFor(async () => (await redisNow(d().admin)) > second.createdAt, 1000, 1);
      await capped.getSession(first.token); // first is now the most recently used
      const third = await capped.createSession(alice);
      assert.equal(third.evictedSessionIds, [second.id]);
      assert.is(await capped.getSession(second.token), null);
      assert.is(await capped.countUserSessions('alice'), 2);
    } finally {
      await capped.close();
    }
  });

  test('keyPrefix: every key carries it, one hash tag per user', async () => {
    const prefixed = await open({ keyPrefix: 'myapp:s:' });
    try {
      await prefixed.createSession({ id: '{weird}', username: 'w' });
      const keys = (await d().keys('*')).sort();
      assert.is(keys.length, 1, 'one key per user: the hash is its own index');
      assert.match(keys[0]!, /^myapp:s:\{[A-Za-z0-9_-]{22}\}:d$/);
    } finally {
      await prefixed.close();
    }
  });

  test('corrupt data under a store key is CorruptSessionError, never a partial session', async () => {
    const s = await store.createSession(alice);
    const [data] = (await d().keys('*:d')) as [string];
    await d().admin.hset(data, s.id, '1|9999999999999|1|1|60|0|{}\n{"id":"alice"}');
    await rejects(store.getSession(s.token), CorruptSessionError);
    await d().admin.hset(data, s.id, 'not json');
    await rejects(store.getSession(s.token), CorruptSessionError);
    await rejects(store.refreshSession(s.token), CorruptSessionError);
    await rejects(store.updateSessionMetadata(s.token, { a: 'b' }), CorruptSessionError);
    await rejects(store.listUserSessions('alice'), CorruptSessionError);
    await d().admin.del(data);
    await d().admin.rpush(data, 'x');
    await rejects(store.getSession(s.token), CorruptSessionError, 'CORRUPT_SESSION');
    assert.ok((await store.destroyUserSessions('alice')) >= 0, 'destroy-all still clears it');
    assert.is(await d().admin.exists(data), 0);
  });

  test('healthCheck and maxConnections', async () => {
    const pooled = await open({ maxConnections: 3 });
    try {
      const created = await Promise.all(Array.from({ length: 30 }, () => pooled.createSession(bob)));
      assert.is(await pooled.countUserSessions('bob'), 30);
      assert.is(new Set(created.map((c) => c.token)).size, 30);
      const clients = await d().connectedClients();
      assert.ok(clients >= 5, `3 pooled + store + admin connections, saw ${clients}`);
      const h = await pooled.healthCheck();
      assert.is(h.healthy, true);
      assert.ok(h.latencyMs >= 0 && h.latencyMs < 2000);
    } finally {
      await pooled.close();
    }
  });

  test('close: later calls reject StoreClosedError; a caller-owned client stays open', async () => {
    const own = await open({});
    await own.close();
    await own.close();
    await rejects(own.getSession('x'.repeat(22) + '.' + 'y'.repeat(43)), StoreClosedError);
    assert.equal(await own.healthCheck().then((h) => [h.healthy, h.error]), [false, 'STORE_CLOSED']);

    const mine = d().callerClient(protocol);
    try {
      const adopted = await RedisSessionStore.connect({ redis: mine });
      const s = await adopted.createSession(alice);
      await adopted.close();
      assert.is(await mine.ping(), 'PONG', 'caller client still usable');
      assert.is(await d().admin.exists(`session:{${s.token.slice(0, 22)}}:d`), 1);
    } finally {
      mine.disconnect();
    }
  });

  test('fromEnv reads exactly its variables; malformed ones are ConfigurationError', async () => {
    const fromEnv = await RedisSessionStore.fromEnv({
      REDIS_URL: d().envUrl,
      SESSION_TTL: '77',
      SESSION_KEY_PREFIX: 'env:',
      MAX_CONNECTIONS: '2',
    });
    try {
      assert.equal(
        [fromEnv.options.defaultTtl, fromEnv.options.keyPrefix, fromEnv.options.maxConnections],
        [77, 'env:', 2],
      );
      const s = await fromEnv.createSession(bob);
      assert.is(s.expiresAt - s.createdAt, 77_000);
    } finally {
      await fromEnv.close();
    }
    await rejects(RedisSessionStore.fromEnv({ REDIS_URL: d().envUrl, SESSION_TTL: 'ten' }), ConfigurationError);
    await rejects(RedisSessionStore.fromEnv({ REDIS_URL: 'ftp://x' }), ConfigurationError);
    await rejects(open({ keyPrefix: 'a{b}' }), ConfigurationError);
  });

  test('connect to a dead port rejects StoreUnavailableError within the budget', async () => {
    const started = Date.now();
    await rejects(
      RedisSessionStore.connect({ url: 'redis://127.0.0.1:1', commandTimeout: 300 }),
      StoreUnavailableError,
    );
    assert.ok(Date.now() - started < 2500, `${Date.now() - started} ms`);
  });

  test('preflight warns once about an evicting maxmemory-policy, not about noeviction', async () => {
    const warnings: string[] = [];
    const logger = { warn: (m: string) => warnings.push(m) };
    const quiet = await open({ logger });
    await quiet.close();
    assert.equal(warnings, []);
    await d().configSet('maxmemory-policy', 'allkeys-lru');
    try {
      const loud = await open({ logger });
      await loud.createSession(alice);
      await loud.close();
      assert.is(warnings.length, 1);
      assert.match(warnings[0]!, /allkeys-lru/);
    } finally {
      await d().configSet('maxmemory-policy', 'noeviction');
    }
  });
}
