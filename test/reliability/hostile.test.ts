import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CorruptSessionError, InvalidInputError, type RedisSessionStore } from '../../src/index.js';
import { SOAK } from '../helpers/mixed-load.js';
import { commandCount, dumpAll, startRedis, type TestRedis } from '../helpers/redis.js';
import { openStore } from '../helpers/store.js';

const test = suite('hostile input and isolation');
let r: TestRedis;
let store: RedisSessionStore;
const registry = new Registry();
const logged: string[] = [];

test.before(async () => {
  r = await startRedis();
  store = await openStore(r, { metrics: { registry }, logger: { warn: (m) => logged.push(m) } });
});
test.after(async () => {
  await store?.close();
  await r?.stop();
});

const cyclic: Record<string, unknown> = { id: 'c', username: 'c' };
cyclic.self = cyclic;
const bads: unknown[] = [
  '',
  ' ',
  '*',
  '?',
  '[a]',
  '{x}',
  '\r\n',
  'a\0b',
  'x'.repeat(10_240),
  'user\uD800',
  42,
  NaN,
  Infinity,
  null,
  undefined,
  {},
  ['x', '999999999'],
  Buffer.from('x'),
  10n,
  cyclic,
  JSON.parse('{"__proto__":{"isAdmin":true}}'),
];

test('every bad id, user id, TTL and metadata: typed error or not found, 0 commands, DBSIZE unchanged, prototype untouched', async () => {
  const live = await store.createSession({ id: 'victim', username: 'v' });
  const size = await r.admin.dbsize();
  const calls = await commandCount(r.admin);
  let typed = 0;
  let notFound = 0;
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      const v = await fn();
      assert.ok(v === null || v === false || (Array.isArray(v) && v.every((x) => x === null)), `resolved ${String(v)}`);
      notFound++;
    } catch (err) {
      assert.instance(err, InvalidInputError, `${String(err)} from ${fn.toString()}`);
      typed++;
    }
  };
  const isString = (v: unknown): v is string => typeof v === 'string';
  const badUserIds = bads.filter(
    (v) => !isString(v) || v === '' || /[\r\n\0]/.test(v) || v.length > 256 || !v.isWellFormed(),
  );
  const badTtls = bads.filter((v) => v !== undefined && !(Number.isSafeInteger(v) && (v as number) >= 1));
  const badMetadataValues = bads.filter((v) => !isString(v) || !v.isWellFormed());
  // Values JSON would drop or alter, or that would pollute a prototype.
  const badJson = bads.filter(
    (v) =>
      v === undefined ||
      typeof v === 'bigint' ||
      (typeof v === 'number' && !Number.isFinite(v)) ||
      Buffer.isBuffer(v) ||
      v === cyclic ||
      (typeof v === 'object' && v !== null && Object.prototype.hasOwnProperty.call(v, '__proto__')) ||
      (isString(v) && !v.isWellFormed()),
  );
  for (const bad of bads) {
    const s = bad as string;
    await attempt(() => store.getSession(s));
    await attempt(() => store.getSessions([s]));
    await attempt(() => store.refreshSession(s));
    await attempt(() => store.destroySession(s));
    await attempt(() => store.getSessionTtl(s));
    await attempt(() => store.rotateSession(s));
    await attempt(() => store.updateSessionMetadata(s, { a: 'b' }));
    await attempt(() => store.revokeSession('victim', s));
    // (except: undefined means "keep none": a valid call, not hostile input)
    if (bad !== undefined) await attempt(() => store.destroyUserSessions('victim', { except: s }));
  }
  for (const bad of badUserIds) {
    await attempt(() => store.countUserSessions(bad as string));
    await attempt(() => store.listUserSessions(bad as string));
    await attempt(() => store.destroyUserSessions(bad as string));
    await attempt(() => store.createSession({ id: bad as string, username: 'x' }));
  }
  for (const bad of badTtls) {
    await attempt(() => store.refreshSession(live.token, bad as number));
    await attempt(() => store.createSession({ id: 'x', username: 'x' }, { ttl: bad as number }));
  }
  for (const bad of badMetadataValues) {
    await attempt(() => store.createSession({ id: 'x', username: 'x' }, { metadata: { k: bad as string } }));
    // (null in a patch removes a key: valid)
    if (bad !== null) await attempt(() => store.updateSessionMetadata(live.token, { k: bad as string }));
  }
  for (const bad of badJson) await attempt(() => store.createSession({ id: 'x', username: 'x', extra: bad } as never));
  // One byte over the metadata limit (keys plus values) is refused before any I/O.
  const limit = store.options.maxMetadataBytes;
  await attempt(() => store.updateSessionMetadata(live.token, { k: 'x'.repeat(limit) }));
  await attempt(() => store.createSession({ id: 'x', username: 'x' }, { metadata: { k: 'x'.repeat(limit) } }));
  const commands = (await commandCount(r.admin)) - calls;
  console.log(
    `    ${typed + notFound} hostile calls: ${typed} typed errors, ${notFound} not found, ${commands} commands sent`,
  );
  assert.is(commands, 0);
  assert.is(await r.admin.dbsize(), size);
  assert.is(({} as Record<string, unknown>).isAdmin, undefined);
  // At the limit exactly is accepted.
  assert.ok(await store.updateSessionMetadata(live.token, { k: 'x'.repeat(limit - 1) }));
  assert.ok(await store.getSession(live.token));
});

test('NFC and NFD forms of a user id are two users (ids compare as bytes)', async () => {
  const nfc = await store.createSession({ id: 'jos\u00e9', username: 'a' });
  const nfd = await store.createSession({ id: 'jose\u0301', username: 'b' });
  assert.is.not(nfc.token.slice(0, 22), nfd.token.slice(0, 22));
  assert.is(await store.countUserSessions('jos\u00e9'), 1);
  assert.is(await store.countUserSessions('jose\u0301'), 1);
});

test('random well-formed tokens never issued: all not found, nothing created', async () => {
  const n = SOAK ? 1_000_000 : 100_000;
  const size = await r.admin.dbsize();
  let found = 0;
  for (let i = 0; i < n; i += 1000) {
    const batch = Array.from(
      { length: 1000 },
      () => `${randomBytes(17).toString('base64url').slice(0, 22)}.${randomBytes(32).toString('base64url')}`,
    );
    found += (await store.getSessions(batch)).filter(Boolean).length;
  }
  console.log(`    ${n.toLocaleString('en')} forged tokens: ${found} found`);
  assert.is(found, 0);
  assert.is(await r.admin.dbsize(), size);
});

test('1,000 users x 5 sessions, revoke with swapped (user, session id) pairs: 0 cross-user effects', async () => {
  const users = 1000;
  const made = await Promise.all(
    Array.from({ length: users }, (_, u) =>
      Promise.all(Array.from({ length: 5 }, () => store.createSession({ id: `iso-${u}`, username: 'x' }))),
    ),
  );
  let crossRevoked = 0;
  await Promise.all(
    made.map(async (_sessions, u) => {
      const other = made[(u + 1) % users]!;
      for (const s of other) if (await store.revokeSession(`iso-${u}`, s.id)) crossRevoked++;
    }),
  );
  const alive = (await store.getSessions(made.flat().map((s) => s.token))).filter(Boolean).length;
  console.log(`    ${users * 5} swapped revokes: ${crossRevoked} took effect, ${alive} of ${users * 5} sessions alive`);
  assert.is(crossRevoked, 0);
  assert.is(alive, users * 5);
});

test('corrupt data planted with redis-cli: typed error or not found, never a partial session, process stays up', async () => {
  const cli = (...args: string[]) => promisify(execFile)('redis-cli', ['-h', r.host, '-p', String(r.port), ...args]);
  // Each case names whether getSession may still answer with a whole session: only invalid
  // UTF-8 parses (as U+FFFD). No case may read as "no session": that would drop it silently.
  const cases: [string, (data: string, id: string) => Promise<unknown>, 'corrupt' | 'whole or corrupt'][] = [
    [
      'a list at the user key',
      async (d) => {
        await cli('DEL', d);
        await cli('RPUSH', d, 'x');
      },
      'corrupt',
    ],
    [
      'a string at the user key',
      async (d) => {
        await cli('DEL', d);
        await cli('SET', d, 'x');
      },
      'corrupt',
    ],
    ['invalid JSON', (d, id) => cli('HSET', d, id, '1|9999999999999|1|1|60|0|{not json\n{}'), 'corrupt'],
    ['missing fields', (d, id) => cli('HSET', d, id, '1|9999999999999|1|1|60|0|{}\n{"id":"x"}'), 'corrupt'],
    [
      'invalid UTF-8',
      (d, id) =>
        cli(
          'EVAL',
          `redis.call('HSET', KEYS[1], ARGV[1], '1|9999999999999|1|1|60|0|{"a":"\\255\\254"}\\n{"id":"u","username":"\\255"}') return 1`,
          '1',
          d,
          id,
        ),
      'whole or corrupt',
    ],
    ['a truncated header', (d, id) => cli('HSET', d, id, '1|99'), 'corrupt'],
  ];
  for (const [name, plant, expected] of cases) {
    const s = await store.createSession({ id: `corrupt-${name}`, username: 'x' });
    const key = `session:{${s.token.slice(0, 22)}}:d`;
    await plant(key, s.id);
    const whole = (v: unknown) => {
      const session = v as { user?: { id?: unknown; username?: unknown } } | null;
      return typeof session?.user?.id === 'string' && typeof session.user.username === 'string';
    };
    try {
      const got = await store.getSession(s.token);
      assert.ok(expected === 'whole or corrupt' && whole(got), `${name}: getSession answered ${JSON.stringify(got)}`);
    } catch (err) {
      assert.instance(err, CorruptSessionError, `${name}: ${String(err)}`);
    }
    for (const call of [
      () => store.listUserSessions(s.userId),
      () => store.refreshSession(s.token),
      () => store.countUserSessions(s.userId),
    ]) {
      try {
        const v = await call();
        if (Array.isArray(v)) for (const x of v) assert.ok(whole(x), `${name}: partial session`);
      } catch (err) {
        assert.instance(err, CorruptSessionError, `${name}: ${String(err)}`);
      }
    }
    const destroyed = await store.destroyUserSessions(s.userId);
    assert.ok(Number.isSafeInteger(destroyed) && destroyed <= 1, `${name}: destroyed ${destroyed}`);
    assert.is(await r.admin.exists(key), 0, `${name}: log out everywhere still clears the key`);
    assert.is(await store.countUserSessions(s.userId), 0, `${name}: nothing left`);
  }
  assert.ok((await store.healthCheck()).healthy);
});

test('secret hygiene: after many operations no token is in Redis, errors, logs or /metrics', async () => {
  const ops = SOAK ? 100_000 : 20_000;
  const tokens: string[] = [];
  const messages: string[] = [];
  for (let i = 0; i < ops; i += 4) {
    const s = await store.createSession({ id: `h-${i % 500}`, username: 'h' });
    tokens.push(s.token);
    await store.getSession(s.token);
    if (i % 8 === 0) tokens.push((await store.rotateSession(s.token))!.token);
    await store.updateSessionMetadata(s.token, { k: 'v' }).catch((e: Error) => messages.push(e.message));
    await store.refreshSession(s.token, -1).catch((e: Error) => messages.push(e.message, String(e.stack)));
  }
  const stored = await dumpAll(r.admin);
  const haystacks = [stored, messages.join('\n'), logged.join('\n'), await registry.metrics()];
  let leaks = 0;
  for (const t of tokens) for (const h of haystacks) if (h.includes(t) || h.includes(t.slice(23))) leaks++;
  console.log(
    `    ${ops.toLocaleString('en')} operations, ${tokens.length} tokens issued, ${(await r.admin.dbsize()).toLocaleString('en')} keys scanned: ${leaks} leaks`,
  );
  assert.is(leaks, 0);
});

test.run();
