import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { luaScripts, type ScriptName } from '../../src/lua.generated.js';
import { useRedis } from '../helpers/redis.js';

// Each script called directly with EVAL on planted data: every documented reply is reached.
const test = suite('lua scripts');
const redis = useRedis(test);
const D = 'p{t}:d';
const X = 'p{t}:x';
const USER = '{"id":"u","username":"n"}';

const run = (name: ScriptName, keys: string[], ...args: (string | number)[]) =>
  redis().admin.eval(luaScripts[name].body, keys.length, ...keys, ...args.map(String));
const both = [D, X];
const value = (exp: number, created: number, access: number, ttl: number, deadline: number, meta = '{}') =>
  `1|${exp}|${created}|${access}|${ttl}|${deadline}|${meta}\n${USER}`;
async function now(): Promise<number> {
  const [s, us] = (await redis().admin.time()) as unknown as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
/** Plants a session expiring at `expiresAt` (header and index agree, as the scripts keep them). */
async function plant(sid: string, v: string | ((exp: number) => string), expiresAt: number) {
  await redis().admin.hset(D, sid, typeof v === 'string' ? v : v(expiresAt));
  await redis().admin.zadd(X, expiresAt, sid);
}
const expOf = (v: string) => Number(v.split('|')[1]);
const live =
  (created: number, access: number, ttl: number, deadline: number, meta = '{}') =>
  (exp: number) =>
    value(exp, created, access, ttl, deadline, meta);

test('createSession: stores value and expiry, keys expire with the last session', async () => {
  const t0 = await now();
  const [v] = (await run('createSession', both, 's1', 60, 0, 0, '{"a":"b"}', USER)) as [string];
  assert.match(v, /^1\|\d+\|\d+\|\d+\|60\|0\|\{"a":"b"\}\n/);
  const exp = expOf(v);
  assert.ok(exp >= t0 + 60_000 && exp <= t0 + 61_000);
  assert.is(Number(await redis().admin.zscore(X, 's1')), exp);
  assert.is(await redis().admin.pexpiretime(D), exp);
  assert.is(await redis().admin.pexpiretime(X), exp);
  // A shorter session later does not shorten the keys' TTL (the mixed-TTL revocation bug).
  await run('createSession', both, 's2', 5, 0, 0, '{}', USER);
  assert.is(await redis().admin.pexpiretime(X), exp);
});

test('createSession: absolute TTL clamps the expiry', async () => {
  const t0 = await now();
  const [v] = (await run('createSession', both, 's1', 600, 10, 0, '{}', USER)) as [string];
  const deadline = Number(v.split('|')[5]);
  assert.is(expOf(v), deadline);
  assert.ok(deadline >= t0 + 10_000 && deadline <= t0 + 11_000);
});

test('createSession: an existing live id is returned unchanged (idempotent re-send)', async () => {
  const t = await now();
  await plant('s1', live(1, 2, 60, 0), t + 50_000);
  const reply = (await run('createSession', both, 's1', 60, 0, 0, '{"x":"y"}', USER)) as [string];
  assert.equal(reply, [value(t + 50_000, 1, 2, 60, 0)]);
});

test('createSession: prunes expired sessions of the user', async () => {
  const t = await now();
  await plant('old', live(1, 1, 1, 0), t - 1);
  await run('createSession', both, 's1', 60, 0, 0, '{}', USER);
  assert.is(await redis().admin.hexists(D, 'old'), 0);
  assert.equal(await redis().admin.zrange(X, '0', '-1'), ['s1']);
});

test('createSession: at the cap evicts least recently used (malformed first) and names them', async () => {
  const t = await now();
  await plant('a', live(1, t - 5000, 60, 0), t + 90_000);
  await plant('b', live(1, t - 9000, 60, 0), t + 99_000);
  await plant('c', live(1, t - 1000, 60, 0), t + 80_000);
  await plant('bad', 'garbage', t + 70_000);
  const reply = (await run('createSession', both, 'new', 60, 0, 3, '{}', USER)) as string[];
  assert.equal(reply.slice(1), ['bad', 'b']);
  assert.equal((await redis().admin.zrange(X, '0', '-1')).sort(), ['a', 'c', 'new']);
  assert.equal((await redis().admin.hkeys(D)).sort(), ['a', 'c', 'new']);
});

test('getSession: nil when absent, expired, or index entry without value', async () => {
  const t = await now();
  assert.is(await run('getSession', both, 'none', -1), null);
  await plant('exp', live(1, 1, 60, 0), t - 1);
  assert.is(await run('getSession', both, 'exp', -1), null);
  await redis().admin.zadd(X, t + 60_000, 'orphan');
  assert.is(await run('getSession', both, 'orphan', -1), null);
  // The header's expiry decides, one HGET: an expired header reads as absent whatever the index says.
  await redis().admin.hset(D, 'stale', value(t - 1, 1, 1, 60, 0));
  await redis().admin.zadd(X, t + 60_000, 'stale');
  assert.is(await run('getSession', both, 'stale', -1), null);
});

test('getSession: not rolling never writes; rolling writes only after touchAfter', async () => {
  const t = await now();
  const v = value(t + 1000, 1, t - 10_000, 60, 0);
  await plant('s', v, t + 1000);
  assert.is(await run('getSession', both, 's', -1), v);
  assert.is(await redis().admin.hget(D, 's'), v);
  // Accessed 10 s ago, touchAfter 60 s: no write.
  assert.is(await run('getSession', both, 's', 60_000), v);
  assert.is(await redis().admin.hget(D, 's'), v);
  // touchAfter 5 s: slides expiry to now + 60 s and records the access.
  const nv = (await run('getSession', both, 's', 5000)) as string;
  const exp = expOf(nv);
  assert.ok(exp >= t + 60_000, 'slid');
  assert.is(Number(await redis().admin.zscore(X, 's')), exp, 'index score follows the header');
  assert.ok(Number(nv.split('|')[3]) >= t);
  assert.is(await redis().admin.pexpiretime(D), exp);
});

test("getSession: a rolling write also prunes the user's expired sessions; a read-only one does not", async () => {
  const t = await now();
  await plant('s', live(1, t - 10_000, 60, 0), t + 1000);
  await plant('dead', live(1, 1, 60, 0), t - 1);
  await run('getSession', both, 's', -1);
  assert.is(await redis().admin.hexists(D, 'dead'), 1);
  await run('getSession', both, 's', 0);
  assert.is(await redis().admin.hexists(D, 'dead'), 0);
  assert.is(await redis().admin.zscore(X, 'dead'), null);
});

test('getSession: rolling never passes the absolute deadline; malformed values come back untouched', async () => {
  const t = await now();
  await plant('s', live(1, t - 10_000, 60, t + 2000), t + 1000);
  assert.is(expOf((await run('getSession', both, 's', 0)) as string), t + 2000);
  await plant('bad', 'not a value', t + 5000);
  assert.is(await run('getSession', both, 'bad', 0), 'not a value');
});

test('refreshSession: 0 absent, -1 malformed, new expiry otherwise (clamped, ttl stored)', async () => {
  const t = await now();
  assert.is(await run('refreshSession', both, 'none', 0), 0);
  await plant('bad', 'x', t + 5000);
  assert.is(await run('refreshSession', both, 'bad', 0), -1);
  await plant('s', live(1, 1, 60, 0), t + 1000);
  const exp = (await run('refreshSession', both, 's', 0)) as number;
  assert.ok(exp >= t + 60_000 && exp < t + 61_000);
  const exp2 = (await run('refreshSession', both, 's', 5)) as number;
  assert.ok(exp2 < t + 6000, 'explicit ttl may shorten');
  assert.is((await redis().admin.hget(D, 's'))!.split('|')[4], '5');
  assert.is(expOf((await redis().admin.hget(D, 's'))!), exp2, 'header and index agree');
  assert.is(Number(await redis().admin.zscore(X, 's')), exp2);
  await plant('cap', live(1, 1, 60, t + 3000), t + 1000);
  assert.is(await run('refreshSession', both, 'cap', 600), t + 3000);
  await plant('exp', live(1, 1, 60, 0), t - 1);
  assert.is(await run('refreshSession', both, 'exp', 60), 0);
  assert.is(Number(await redis().admin.zscore(X, 'exp')), t - 1, 'never resurrected');
});

test('destroySession: 1 live, 0 absent or expired; the last one takes the keys with it', async () => {
  const t = await now();
  await plant('s', live(1, 1, 60, 0), t + 60_000);
  await plant('exp', live(1, 1, 60, 0), t - 1);
  assert.is(await run('destroySession', both, 'exp'), 0);
  assert.is(await run('destroySession', both, 'none'), 0);
  assert.is(await run('destroySession', both, 's'), 1);
  assert.is(await redis().admin.exists(D, X), 0);
});

test('updateSessionMetadata: 1 patched, 0 absent, -1 over the limit, -2 malformed', async () => {
  const t = await now();
  assert.is(await run('updateSessionMetadata', both, 'none', '{"a":"b"}', 100), 0);
  await plant('s', live(1, 1, 60, 0, '{"keep":"1","drop":"2"}'), t + 60_000);
  assert.is(await run('updateSessionMetadata', both, 's', '{"drop":null,"new":"a/é"}', 100), 1);
  const meta = JSON.parse((await redis().admin.hget(D, 's'))!.split('|')[6]!.split('\n')[0]!);
  assert.equal(meta, { keep: '1', new: 'a/é' });
  // keep(4)+1 + new(3)+4 = 12 bytes; a 10-byte limit refuses and writes nothing.
  const before = await redis().admin.hget(D, 's');
  assert.is(await run('updateSessionMetadata', both, 's', '{"x":"y"}', 10), -1);
  assert.is(await redis().admin.hget(D, 's'), before);
  await plant('bad', 'x', t + 60_000);
  assert.is(await run('updateSessionMetadata', both, 'bad', '{}', 100), -2);
  await plant('badjson', live(1, 1, 60, 0, '{oops'), t + 60_000);
  assert.is(await run('updateSessionMetadata', both, 'badjson', '{}', 100), -2);
  await plant('nosep', `1|${t + 60_000}|1|1|60|0|{}`, t + 60_000);
  assert.is(await run('updateSessionMetadata', both, 'nosep', '{}', 100), -2);
  // Removing the last key leaves an empty object.
  assert.is(await run('updateSessionMetadata', both, 's', '{"keep":null,"new":null}', 100), 1);
  assert.is((await redis().admin.hget(D, 's'))!.split('|')[6]!.split('\n')[0], '{}');
});

test('getSessionTtl: ms left, -2 when not live, -3 when malformed', async () => {
  const t = await now();
  await plant('s', live(1, 1, 60, 0), t + 30_000);
  const ms = (await run('getSessionTtl', both, 's')) as number;
  assert.ok(ms > 29_000 && ms <= 30_000);
  assert.is(await run('getSessionTtl', both, 'none'), -2);
  await plant('bad', 'x', t + 30_000);
  assert.is(await run('getSessionTtl', both, 'bad'), -3);
});

test('rotateSession: moves the session, nil when not live, idempotent when the new id exists', async () => {
  const t = await now();
  await plant('old', live(7, 1, 60, 0, '{"m":"v"}'), t + 30_000);
  const v = (await run('rotateSession', both, 'old', 'new')) as string;
  assert.is(expOf(v), t + 30_000);
  assert.is(Number(await redis().admin.zscore(X, 'new')), t + 30_000);
  assert.is(v.split('|')[2], '7');
  assert.match(v, /\{"m":"v"\}/);
  assert.is(await redis().admin.hexists(D, 'old'), 0);
  assert.is(await redis().admin.zscore(X, 'old'), null);
  assert.is(await run('rotateSession', both, 'old', 'new'), v);
  assert.is(await run('rotateSession', both, 'old', 'other'), null);
  await plant('bad', 'x', t + 30_000);
  assert.is(await run('rotateSession', both, 'bad', 'moved'), 'x', 'a malformed value is not moved');
  assert.is(await redis().admin.hexists(D, 'moved'), 0);
});

test('countUserSessions and listUserSessions: live only', async () => {
  const t = await now();
  await plant('a', live(1, 1, 60, 0), t + 20_000);
  await plant('b', live(2, 2, 60, 0), t + 10_000);
  await plant('exp', live(1, 1, 60, 0), t - 1);
  await redis().admin.zadd(X, t + 30_000, 'orphan');
  assert.is(await run('countUserSessions', [X]), 3);
  assert.equal(await run('listUserSessions', both), [
    'b',
    value(t + 10_000, 2, 2, 60, 0),
    'a',
    value(t + 20_000, 1, 1, 60, 0),
  ]);
  await redis().admin.flushall();
  assert.is(await run('countUserSessions', [X]), 0);
  assert.equal(await run('listUserSessions', both), []);
});

test('destroyUserSessions: counts live ones; keeps the excepted live session only', async () => {
  const t = await now();
  await plant('a', live(1, 1, 60, 0), t + 20_000);
  await plant('b', live(1, 1, 60, 0), t + 10_000);
  await plant('exp', live(1, 1, 60, 0), t - 1);
  assert.is(await run('destroyUserSessions', both, 'b'), 1);
  assert.equal(await redis().admin.zrange(X, '0', '-1'), ['b']);
  assert.equal(await redis().admin.hkeys(D), ['b']);
  assert.is(await redis().admin.pexpiretime(X), t + 10_000);
  assert.is(await run('destroyUserSessions', both, 'exp'), 1);
  assert.is(await redis().admin.exists(D, X), 0);
  assert.is(await run('destroyUserSessions', both, ''), 0);
});

test.run();
