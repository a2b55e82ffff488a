import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreTimeoutError, StoreUnavailableError, type RedisSessionStore } from '../../src/index.js';
import {
  cacheConnections,
  cacheReady,
  heapContains,
  invalidationsDelivered,
  metricValue,
  servedFromMemory,
} from '../helpers/cache.js';
import { commandCount, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';
import { alice, bob, openStore } from '../helpers/store.js';

// The session cache on one real server. `a` caches; `b` is another store (other connections,
// as another app server would have) whose writes `a` must hear about.
const test = suite('cache');
let r: TestRedis;
let a: RedisSessionStore;
let b: RedisSessionStore;
let registry: Registry;

test.before(async () => {
  r = await startRedis();
  registry = new Registry();
  a = await openStore(r, { cache: { maxStalenessMs: 300 }, maxConnections: 2, metrics: { registry } });
  b = await openStore(r, { metrics: false });
});
test.after(async () => {
  await a?.close();
  await b?.close();
  await r?.stop();
});

test('a hit sends nothing to Redis; its expiry is still checked', async () => {
  const s = await a.createSession(alice, { ttl: 60 });
  assert.ok(await a.getSession(s.token)); // the miss that fills the cache
  const before = await commandCount(r.admin);
  for (let i = 0; i < 100; i++) assert.is((await a.getSession(s.token))?.id, s.id);
  const [many] = await a.getSessions([s.token]);
  assert.is(many?.id, s.id);
  assert.is(await a.getSessionTtl(s.token), 60);
  assert.is(await commandCount(r.admin), before, 'no command for 102 cached reads');

  // A session whose expiry has passed is not served, though nothing told the cache.
  const short = await a.createSession(bob, { ttl: 1 });
  assert.ok(await a.getSession(short.token));
  await waitFor(async () => (await a.getSession(short.token)) === null, 3000, 25);
});

test('the lookup by id alone: only the very token finds its cached session', async () => {
  const s = await a.createSession(alice);
  const other = await a.createSession(bob);
  assert.ok(await a.getSession(s.token)); // cached
  assert.ok(await a.getSession(s.token));
  const [tag, secret] = s.token.split('.') as [string, string];
  const otherTag = other.token.split('.')[0]!;
  const flipped = secret[0] === 'A' ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;
  const before = await commandCount(r.admin);
  // Not tokens, though of a token's length: null, and nothing is sent.
  assert.is(await a.getSession(`${tag}!${secret}`), null);
  assert.is(await a.getSession(`${tag}.${secret.slice(0, 42)}{`), null);
  assert.is(await commandCount(r.admin), before, 'no command for a string that is not a token');
  // Well-formed, but another token: another user's tag with this secret, or one character of
  // the secret changed. Each misses and reads Redis, which has no such session.
  assert.is(await a.getSession(`${otherTag}.${secret}`), null);
  assert.is(await a.getSession(`${tag}.${flipped}`), null);
  assert.ok((await commandCount(r.admin)) > before, 'the well-formed strings were read from Redis');
  assert.is((await a.getSession(s.token))?.id, s.id);
});

test('rolling: a hit writes the touch once per touchAfter, and nothing in between', async () => {
  const rolling = await openStore(r, { cache: true, rolling: true, touchAfter: 1, metrics: false });
  try {
    const s = await rolling.createSession(alice);
    const first = (await rolling.getSession(s.token))!;
    const evalsBefore = await evalCalls(r);
    let latest = first;
    await waitFor(
      async () => {
        latest = (await rolling.getSession(s.token))!;
        return latest.lastAccessedAt > first.lastAccessedAt;
      },
      5000,
      5,
    );
    // Hundreds of reads over a second, and one touch.
    assert.is((await evalCalls(r)) - evalsBefore, 1);
    assert.ok(latest.expiresAt > first.expiresAt);
  } finally {
    await rolling.close();
  }
});

test('writes from this process evict before they resolve: 0 stale reads in 10,000 write-then-read trials', async () => {
  let stale = 0;
  let trials = 0;
  const check = (ok: boolean) => {
    trials++;
    if (!ok) stale++;
  };
  // 40 users in parallel, so reads and writes of different users interleave on the connections.
  await Promise.all(
    Array.from({ length: 40 }, async (_, u) => {
      const user = { id: `user-${u}`, username: `u${u}` };
      let s = await a.createSession(user);
      for (let i = 0; i < 125; i++) {
        await a.getSession(s.token);
        await a.updateSessionMetadata(s.token, { n: String(i) });
        check((await a.getSession(s.token))?.metadata.n === String(i));
      }
      for (let i = 0; i < 25; i++) {
        await a.getSession(s.token);
        const before = (await a.getSession(s.token))!.expiresAt;
        await a.refreshSession(s.token, 7200);
        check((await a.getSession(s.token))!.expiresAt > before);
        const old = s.token;
        const rotated = (await a.rotateSession(old))!;
        check((await a.getSession(old)) === null && (await a.getSession(rotated.token))?.id === rotated.id);
        s = { ...s, token: rotated.token, id: rotated.id };
        await a.destroySession(s.token);
        check((await a.getSession(s.token)) === null);
        s = await a.createSession(user);
        await a.getSession(s.token);
        await a.revokeSession(user.id, s.id);
        check((await a.getSession(s.token)) === null);
        s = await a.createSession(user);
        await a.getSession(s.token);
        await a.destroyUserSessions(user.id);
        check((await a.getSession(s.token)) === null);
        s = await a.createSession(user);
      }
    }),
  );
  assert.is(trials, 10_000);
  assert.is(stale, 0);
});

test('concurrent misses of one session share one HGET; after a write, a new read does not join an older one', async () => {
  const hgets = async () => Number(/cmdstat_hget:calls=(\d+)/.exec(await r.admin.info('commandstats'))?.[1] ?? 0);
  const s = await a.createSession({ id: 'herd', username: 'h' });
  await cacheReady(a, s.token, r.admin);
  await b.updateSessionMetadata(s.token, { v: '1' }); // another store's write: the entry goes
  await waitFor(async () => !(await servedFromMemory(a, s.token, r.admin)), 5000, 1);
  await cacheReady(a, s.token, r.admin);
  await a.updateSessionMetadata(s.token, { v: '2' }); // this store's write: dropped at once
  const before = await hgets();
  const reads = await Promise.all(Array.from({ length: 50 }, () => a.getSession(s.token)));
  assert.is((await hgets()) - before, 1, 'one HGET for 50 concurrent misses');
  assert.ok(reads.every((x) => x?.metadata.v === '2'));
  assert.is(new Set(reads).size, 50, 'each caller has its own object');
  // A write that resolves while a read is in flight: a read started after it sends its own HGET.
  await a.updateSessionMetadata(s.token, { v: '3' });
  const inFlight = a.getSession(s.token);
  await a.updateSessionMetadata(s.token, { v: '4' });
  const after = await a.getSession(s.token);
  await inFlight;
  assert.is(after?.metadata.v, '4');
});

test('the cap evicts from the cache in the same call', async () => {
  const capped = await openStore(r, { cache: true, maxSessionsPerUser: 1, metrics: false });
  try {
    const first = await capped.createSession(alice);
    assert.ok(await capped.getSession(first.token));
    const second = await capped.createSession(alice);
    assert.equal(second.evictedSessionIds, [first.id]);
    assert.is(await capped.getSession(first.token), null);
  } finally {
    await capped.close();
  }
});

test('writes from another store stop being served once their invalidation arrives', async () => {
  const s = await a.createSession(alice);
  assert.ok(await a.getSession(s.token));
  await b.updateSessionMetadata(s.token, { theme: 'dark' });
  await waitFor(async () => (await a.getSession(s.token))?.metadata.theme === 'dark', 5000, 1);
  await b.destroySession(s.token);
  await waitFor(async () => (await a.getSession(s.token)) === null, 5000, 1);
  assert.ok((await metricValue(registry, 'session_store_cache_invalidations_total')) >= 2);
});

test('the in-flight race: 10,000 cold reads racing a destroy leave 0 stale entries', async () => {
  const sessions = await Promise.all(
    Array.from({ length: 10_000 }, (_, i) => b.createSession({ id: `racer-${i % 500}`, username: 'r' })),
  );
  let readLive = 0;
  // Each trial: a cold read by `a` and a destroy by `b`, sent in the same tick, 50 trials at a
  // time. Blocking the event loop for a moment lets both replies and the invalidation arrive
  // before Node reads any of them, which is when an invalidation can overtake a read's reply.
  for (let at = 0; at < sessions.length; at += 50) {
    const batch = sessions.slice(at, at + 50).map(async (s, k) => {
      const [seen] = await Promise.all([a.getSession(s.token), delay(k % 2).then(() => b.destroySession(s.token))]);
      if (seen !== null) readLive++;
    });
    const until = performance.now() + 1;
    while (performance.now() < until);
    await Promise.all(batch);
  }
  await invalidationsDelivered(a, b);
  let stale = 0;
  for (const s of sessions) if ((await a.getSession(s.token)) !== null) stale++;
  assert.is(stale, 0, `${stale} destroyed sessions still served (${readLive} reads saw them live)`);
  // Reads ran before their destroy, so each cached key was then invalidated while its reply
  // raced the invalidation (without the tickets, about 25 in 10,000 stay cached here).
  assert.ok(readLive > 0, `reads that saw the session: ${readLive}`);
});

test('FLUSHALL and FLUSHDB empty the cache (a null invalidation)', async () => {
  for (const flush of ['FLUSHALL', 'FLUSHDB']) {
    const s = await a.createSession(alice);
    await cacheReady(a, s.token, r.admin);
    const before = await metricValue(registry, 'session_store_cache_flushes_total', { reason: 'flushdb' });
    await r.admin.call(flush);
    await waitFor(async () => (await a.getSession(s.token)) === null, 5000, 1);
    assert.ok((await metricValue(registry, 'session_store_cache_flushes_total', { reason: 'flushdb' })) > before);
  }
});

test('a killed invalidation connection: 0 stale reads from the moment it is killed', async () => {
  let stale = 0;
  for (let trial = 0; trial < 50; trial++) {
    const s = await a.createSession(alice);
    await cacheReady(a, s.token, r.admin);
    const { subscribers } = await cacheConnections(r.admin);
    assert.is(subscribers.length, 1);
    await r.admin.call('CLIENT', 'KILL', 'ID', subscribers[0]!.id!);
    // The destroy's invalidation has nowhere to go: the cache must not be trusted any more.
    await b.destroySession(s.token);
    if ((await a.getSession(s.token)) !== null) stale++;
  }
  assert.is(stale, 0);
  assert.ok((await metricValue(registry, 'session_store_cache_flushes_total', { reason: 'disconnect' })) >= 50);
});

test('a killed tracked connection (the redirect source) is not trusted either', async () => {
  let stale = 0;
  for (let trial = 0; trial < 20; trial++) {
    const s = await a.createSession(alice);
    await cacheReady(a, s.token, r.admin);
    const { readers } = await cacheConnections(r.admin);
    assert.is(readers.length, 1);
    await r.admin.call('CLIENT', 'KILL', 'ID', readers[0]!.id!);
    await b.updateSessionMetadata(s.token, { trial: String(trial) });
    const seen = await a.getSession(s.token);
    if (seen?.metadata.trial !== String(trial)) stale++;
  }
  assert.is(stale, 0);
});

test('a restarted Redis (data gone): the cached session is never served after', async () => {
  const s = await a.createSession(alice);
  await cacheReady(a, s.token, r.admin);
  await r.kill();
  // Down: a read is an outage or goes to Redis, never the cached session.
  const down = await a.getSession(s.token).then(
    (v) => v,
    (err: unknown) => err,
  );
  assert.ok(down instanceof StoreUnavailableError, `while down: ${String(down)}`);
  await r.restart();
  await waitFor(async () => (await a.getSession(s.token).catch(() => 'error')) === null, 10_000, 10);
  // And the cache works again.
  const fresh = await a.createSession(alice);
  await cacheReady(a, fresh.token, r.admin);
});

test('a silently stalled link: entries stop being served after maxStalenessMs', async () => {
  const stalling = await openStore(r, { cache: { maxStalenessMs: 200 }, commandTimeout: 300, metrics: { registry } });
  try {
    const s = await stalling.createSession(alice);
    await cacheReady(stalling, s.token, r.admin);
    const stale = await metricValue(registry, 'session_store_cache_flushes_total', { reason: 'stale' });
    r.pause(); // no FIN, no RST: every connection just goes quiet
    try {
      // Hits continue briefly; then the unanswered PING stops them and reads wait on Redis.
      await waitFor(
        async () =>
          await stalling.getSession(s.token).then(
            () => false,
            (e: unknown) => e instanceof StoreTimeoutError,
          ),
        5000,
        10,
      );
    } finally {
      r.resume();
    }
    assert.ok((await metricValue(registry, 'session_store_cache_flushes_total', { reason: 'stale' })) > stale);
    await cacheReady(stalling, s.token, r.admin);
  } finally {
    await stalling.close();
  }
});

test('bounded: at most maxEntries sessions, least recently used dropped first', async () => {
  const reg = new Registry();
  const small = await openStore(r, { cache: { maxEntries: 10 }, metrics: { registry: reg } });
  try {
    const sessions = await Promise.all(
      Array.from({ length: 30 }, (_, i) => small.createSession({ id: `lru-${i}`, username: 'l' })),
    );
    for (const s of sessions) await small.getSession(s.token);
    assert.is(await metricValue(reg, 'session_store_cache_entries'), 10);
    assert.ok((await metricValue(reg, 'session_store_cache_evictions_total')) >= 20);
    // The last ten are the ones held.
    for (const s of sessions.slice(20)) assert.ok(await servedFromMemory(small, s.token, r.admin));
    assert.not.ok(await servedFromMemory(small, sessions[0]!.token, r.admin));
  } finally {
    await small.close();
  }
});

test('private: a cached session cannot be changed through what a read returns', async () => {
  const s = await a.createSession(alice, { metadata: { theme: 'light' } });
  const got = (await a.getSession(s.token))!;
  const hit = (await a.getSession(s.token))!;
  for (const session of [got, hit]) {
    session.expiresAt = 0;
    session.userId = 'mallory';
    assert.throws(() => ((session.user as { username: string }).username = 'mallory'), TypeError);
    assert.throws(() => ((session.user.roles as string[])[0] = 'root'), TypeError);
    assert.throws(() => (session.metadata.theme = 'dark'), TypeError);
  }
  // The same for a batch of one user's sessions (one HMGET), when it loads (this store's write
  // dropped the entries) and when it hits.
  const sibling = await a.createSession(alice);
  await a.updateSessionMetadata(s.token, { theme: 'light' });
  for (let i = 0; i < 2; i++) {
    const [batched] = await a.getSessions([s.token, sibling.token]);
    batched!.userId = 'mallory';
    assert.throws(() => (batched!.metadata.theme = 'dark'), TypeError);
  }
  const again = (await a.getSession(s.token))!;
  assert.ok(again.expiresAt > 0);
  assert.is(again.userId, 'alice');
  assert.is(again.user.username, 'Alice');
  assert.is(again.metadata.theme, 'light');
});

test('private: no token is held in process memory by the cache', async () => {
  // The token exists here only as bytes; each call gets a string that nothing keeps.
  const created = await a.createSession(bob);
  const secret = Buffer.from(created.token.slice(created.token.indexOf('.') + 1));
  const token = Buffer.from(created.token);
  (created as { token?: string }).token = undefined;
  // Cached (a late invalidation of an earlier read of this user's key may cost a miss first).
  await cacheReady(a, token.toString(), r.admin);
  const found = await heapContains(secret);
  assert.not.ok(found, 'the token secret is reachable in the heap');
});

test('metrics: hits, misses, entries', async () => {
  await cacheReady(a, (await a.createSession(bob)).token, r.admin);
  // A user whose key this store never read: no invalidation of an older read is on its way.
  const s = await a.createSession({ id: 'metrics-user', username: 'm' });
  const hits = await metricValue(registry, 'session_store_cache_hits_total');
  const misses = await metricValue(registry, 'session_store_cache_misses_total');
  await a.getSession(s.token);
  await a.getSession(s.token);
  await a.getSession(s.token);
  assert.is((await metricValue(registry, 'session_store_cache_misses_total')) - misses, 1);
  assert.is((await metricValue(registry, 'session_store_cache_hits_total')) - hits, 2);
  assert.ok((await metricValue(registry, 'session_store_cache_entries')) >= 1);
});

async function evalCalls(server: TestRedis): Promise<number> {
  const info = await server.admin.info('commandstats');
  return [...info.matchAll(/^cmdstat_eval(?:sha)?:calls=(\d+)/gm)].reduce((n, m) => n + Number(m[1]), 0);
}

function delay(turns: number): Promise<void> {
  let p = Promise.resolve();
  for (let i = 0; i < turns; i++) p = p.then(() => new Promise((done) => setImmediate(done)));
  return p;
}

test.run();
