import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { SessionData } from 'express-session';
import { ExpressSessionStore, expressAclRules } from '../../src/express.js';
import { aclRules, RedisSessionStore, StoreAuthError } from '../../src/index.js';
import { classifyError } from '../../src/errors.js';
import { rejects } from '../helpers/assert.js';
import { servedFromMemory } from '../helpers/cache.js';
import { standalone, type Deployment } from '../helpers/deployment.js';
import { functionalTests } from '../helpers/functional-suite.js';
import { commandCount, startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

// The whole functional suite as a least-privilege ACL user (aclRules), then what that user
// cannot do, and how a wrong password fails.
const USER = 'sessions';
const PASSWORD = 'correct horse battery staple';
// The prefixes the functional suite uses: the default, and two it sets on purpose.
const PREFIXES = ['session:', 'myapp:s:', 'env:'];

const test = suite('ACL user (aclRules)');
let r: TestRedis;
let d: Deployment;

test.before(async () => {
  r = await startRedis();
  await r.admin.call('ACL', 'SETUSER', USER, 'reset', 'on', `>${PASSWORD}`, ...aclRules(PREFIXES, { cache: true }));
  // The whole suite runs with the session cache on: least privilege must cover it too.
  d = standalone(r, { username: USER, password: PASSWORD, cache: true });
});

functionalTests(test, () => d);

test('the store user is refused FLUSHALL, CONFIG, KEYS, SCRIPT FLUSH, SCAN, SHUTDOWN and keys outside its prefix', async () => {
  const client = new Redis(r.url, { username: USER, password: PASSWORD, maxRetriesPerRequest: 1 });
  try {
    const refused: [string, ...(string | number)[]][] = [
      ['FLUSHALL'],
      ['FLUSHDB'],
      ['CONFIG', 'GET', 'maxmemory'],
      ['KEYS', '*'],
      ['SCRIPT', 'FLUSH'],
      ['SCRIPT', 'KILL'],
      ['SCAN', 0],
      ['SHUTDOWN'],
      ['ACL', 'LIST'],
      ['MONITOR'],
      ['SUBSCRIBE', 'x'],
      ['GET', 'other:key'],
      ['SET', 'other:key', 'v'],
      ['HSET', 'users:1', 'a', 'b'],
    ];
    for (const [command, ...args] of refused) {
      const err = await client.call(command, ...args).then(
        () => null,
        (e: Error) => e,
      );
      assert.ok(err && /NOPERM/.test(err.message), `${command} ${args.join(' ')}: ${err?.message ?? 'allowed'}`);
    }
    // EVAL is allowed, but a script runs with the user's permissions: no other command, no other key.
    for (const key of ['session:x', 'other:key']) {
      const err = await client.eval("return redis.call('GET', KEYS[1])", 1, key).then(
        () => null,
        (e: Error) => e,
      );
      // Each server words the refusal its own way (src/server.ts): the store reads all as an auth error.
      assert.ok(err !== null, `${key}: allowed`);
      assert.instance(classifyError(err), StoreAuthError, `${key}: ${err.message}`);
    }
    const err = await client.eval("return redis.call('HGET', KEYS[1], 'f')", 1, 'other:key').then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err !== null, 'HGET of another key: allowed');
    assert.instance(classifyError(err), StoreAuthError, err.message);
    assert.is(await r.admin.dbsize(), 0, 'nothing written');
  } finally {
    client.disconnect();
  }
});

test('the cache as the ACL user: hits send nothing, invalidations arrive; without the cache rules, connect is refused', async () => {
  const cached = await d.open({ metrics: false }, 3);
  const writer = await d.open({ metrics: false, cache: false }, 3);
  try {
    const s = await cached.createSession({ id: 'acl-cache', username: 'c' });
    await waitFor(
      async () => (await cached.getSession(s.token)) !== null && (await servedFromMemory(cached, s.token, r.admin)),
      5000,
      10,
    );
    await writer.destroySession(s.token);
    await waitFor(async () => (await cached.getSession(s.token)) === null, 5000, 1);
  } finally {
    await cached.close();
    await writer.close();
  }
  await r.admin.call('ACL', 'SETUSER', 'nocache', 'reset', 'on', '>nocache-pass', ...aclRules());
  await rejects(
    RedisSessionStore.connect({
      url: r.url,
      username: 'nocache',
      password: 'nocache-pass',
      cache: true,
      metrics: false,
    }),
    StoreAuthError,
  );
  // And the cache's rules grant one channel only.
  const client = new Redis(r.url, { username: USER, password: PASSWORD, maxRetriesPerRequest: 1 });
  try {
    const err = await client.subscribe('__redis__:other').then(
      () => null,
      (e: Error) => e,
    );
    assert.match(String(err?.message), /NOPERM/);
  } finally {
    client.disconnect();
  }
});

test('a wrong password fails fast with StoreAuthError and does not reconnect', async () => {
  // Failed AUTHs as Redis counts them per user name (ACL LOG groups them into one entry).
  const authFailures = async (user: string) => {
    const log = (await r.admin.call('ACL', 'LOG')) as unknown[][];
    let n = 0;
    for (const entry of log) {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
      if (fields.get('reason') === 'auth' && fields.get('username') === user) n += Number(fields.get('count'));
    }
    return n;
  };
  await r.admin.call('ACL', 'LOG', 'RESET');
  const started = performance.now();
  await rejects(
    RedisSessionStore.connect({ url: r.url, username: USER, password: 'wrong', maxConnections: 4, metrics: false }),
    StoreAuthError,
  );
  const took = performance.now() - started;
  const attempts = await authFailures(USER);
  // A control client with the store's retry schedule keeps retrying: once it has failed three
  // times, the store's clients had the same time to retry, and must not have.
  const control = new Redis({
    host: r.host,
    port: r.port,
    username: 'control-user',
    password: 'wrong',
    retryStrategy: (times: number) => Math.min(times * 50, 500),
  });
  control.on('error', () => undefined);
  try {
    await waitFor(async () => (await authFailures('control-user')) >= 3, 5000);
  } finally {
    control.disconnect();
  }
  const later = (await authFailures(USER)) - attempts;
  console.log(
    `    wrong password: StoreAuthError after ${took.toFixed(0)} ms, ${attempts} failed AUTHs; ${later} more while a control client retried 3 times`,
  );
  assert.ok(took < 1000, `${took} ms`);
  assert.ok(attempts >= 1 && attempts <= 4 * 2, `at most one retry per connection, saw ${attempts}`);
  assert.is(later, 0, 'no reconnects after the failure');
});

test('credentials revoked while running: calls reject StoreAuthError (never "not found"), reconnects stay slow', async () => {
  await r.admin.call('ACL', 'SETUSER', 'temp', 'reset', 'on', '>temp-pass', ...aclRules());
  const store = await RedisSessionStore.connect({
    url: r.url,
    username: 'temp',
    password: 'temp-pass',
    metrics: false,
    commandTimeout: 500,
    // One connection: the bound below is on one connection's reconnects.
    maxConnections: 1,
  });
  try {
    const s = await store.createSession({ id: 'revoked', username: 'r' });
    const connections = async () => Number(/total_connections_received:(\d+)/.exec(await r.admin.info('stats'))![1]);
    await r.admin.call('ACL', 'SETUSER', 'temp', 'resetpass', '>rotated');
    await r.admin.call('CLIENT', 'KILL', 'USER', 'temp');
    const before = await connections();
    const errors: string[] = [];
    const until = performance.now() + 2000;
    while (performance.now() < until) {
      const got = await store.getSession(s.token).then(
        () => 'resolved',
        (e: { code?: string }) => e.code ?? 'untyped',
      );
      errors.push(got);
      await new Promise((done) => setTimeout(done, 50));
    }
    const reconnects = (await connections()) - before;
    console.log(
      `    revoked password: ${errors.length} calls in 2 s, ${reconnects} reconnect attempts; outcomes ${[...new Set(errors)].join(',')}`,
    );
    assert.not.ok(errors.includes('resolved'), 'never answered as if Redis were fine');
    assert.ok(
      errors.every((e) => e.startsWith('STORE_')),
      errors.join(','),
    );
    assert.ok(errors.includes('STORE_AUTH'), 'the cause is named');
    assert.ok(reconnects <= 10, `${reconnects} reconnects in 2 s`);
    // Credentials restored: the same store recovers.
    await r.admin.call('ACL', 'SETUSER', 'temp', 'resetpass', '>temp-pass');
    await waitFor(async () => (await store.getSession(s.token))?.id === s.id, 5000, 50);
  } finally {
    await store.close();
  }
});

test('the express adapter as its ACL user (expressAclRules): every method with the cache; without the cache rules only the cache is refused', async () => {
  const EXPRESS_USER = 'express-sessions';
  await r.admin.call(
    'ACL',
    'SETUSER',
    EXPRESS_USER,
    'reset',
    'on',
    `>${PASSWORD}`,
    ...expressAclRules(['sess:'], { cache: true }),
  );
  await r.admin.call('ACL', 'SETUSER', 'express-nocache', 'reset', 'on', `>${PASSWORD}`, ...expressAclRules());
  const client = new Redis(r.url, { username: EXPRESS_USER, password: PASSWORD });
  const plain = new Redis(r.url, { username: 'express-nocache', password: PASSWORD });
  const store = new ExpressSessionStore({
    client,
    cache: true,
    userId: (s) => (s as { user?: string }).user,
    metrics: false,
  });
  const uncached = new ExpressSessionStore({ client: plain, cache: true, metrics: false });
  const day = 86_400_000;
  const sess = (n: number): SessionData =>
    ({
      cookie: { originalMaxAge: day, expires: new Date(Date.now() + day), httpOnly: true, path: '/' },
      user: 'ann',
      n,
    }) as SessionData;
  try {
    await store.ready();
    await store.set('acl-sid', sess(1));
    await waitFor(
      async () => {
        const before = await commandCount(r.admin);
        const found = await store.get('acl-sid');
        return found !== null && (await commandCount(r.admin)) === before;
      },
      5000,
      5,
    );
    await store.touch('acl-sid', sess(1));
    assert.is(await store.length(), 1);
    assert.equal(await store.ids(), ['acl-sid']);
    assert.is(await store.countUserSessions('ann'), 1);
    assert.is((await store.listUserSessions('ann')).length, 1);
    await store.set('acl-sid-2', sess(2));
    assert.is(await store.destroyUserSessions('ann', { except: 'acl-sid' }), 1);
    await store.destroy('acl-sid');
    assert.is(await store.get('acl-sid'), null);
    assert.is(await store.set('acl-sid', sess(3)), false, 'the tombstone refuses it');
    await store.clear();
    // Refused: another key, an administrative command.
    for (const refused of [client.get('session:x'), client.call('FLUSHALL'), client.call('KEYS', '*')]) {
      const e = await refused.then(
        () => null,
        (x: Error) => x,
      );
      assert.match(String(e?.message), /NOPERM/);
    }
    // Without the cache's rules, the cache cannot open (a typed error), and reads still work uncached.
    const err = await uncached.ready().then(
      () => null,
      (e: unknown) => classifyError(e),
    );
    assert.instance(err, StoreAuthError);
    await uncached.set('plain-sid', sess(1));
    assert.is(((await uncached.get('plain-sid')) as { n?: number } | null)?.n, 1);
  } finally {
    store.close();
    uncached.close();
    client.disconnect();
    plain.disconnect();
  }
});

test.after(async () => {
  await r?.stop();
});

test.run();
