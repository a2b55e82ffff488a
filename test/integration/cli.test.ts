import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { aclRules, RedisSessionStore } from '../../src/index.js';
import { tokenRef } from '../../src/reader.js';
import { freeServerPort } from '../../tools/redis-server.js';
import { cli, cliOnTerminal } from '../helpers/cli.js';
import { commandCount, useRedis, waitFor } from '../helpers/redis.js';

// The command line end to end: its real entry point in a child process, against a real Redis.
const test = suite('command line (redis-session-store)');
const redis = useRedis(test);
let store: RedisSessionStore;
test.before(async () => {
  store = await RedisSessionStore.connect({ url: redis().url, metrics: false });
});
test.after(async () => {
  await store?.close();
});
const env = () => ({ REDIS_URL: redis().url, SESSION_KEY_PREFIX: undefined });

test('acl prints the ACL SETUSER line (and --json), without touching Redis', async () => {
  const text = await cli(['acl', '--prefix', 'app:', '--prefix', 'b:', '--user', 'web'], {
    REDIS_URL: 'redis://127.0.0.1:1',
  });
  assert.is(text.code, 0);
  assert.match(text.stdout, /^ACL SETUSER web reset on ><password> resetkeys ~app:\* ~b:\* resetchannels -@all /);
  const json = await cli(['acl', '--cache', '--json'], { REDIS_URL: 'redis://127.0.0.1:1' });
  const parsed = JSON.parse(json.stdout) as { user: string; rules: string[] };
  assert.is(parsed.user, 'sessions');
  assert.ok(parsed.rules.includes('&__redis__:invalidate') && parsed.rules.includes('+client|tracking'));
  const express = await cli(['acl', '--express', '--cache'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.match(
    express.stdout,
    /resetkeys ~sess:\* ~\{sess:\*\}:destroyed ~\{\*\}:sess:by-user resetchannels &__redis__:invalidate -@all /,
  );
  assert.match(express.stdout, / \+pexpiretime/);
});

test('bad arguments: exit 2 with a clear message, before any I/O', async () => {
  const before = await commandCount(redis().admin);
  for (const args of [
    ['bogus'],
    [],
    ['user'],
    ['user', 'a', 'b'],
    ['stats', '--sample', '0'],
    ['check', '--no-such-flag'],
    ['revoke', 'ann', '--session', 'x', '--except', 'y'],
    ['acl', '--user', 'a b'],
  ]) {
    const r = await cli(args, env());
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}`);
    assert.match(r.stderr, /redis-session-store: |Usage:/);
    assert.not.match(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.is(await commandCount(redis().admin), before, 'nothing reached Redis');
});

test('Redis unreachable: exit 3, one line', async () => {
  const port = await freeServerPort();
  for (const command of [['check'], ['stats'], ['user', 'ann']]) {
    const r = await cli([...command, '--url', `redis://127.0.0.1:${port}`], {});
    assert.is(r.code, 3, `${command[0]}: exit ${r.code}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /Redis unreachable/);
  }
});

test('check: verdicts with fixes; an evicting policy fails (exit 1)', async () => {
  const ok = await cli(['check', '--json'], env());
  assert.is(ok.code, 0, ok.stderr);
  const checks = (JSON.parse(ok.stdout) as { checks: { name: string; verdict: string; fix?: string }[] }).checks;
  assert.equal(
    checks.map((c) => c.name),
    ['version', 'eviction', 'persistence', 'scripts', 'acl'],
  );
  assert.ok(
    checks.every((c) => c.verdict === 'ok' || typeof c.fix === 'string'),
    'every warning says what to do',
  );
  await redis().admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
  try {
    const bad = await cli(['check'], env());
    assert.is(bad.code, 1);
    assert.match(bad.stdout, /FAIL {2}eviction: allkeys-lru/);
    assert.match(bad.stdout, /fix: CONFIG SET maxmemory-policy noeviction/);
  } finally {
    await redis().admin.config('SET', 'maxmemory-policy', 'noeviction');
  }
});

test("check compares the connected user's rules with aclRules() when it may read them", async () => {
  const admin = redis().admin;
  const url = (user: string) => `redis://${user}:pw@${redis().host}:${redis().port}`;
  const aclOf = async (user: string) => {
    const r = await cli(['check', '--json', '--url', url(user)], {});
    return (JSON.parse(r.stdout) as { checks: { name: string; verdict: string; detail: string }[] }).checks.find(
      (c) => c.name === 'acl',
    )!;
  };
  await admin.call('ACL', 'SETUSER', 'least', 'reset', 'on', '>pw', ...aclRules());
  await admin.call('ACL', 'SETUSER', 'reader', 'reset', 'on', '>pw', ...aclRules(), '+acl|getuser', '+acl|whoami');
  await admin.call(
    'ACL',
    'SETUSER',
    'short',
    'reset',
    'on',
    '>pw',
    ...aclRules(),
    '-hlen',
    '+acl|getuser',
    '+acl|whoami',
  );
  await admin.call('ACL', 'SETUSER', 'broad', 'reset', 'on', '>pw', '~*', '&*', '+@all');
  assert.match((await aclOf('least')).detail, /may not read its own rules/);
  assert.equal(await aclOf('reader'), { name: 'acl', verdict: 'ok', detail: 'user reader has what aclRules() grants' });
  const short = await aclOf('short');
  assert.is(short.verdict, 'fail');
  assert.match(short.detail, /lacks \+hlen/);
  const broad = await aclOf('broad');
  assert.is(broad.verdict, 'warn');
  assert.match(broad.detail, /\+@all/);
});

test('stats: sessions, users, expired entries and bytes per session; --sample estimates', async () => {
  const first = await store.createSession({ id: 'u0', username: 'u' });
  for (let i = 1; i < 5; i++) await store.createSession({ id: `u${i % 3}`, username: 'u' });
  await store.createSession({ id: 'u0', username: 'u' }, { ttl: 1 });
  // What one stored value holds, read from Redis: a session costs at least that much memory.
  const ref = tokenRef(store.options.keyPrefix, first.token)!;
  const valueBytes = await redis().admin.hstrlen(ref.key, ref.id);
  await waitFor(async () => (await store.countUserSessions('u0')) === 2, 5000, 50);
  await redis().admin.set('unrelated', 'x');
  const r = await cli(['stats', '--json'], env());
  assert.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal([s.sessions, s.users, s.expiredUnpruned, s.estimated], [5, 3, 1, false]);
  assert.ok(valueBytes > 50, `value ${valueBytes}`);
  assert.ok(
    Number(s.bytesPerSession) > valueBytes && Number(s.bytesPerSession) < 2000,
    `bytes ${String(s.bytesPerSession)}, value ${valueBytes}`,
  );
  const text = await cli(['stats'], env());
  assert.match(text.stdout, /sessions {10}5\nusers {13}3\nexpired, unpruned 1/);
  // KEYS is never used.
  assert.not.match(await redis().admin.info('commandstats'), /cmdstat_keys:/);
});

test('user: live sessions by public id, never a token; unknown user exits 1', async () => {
  const a = await store.createSession({ id: 'ann', username: 'ann' }, { metadata: { device: 'phone' } });
  const b = await store.createSession({ id: 'ann', username: 'ann' });
  const r = await cli(['user', 'ann'], env());
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^id +created +last access +expires +metadata/);
  assert.ok(r.stdout.includes(a.id) && r.stdout.includes(b.id));
  assert.ok(r.stdout.includes('{"device":"phone"}'));
  const json = JSON.parse((await cli(['user', 'ann', '--json'], env())).stdout) as { id: string }[];
  assert.equal(json.map((s) => s.id).sort(), [a.id, b.id].sort());
  for (const out of [r.stdout, JSON.stringify(json)]) {
    assert.not.ok(out.includes(a.token.slice(23)) || out.includes(b.token.slice(23)), 'no token');
  }
  const none = await cli(['user', 'nobody'], env());
  assert.is(none.code, 1);
});

test('a session id that starts with "-" (base64url, 1 in 64) is the value of --session and --except', async () => {
  const dashed = async () => {
    for (;;) {
      const s = await store.createSession({ id: 'dana', username: 'dana' });
      if (s.id.startsWith('-')) return s;
      await store.destroySession(s.token);
    }
  };
  const [keep, gone] = [await dashed(), await dashed()];
  const other = await store.createSession({ id: 'dana', username: 'dana' });
  const except = await cli(['revoke', 'dana', '--except', keep.id, '--yes', '--json'], env());
  assert.is(except.code, 0, except.stderr);
  assert.equal((JSON.parse(except.stdout) as { destroyed: string[] }).destroyed.sort(), [gone.id, other.id].sort());
  assert.ok(await store.getSession(keep.token), 'the excepted session lives');
  assert.is(await store.getSession(gone.token), null);
  assert.is(await store.getSession(other.token), null);
  const single = await cli(['revoke', 'dana', '--session', keep.id, '--yes', '--json'], env());
  assert.is(single.code, 0, single.stderr);
  assert.equal(JSON.parse(single.stdout), { destroyed: [keep.id] });
  assert.is(await store.getSession(keep.token), null);
});

test('revoke: all but one (--except), or one (--session), through the store; --yes or a terminal prompt', async () => {
  const sessions = await Promise.all([1, 2, 3].map(() => store.createSession({ id: 'bob', username: 'bob' })));
  const [keep, one, two] = sessions;
  // Without a terminal (a script), it acts without asking.
  const single = await cli(['revoke', 'bob', '--session', one!.id, '--json'], env());
  assert.is(single.code, 0, single.stderr);
  assert.equal(JSON.parse(single.stdout), { destroyed: [one!.id] });
  assert.is(await store.getSession(one!.token), null);
  // On a terminal it asks; "n" does nothing.
  const declined = await cliOnTerminal(['revoke', 'bob', '--except', keep!.id], env(), 'n\n');
  assert.match(declined.stdout, /End session .* of this user\? \[y\/N\]/);
  assert.match(declined.stdout, /nothing done/);
  assert.is(declined.code, 1);
  assert.ok(await store.getSession(two!.token));
  const confirmed = await cliOnTerminal(['revoke', 'bob', '--except', keep!.id], env(), 'y\n');
  assert.is(confirmed.code, 0, confirmed.stdout);
  assert.match(confirmed.stdout, new RegExp(`ended:\\r?\\n${two!.id}`));
  assert.is(await store.getSession(two!.token), null);
  assert.ok(await store.getSession(keep!.token), 'the excepted session lives');
  // --yes skips the question on a terminal.
  const yes = await cliOnTerminal(['revoke', 'bob', '--yes'], env(), '');
  assert.is(yes.code, 0, yes.stdout);
  assert.not.match(yes.stdout, /\[y\/N\]/);
  assert.is(await store.countUserSessions('bob'), 0);
  const nothing = await cli(['revoke', 'bob'], env());
  assert.is(nothing.code, 1);
});

test.run();
