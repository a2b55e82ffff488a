import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { luaScripts, type ScriptName } from '../../src/lua.generated.js';
import { ReplyCode } from '../../src/ops/codes.js';
import { decodeReadSessions, readSessionsCall } from '../../src/ops/reads.js';
import { createCall, newHeader } from '../../src/ops/writes.js';
import { useRedis } from '../helpers/redis.js';

// Each script called directly with EVAL on planted data: every documented reply is reached.
const test = suite('lua scripts');
const redis = useRedis(test);
const K = 'p{t}:d';
const USER = '{"id":"u","username":"n"}';
const { NOT_FOUND, MALFORMED, TOO_LARGE } = ReplyCode;

const run = (name: ScriptName, ...args: (string | number)[]) =>
  redis().admin.eval(luaScripts[name].body, 1, K, ...args.map(String));
const value = (exp: number, created: number, access: number, ttl: number, deadline: number, meta = '{}') =>
  `1|${exp}|${created}|${access}|${ttl}|${deadline}|${meta}\n${USER}`;
async function now(): Promise<number> {
  const [s, us] = (await redis().admin.time()) as unknown as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}
/** Plants sessions with the bookkeeping the scripts keep: "." = "<min expiry>|<key expiry>", and the key's TTL. */
async function plant(sessions: Record<string, [v: string | ((exp: number) => string), expiresAt: number]>) {
  const entries = Object.entries(sessions);
  const exps = entries.map(([, [, e]]) => e);
  const keyExp = Math.max(...exps);
  for (const [sid, [v, e]] of entries) await redis().admin.hset(K, sid, typeof v === 'string' ? v : v(e));
  await redis().admin.hset(K, '.', `${Math.min(...exps)}|${keyExp}`);
  await redis().admin.pexpireat(K, keyExp);
}
const expOf = (v: string) => Number(v.split('|')[1]);
/** createSession as the store sends it (its value built by src/ops/writes.ts), `now` read from Redis. */
async function create(sid: string, ttl: number, absoluteTtl: number, cap: number, metadataJson = '{}') {
  const header = newHeader(await now(), ttl, absoluteTtl);
  const call = createCall({ key: K, id: sid, header, maxSessionsPerUser: cap, metadataJson, userJson: USER });
  return (await redis().admin.eval(luaScripts.createSession.body, 1, K, ...call.args)) as unknown[];
}
const stored = async (sid: string) => (await redis().admin.hget(K, sid))!;
const meta = async () => (await redis().admin.hget(K, '.'))!.split('|').map(Number) as [number, number];
const live =
  (created: number, access: number, ttl: number, deadline: number, m = '{}') =>
  (exp: number) =>
    value(exp, created, access, ttl, deadline, m);

test('createSession: a new user is stored bare (no bookkeeping), with a key TTL with slack', async () => {
  const t0 = await now();
  assert.equal(await create('s1', 80, 0, 0, '{"a":"b"}'), [1], 'stored what was sent');
  const v = await stored('s1');
  assert.match(v, /^1\|\d+\|\d+\|\d+\|80\|0\|\{"a":"b"\}\n/);
  const exp = expOf(v);
  assert.ok(exp >= t0 + 80_000 && exp <= t0 + 81_000);
  assert.equal(await redis().admin.hkeys(K), ['s1'], 'one session: no bookkeeping field');
  const keyExp = exp + 10_000; // slack: an eighth of the idle TTL
  assert.is(await redis().admin.pexpiretime(K), keyExp);
  // A second, shorter session adds the bookkeeping: the key's own expiry (never shortened), and
  // a minimum unknown until the next create scans, which makes it exact.
  await create('s2', 5, 0, 0);
  assert.equal(await meta(), [0, keyExp]);
  assert.is(await redis().admin.pexpiretime(K), keyExp);
  await create('s3', 60, 0, 0);
  assert.equal(await meta(), [expOf(await stored('s2')), keyExp]);
  assert.is(await redis().admin.pexpiretime(K), keyExp);
});

test('createSession: a second session that outlives the key lengthens it, and the bookkeeping says so', async () => {
  await create('s1', 4, 0, 0);
  const first = expOf(await stored('s1'));
  assert.is(await redis().admin.pexpiretime(K), first + 500);
  await create('s2', 80, 0, 0);
  const keyExp = expOf(await stored('s2')) + 10_000;
  assert.is(await redis().admin.pexpiretime(K), keyExp);
  assert.equal(await meta(), [0, keyExp]);
});

test('createSession: absolute TTL clamps the expiry', async () => {
  const t0 = await now();
  await create('s1', 600, 10, 0);
  const v = await stored('s1');
  const deadline = Number(v.split('|')[5]);
  assert.is(expOf(v), deadline);
  assert.ok(deadline >= t0 + 10_000 && deadline <= t0 + 11_000);
});

test('createSession: an existing live id is returned unchanged (idempotent re-send)', async () => {
  const t = await now();
  await plant({ s1: [live(1, 2, 60, 0), t + 50_000] });
  const reply = await create('s1', 60, 0, 0, '{"x":"y"}');
  assert.equal(reply, [value(t + 50_000, 1, 2, 60, 0)]);
  assert.is(await stored('s1'), value(t + 50_000, 1, 2, 60, 0), 'unchanged');
});

test("createSession: prunes the user's expired sessions once the earliest expiry has passed", async () => {
  const t = await now();
  await plant({ old: [live(1, 1, 1, 0), t - 1], keep: [live(1, 1, 60, 0), t + 30_000] });
  await create('s1', 60, 0, 0);
  const v = await stored('s1');
  assert.is(await redis().admin.hexists(K, 'old'), 0);
  assert.equal((await redis().admin.hkeys(K)).sort(), ['.', 'keep', 's1']);
  assert.is((await meta())[0], Math.min(t + 30_000, expOf(v)), 'the minimum is exact again');
});

test('createSession: at the cap evicts least recently used (malformed first) and names them', async () => {
  const t = await now();
  await plant({
    a: [live(1, t - 5000, 60, 0), t + 90_000],
    b: [live(1, t - 9000, 60, 0), t + 99_000],
    c: [live(1, t - 1000, 60, 0), t + 80_000],
    bad: ['garbage', t + 70_000],
  });
  const reply = await create('new', 60, 0, 3);
  assert.equal(reply, [1, 'bad', 'b']);
  assert.equal((await redis().admin.hkeys(K)).sort(), ['.', 'a', 'c', 'new']);
});

test('createSession: expired sessions do not count towards the cap', async () => {
  const t = await now();
  await plant({ gone: [live(1, 1, 1, 0), t - 10], a: [live(1, 1, 60, 0), t + 60_000] });
  assert.equal(await create('new', 60, 0, 2), [1]);
  assert.equal((await redis().admin.hkeys(K)).sort(), ['.', 'a', 'new']);
});

test('createSession on 0.1 data (no bookkeeping): keeps the longer TTL, then prunes on the next write', async () => {
  const t = await now();
  await redis().admin.hset(K, 'old', value(t - 5, 1, 1, 1, 0), 'long', value(t + 900_000, 1, 1, 900, 0));
  await redis().admin.pexpireat(K, t + 900_000);
  await create('s1', 60, 0, 0);
  assert.is(await redis().admin.pexpiretime(K), t + 900_000, 'never shortened');
  assert.equal(await meta(), [0, t + 900_000], 'minimum unknown: the next create looks at every session');
  // The bookkeeping records the key's own expiry, so a later refresh past the new session's
  // slack moves the key only past the longest session (recording the new session's expiry
  // instead made this refresh cut the key to t + 135 s, under 'long').
  await run('refreshSession', 's1', 120);
  assert.is(await redis().admin.pexpiretime(K), t + 900_000);
  await create('s2', 60, 0, 0);
  assert.is(await redis().admin.hexists(K, 'old'), 0);
});

test('createSession on 0.1 data whose TTL is shorter: the key is made to outlive the new session', async () => {
  const t = await now();
  await redis().admin.hset(K, 'old', value(t + 5000, 1, 1, 5, 0));
  await redis().admin.pexpireat(K, t + 5000);
  await create('s1', 60, 0, 0);
  const [min, keyExp] = await meta();
  assert.is(min, 0);
  assert.is(keyExp, expOf(await stored('s1')) + 7500);
  assert.is(await redis().admin.pexpiretime(K), keyExp);
});

test('refreshSession on a bare user (one session, or 0.1 data): the key moves with it, never shorter, never without a TTL', async () => {
  const t = await now();
  await redis().admin.hset(K, 's', value(t + 5000, 1, 1, 60, 0), 'long', value(t + 900_000, 1, 1, 900, 0));
  await redis().admin.pexpireat(K, t + 900_000);
  const e = Number(await run('refreshSession', 's', 0));
  assert.ok(e >= t + 60_000);
  assert.is(await redis().admin.pexpiretime(K), t + 900_000, 'the longer TTL is kept');
  assert.is(await redis().admin.hexists(K, '.'), 0, 'a refresh adds no bookkeeping');
  // A key whose TTL is shorter than the refreshed session is lengthened, with slack.
  await redis().admin.hdel(K, 'long');
  await redis().admin.pexpireat(K, t + 5000);
  const e2 = Number(await run('refreshSession', 's', 0));
  assert.is(await redis().admin.pexpiretime(K), e2 + 7500);
  // A refresh to a shorter TTL keeps the key's longer expiry (it outlives the session).
  const e3 = Number(await run('refreshSession', 's', 10));
  assert.ok(e3 < e2);
  assert.is(await redis().admin.pexpiretime(K), e2 + 7500);
  // A key made persistent from outside gets a TTL again.
  await redis().admin.persist(K);
  const e4 = Number(await run('refreshSession', 's', 60));
  assert.is(await redis().admin.pexpiretime(K), e4 + 7500);
});

test('data written by 0.2 (one session, with bookkeeping) is written as a user with bookkeeping', async () => {
  const t = await now();
  await plant({ s: [live(t - 100, t - 100, 60, 0), t + 10_000] });
  // Within the slack the key stays put (no PEXPIREAT), and the bookkeeping is kept.
  await redis().admin.pexpireat(K, t + 200_000);
  await redis().admin.hset(K, '.', `${t + 10_000}|${t + 200_000}`);
  const e = Number(await run('refreshSession', 's', 0));
  assert.equal(await meta(), [t + 10_000, t + 200_000]);
  assert.is(await redis().admin.pexpiretime(K), t + 200_000);
  // Past the recorded key expiry, the key and the bookkeeping move together.
  const e2 = Number(await run('refreshSession', 's', 300));
  assert.ok(e2 > t + 200_000 && e2 > e);
  assert.equal(await meta(), [t + 10_000, e2 + 37_500]);
  assert.is(await redis().admin.pexpiretime(K), e2 + 37_500);
});

test('touchSession on a bare user: the key moves with the session', async () => {
  const t = await now();
  await redis().admin.hset(K, 's', value(t + 5000, t - 100, t - 100, 60, 0));
  await redis().admin.pexpireat(K, t + 5000);
  const slid = (await run('touchSession', 's', 0)) as string;
  assert.ok(expOf(slid) >= t + 60_000);
  assert.is(await redis().admin.pexpiretime(K), expOf(slid) + 7500);
  assert.is(await redis().admin.hexists(K, '.'), 0);
});

test('touchSession: nil absent or expired; no write within touchAfter; slides after; malformed untouched', async () => {
  const t = await now();
  assert.is(await run('touchSession', 'none', 0), null);
  await plant({ gone: [live(1, 1, 1, 0), t - 1], s: [live(t - 100, t - 100, 60, 0), t + 10_000] });
  assert.is(await run('touchSession', 'gone', 0), null);
  const fresh = (await redis().admin.hget(K, 's'))!;
  assert.is(await run('touchSession', 's', 3_600_000), fresh, 'within touchAfter: unchanged');
  const slid = (await run('touchSession', 's', 0)) as string;
  assert.ok(expOf(slid) >= t + 60_000, 'slides to now + idle TTL');
  assert.is(await redis().admin.hget(K, 's'), slid);
  assert.ok((await redis().admin.pexpiretime(K)) >= expOf(slid), 'the key outlives it');
  await redis().admin.hset(K, 'bad', '1|99');
  assert.is(await run('touchSession', 'bad', 0), '1|99');
});

test('touchSession: never passes the absolute deadline', async () => {
  const t = await now();
  await plant({ s: [live(1, 1, 600, t + 5000), t + 4000] });
  const slid = (await run('touchSession', 's', 0)) as string;
  assert.is(expOf(slid), t + 5000);
});

test('refreshSession: 0 absent or expired, -1 malformed, new expiry otherwise (clamped, ttl stored)', async () => {
  const t = await now();
  assert.is(await run('refreshSession', 'none', 0), NOT_FOUND);
  await plant({ gone: [live(1, 1, 1, 0), t - 1], bad: ['1|x', t + 1000], s: [live(1, 1, 60, t + 500_000), t + 1000] });
  assert.is(await run('refreshSession', 'gone', 0), NOT_FOUND);
  assert.is(await run('refreshSession', 'bad', 0), MALFORMED);
  assert.is(await redis().admin.hget(K, 'bad'), '1|x', 'nothing written');
  const e = Number(await run('refreshSession', 's', 0));
  assert.ok(e >= t + 60_000 && e <= t + 61_000);
  const clamped = Number(await run('refreshSession', 's', 999_999));
  assert.is(clamped, t + 500_000, 'never past the deadline');
  assert.is((await redis().admin.hget(K, 's'))!.split('|')[4], '999999', 'the new idle TTL is stored');
  assert.ok((await redis().admin.pexpiretime(K)) >= clamped);
  // A shorter explicit TTL lowers the minimum the count's fast path relies on.
  const short = Number(await run('refreshSession', 's', 2));
  assert.ok((await meta())[0] <= short);
});

test('destroySession: expiry of what it destroyed, 0 absent, -1 malformed; the last one takes the key', async () => {
  const t = await now();
  assert.is(await run('destroySession', 'none'), NOT_FOUND);
  await plant({ a: [live(1, 1, 60, 0), t + 9000], b: [live(1, 1, 60, 0), t + 8000], bad: ['junk', t + 1] });
  assert.is(await run('destroySession', 'a'), t + 9000);
  assert.is(await run('destroySession', 'a'), NOT_FOUND);
  assert.is(await run('destroySession', 'bad'), MALFORMED);
  assert.is(await redis().admin.hexists(K, 'bad'), 0, 'a malformed value is still destroyed');
  assert.is(await run('destroySession', 'b'), t + 8000);
  assert.is(await redis().admin.exists(K), 0, 'the bookkeeping goes with the last session');
});

test('destroySession on a bare user: its one session takes the key; of 0.1 data, the others stay', async () => {
  const t = await now();
  await redis().admin.hset(K, 's', value(t + 9000, 1, 1, 60, 0));
  await redis().admin.pexpireat(K, t + 9000);
  assert.is(await run('destroySession', 's'), t + 9000);
  assert.is(await redis().admin.exists(K), 0, 'the key goes with its last session');
  await redis().admin.hset(K, 'x', value(t + 9000, 1, 1, 60, 0), 'y', value(t + 8000, 1, 1, 60, 0));
  await redis().admin.pexpireat(K, t + 9000);
  assert.is(await run('destroySession', 'x'), t + 9000);
  assert.equal(await redis().admin.hkeys(K), ['y']);
  assert.is(await redis().admin.pexpiretime(K), t + 9000);
});

test('updateSessionMetadata: 1 patched, 0 absent or expired, -1 malformed, -2 over the limit', async () => {
  const t = await now();
  assert.is(await run('updateSessionMetadata', 'none', '{"a":"b"}', 100, t), NOT_FOUND);
  await plant({
    s: [live(1, 2, 60, 0, '{"keep":"1","drop":"2"}'), t + 60_000],
    gone: [live(1, 1, 1, 0), t - 1],
    bad: [live(1, 1, 60, 0, '{oops'), t + 60_000],
  });
  assert.is(await run('updateSessionMetadata', 'gone', '{"a":"b"}', 100, t), NOT_FOUND);
  assert.is(await run('updateSessionMetadata', 's', '{"drop":null,"new":"x"}', 100, t), 1);
  const v = (await redis().admin.hget(K, 's'))!;
  assert.equal(JSON.parse(v.split('|')[6]!.split('\n')[0]!), { keep: '1', new: 'x' });
  assert.is(v, value(t + 60_000, 1, 2, 60, 0, '{"keep":"1","new":"x"}'), 'header copied as it was');
  assert.is(await run('updateSessionMetadata', 's', '{"big":"0123456789"}', 10, t), TOO_LARGE);
  assert.is(await redis().admin.hget(K, 's'), v, 'nothing written');
  assert.is(await run('updateSessionMetadata', 'bad', '{"a":"b"}', 100, t), MALFORMED);
  // Sent while the session was live, landing after it expired: patched, and still expired.
  assert.is(await run('updateSessionMetadata', 'gone', '{"a":"b"}', 100, t - 10), 1);
  assert.is(expOf(await stored('gone')), t - 1);
});

test('rotateSession: moves the session, nil when not live, idempotent when the new id exists', async () => {
  const t = await now();
  await plant({ old: [live(5, 6, 60, 0, '{"m":"1"}'), t + 40_000], gone: [live(1, 1, 1, 0), t - 1] });
  const moved = (await run('rotateSession', 'old', 'new', t)) as string;
  assert.is(moved, value(t + 40_000, 5, t, 60, 0, '{"m":"1"}'), 'same expiry and createdAt; accessed now');
  assert.equal((await redis().admin.hkeys(K)).sort(), ['.', 'gone', 'new']);
  assert.is(await run('rotateSession', 'old', 'new', t), moved, 'a re-send returns the rotated session');
  assert.is(await run('rotateSession', 'old', 'other', t), null);
  assert.is(await run('rotateSession', 'gone', 'other', t), null);
  await redis().admin.hset(K, 'bad', 'junk');
  assert.is(await run('rotateSession', 'bad', 'other', t), 'junk', 'malformed: returned unmoved');
  assert.is(await redis().admin.hexists(K, 'other'), 0);
});

test('destroyUserSessions: counts live ones; keeps the excepted live session only', async () => {
  const t = await now();
  await plant({
    a: [live(1, 1, 60, 0), t + 60_000],
    b: [live(1, 1, 60, 0), t + 50_000],
    gone: [live(1, 1, 1, 0), t - 1],
  });
  assert.is(await run('destroyUserSessions', 'b'), 1);
  assert.equal((await redis().admin.hkeys(K)).sort(), ['.', 'b']);
  assert.is(await redis().admin.pexpiretime(K), t + 50_000);
  assert.is(await run('destroyUserSessions', 'gone'), 1, 'an expired "except" is not kept');
  assert.is(await redis().admin.exists(K), 0);
  assert.is(await run('destroyUserSessions', ''), 0);
  await redis().admin.rpush(K, 'foreign');
  assert.is(await run('destroyUserSessions', ''), 0, 'foreign data is deleted and counts as none');
  assert.is(await redis().admin.exists(K), 0);
});

test('destroyUserSessions: fast count while the earliest expiry is ahead', async () => {
  const t = await now();
  await plant({ a: [live(1, 1, 60, 0), t + 60_000], b: [live(1, 1, 60, 0), t + 50_000] });
  assert.is(await run('destroyUserSessions', ''), 2);
});

test('readSessions: the values of many keys in one call, in id order, false (nil) where none; any key count', async () => {
  const admin = redis().admin;
  await admin.hset('p{a}:d', 's1', 'v1', 's2', 'v2');
  await admin.hset('p{b}:d', 's3', 'v3');
  const call = readSessionsCall([
    ['p{a}:d', ['s2', 'nope', 's1']],
    ['p{b}:d', ['s3']],
    ['p{none}:d', ['x', 'y']],
    ['p{none2}:d', ['z']],
  ]);
  const reply = await admin.eval(luaScripts.readSessions.body, call.keys.length, ...call.keys, ...call.args);
  assert.equal(reply, ['v2', null, 'v1', 'v3', null, null, null]);
  assert.equal(decodeReadSessions(reply, call.total), ['v2', null, 'v1', 'v3', null, null, null]);
  // One id per key: the short form, ids without counts.
  const short = readSessionsCall([
    ['p{a}:d', ['s1']],
    ['p{b}:d', ['s3']],
    ['p{none}:d', ['x']],
  ]);
  assert.equal(short.args, ['s1', 's3', 'x']);
  const shortReply = await admin.eval(luaScripts.readSessions.body, short.keys.length, ...short.keys, ...short.args);
  assert.equal(shortReply, ['v1', 'v3', null]);
  // Both forms from one call each: a key with one id among keys with several.
  const mixed = readSessionsCall([
    ['p{a}:d', ['s1', 's2']],
    ['p{b}:d', ['s3']],
  ]);
  assert.equal(mixed.args, ['2', '1', 's1', 's2', 's3']);
  assert.equal(await admin.eval(luaScripts.readSessions.body, 2, ...mixed.keys, ...mixed.args), ['v1', 'v2', 'v3']);
  // It writes nothing: no-writes is enforced by Redis, and the keys are unchanged.
  assert.equal(await admin.hgetall('p{a}:d'), { s1: 'v1', s2: 'v2' });
  assert.is(await admin.exists('p{none}:d'), 0);
});

test.run();
