import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CorruptSessionError, InvalidInputError } from '../../src/errors.js';
import { luaScripts } from '../../src/lua.generated.js';
import { ReplyCode } from '../../src/ops/codes.js';
import * as express from '../../src/ops/express.js';
import {
  decodeReadSessions,
  readSessionsCall,
  allCommand,
  countCommands,
  decodeAll,
  decodeFastCount,
  decodeGet,
  decodeMany,
  decodeTtl,
  getCommand,
  getManyCommand,
  openValue,
  TOUCH_DUE,
  ttlSeconds,
} from '../../src/ops/reads.js';
import {
  createCall,
  decodeCount,
  decodeCreate,
  decodeDestroy,
  decodeMetadata,
  decodeRefresh,
  decodeValueReply,
  destroyAllCall,
  destroyCall,
  metadataCall,
  newHeader,
  refreshCall,
  rotateCall,
  touchCall,
} from '../../src/ops/writes.js';
import type { ScriptCall } from '../../src/transport/scripts.js';

// The pure builders and decoders of src/ops, without a server: every builder's exact argument
// list, and every decoder on each reply its script documents (codes from src/ops/codes.ts).
const test = suite('ops (no server)');

// A stored value written out by hand in the format of lua/includes/_value.lua.
const value = (expiresAt: number, lastAccessedAt = 1000) =>
  `1|${expiresAt}|500|${lastAccessedAt}|60|0|{"device":"x"}\n{"id":"u1","username":"ann"}`;

test('read builders: the exact commands', () => {
  assert.equal(getCommand('k', 'id'), { command: 'HGET', args: ['k', 'id'] });
  assert.equal(getManyCommand('k', ['a', 'b']), { command: 'HMGET', args: ['k', 'a', 'b'] });
  assert.equal(countCommands('k'), [
    { command: 'HLEN', args: ['k'] },
    { command: 'HGET', args: ['k', '.'] },
  ]);
  assert.equal(allCommand('k'), { command: 'HGETALL', args: ['k'] });
});

test('openValue: absent, expired by the latest clock bound, live, or a rolling touch due', () => {
  assert.is(openValue('id', null, 0, -Infinity), null);
  assert.is(openValue('id', undefined, 0, -Infinity), null);
  assert.is(openValue('id', value(2000), 2000, -Infinity), null, 'expiring exactly at `latest` is expired');
  const live = openValue('id', value(2000), 1999, -Infinity);
  assert.equal(live, {
    id: 'id',
    userId: 'u1',
    user: { id: 'u1', username: 'ann' },
    createdAt: 500,
    lastAccessedAt: 1000,
    expiresAt: 2000,
    metadata: { device: 'x' },
  });
  assert.is(openValue('id', value(2000, 1000), 1500, 1000), TOUCH_DUE, 'touched at the due time: due');
  assert.is.not(openValue('id', value(2000, 1001), 1500, 1000), TOUCH_DUE, 'touched after it: not due');
  assert.is(openValue('id', value(2000, 1000), 2000, 1000), null, 'an expired session is never touched');
  for (const bad of ['junk', 42, '1|x|1|1|1|0|{}\n{}', `1|2000|1|1|60|0|{}\n{"id":"u"}`, '1|2000|1|1|60|0|{nope\n{}'])
    assert.throws(
      () => openValue('id', bad, 0, -Infinity),
      (e: unknown) => e instanceof CorruptSessionError,
      String(bad),
    );
  assert.is(decodeGet('id', value(2000, 0), 1999)?.id, 'id', 'decodeGet never reports a touch');
});

test('decodeMany, decodeTtl, ttlSeconds, decodeFastCount, decodeAll', () => {
  assert.equal(decodeMany(['a', null], 2), ['a', null]);
  assert.throws(
    () => decodeMany(['a'], 2),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.throws(
    () => decodeMany('a', 1),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.is(decodeTtl(value(10_000), 1000), 9);
  assert.is(decodeTtl(value(10_001), 1000), 10, 'rounded up');
  assert.is(decodeTtl(value(1000), 1000), null);
  assert.is(decodeTtl(null, 0), null);
  assert.is(ttlSeconds(2500, 1000), 2);
  assert.is(decodeFastCount(3, '5000|6000', 4000), 2, 'HLEN less the bookkeeping field');
  assert.is(decodeFastCount(3, '5000|6000', 5000), null, 'the earliest expiry may have passed');
  assert.is(decodeFastCount(0, null, 0), 0);
  assert.is(decodeFastCount(2, null, 0), null, 'no bookkeeping: look at each session');
  const flat = ['.', '1|1', 'b', value(3000), 'a', value(2000), 'old', value(500)];
  assert.equal(
    decodeAll(flat, 1000).map((s) => s.id),
    ['a', 'b'],
    'live ones, soonest expiry first',
  );
  assert.equal(
    decodeAll(
      new Map(flat.reduce<[string, string][]>((m, v, i) => (i % 2 ? m : [...m, [v, flat[i + 1]!]]), [])),
      1000,
    ).map((s) => s.id),
    ['a', 'b'],
    'a RESP3 map reads the same',
  );
  assert.throws(
    () => decodeAll(7, 0),
    (e: unknown) => e instanceof CorruptSessionError,
  );
});

test('write builders: KEYS and ARGV as each script header names them, strings only', () => {
  const header = newHeader(1_000_000.7, 60, 0);
  assert.equal(header, {
    expiresAt: 1_060_000,
    createdAt: 1_000_000,
    lastAccessedAt: 1_000_000,
    idleTtl: 60,
    deadline: 0,
  });
  assert.is(newHeader(1000, 60, 30).expiresAt, 31_000, 'never past the absolute deadline');
  const create = createCall({
    key: 'k',
    id: 'id',
    header,
    maxSessionsPerUser: 5,
    metadataJson: '{}',
    userJson: '{"id":"u","username":"n"}',
  });
  assert.equal(create, {
    script: 'createSession',
    keys: ['k'],
    args: ['id', '1|1060000|1000000|1000000|60|0|{}\n{"id":"u","username":"n"}', '1060000', '60', '1000000', '5'],
  });
  const calls: ScriptCall[] = [
    refreshCall('k', 'id', 0),
    touchCall('k', 'id', 1000),
    destroyCall('k', 'id'),
    metadataCall('k', 'id', '{"a":"b"}', 16384, 1234.2),
    rotateCall('k', 'old', 'new', 99.5),
    destroyAllCall('k', ''),
  ];
  assert.equal(
    calls.map((c) => [c.script, c.args]),
    [
      ['refreshSession', ['id', '0']],
      ['touchSession', ['id', '1000']],
      ['destroySession', ['id']],
      ['updateSessionMetadata', ['id', '{"a":"b"}', '16384', '1235']],
      ['rotateSession', ['old', 'new', '100']],
      ['destroyUserSessions', ['']],
    ],
  );
  for (const c of [create, ...calls]) {
    assert.is(c.keys.length, luaScripts[c.script].numberOfKeys, `${c.script}: KEYS count`);
    assert.ok(
      [...c.keys, ...c.args].every((a) => typeof a === 'string'),
      c.script,
    );
  }
});

test('write decoders: each documented reply and code', () => {
  const header = newHeader(1000, 60, 0);
  const sent = {
    token: 't',
    id: 'id',
    header,
    userId: 'u',
    userJson: '{"id":"u","username":"n"}',
    metadata: { a: 'b' },
  };
  const created = decodeCreate([1, 'gone1', 'gone2'], sent);
  assert.equal([created.expiresAt, created.createdAt, created.evictedSessionIds], [61_000, 1000, ['gone1', 'gone2']]);
  assert.equal(created.user, { id: 'u', username: 'n' });
  const resent = decodeCreate([value(9000)], sent);
  assert.equal(
    [resent.expiresAt, resent.createdAt, resent.lastAccessedAt],
    [9000, 500, 1000],
    'the live session header',
  );
  assert.throws(
    () => decodeCreate([], sent),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.is(decodeRefresh(1), true);
  assert.is(decodeRefresh(ReplyCode.NOT_FOUND), false);
  assert.throws(
    () => decodeRefresh(ReplyCode.MALFORMED),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.is(decodeDestroy(5000, 4000), true);
  assert.is(decodeDestroy(4000, 4000), false, 'an expiry that may have passed was not live');
  assert.is(decodeDestroy(ReplyCode.NOT_FOUND, 0), false);
  assert.is(decodeDestroy(ReplyCode.MALFORMED, 0), true, 'a malformed value that was there is gone');
  assert.is(decodeMetadata(1, 10), true);
  assert.is(decodeMetadata(ReplyCode.NOT_FOUND, 10), false);
  assert.throws(
    () => decodeMetadata(ReplyCode.TOO_LARGE, 10),
    (e: unknown) => e instanceof InvalidInputError,
  );
  assert.throws(
    () => decodeMetadata(ReplyCode.MALFORMED, 10),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.is(decodeValueReply('id', null), null);
  assert.is(decodeValueReply('id', value(2000))?.expiresAt, 2000);
  assert.is(decodeValueReply('id', value(2000), 2000), null, 'rotated while it expired');
  assert.is(decodeCount(3), 3);
  assert.throws(
    () => decodeCount(-1),
    (e: unknown) => e instanceof CorruptSessionError,
  );
});

test('express builders and decoders: connect-redis layout, tombstone in the session key slot', () => {
  const index = { key: '{tag}:sess:by-user', sid: 'abc' };
  assert.equal(express.setCall('sess:abc', '{}', 30), {
    script: 'expressSet',
    keys: ['sess:abc', '{sess:abc}:destroyed'],
    args: ['{}', '30'],
  });
  assert.equal(express.setCall('sess:abc', '{}', 0, index).keys, [
    'sess:abc',
    '{sess:abc}:destroyed',
    '{tag}:sess:by-user',
  ]);
  assert.equal(express.expireCommand('sess:abc', 5), { command: 'EXPIRE', args: ['sess:abc', '5'] });
  assert.equal(express.touchIndexedCall('sess:abc', 5, index).args, ['5', 'abc']);
  assert.equal(express.destroyCall('sess:abc', 60_000).args, ['60000']);
  assert.equal(express.destroyCall('sess:abc', 60_000, index).script, 'expressDestroyIndexed');
  for (const c of [
    express.setCall('k', 'v', 1),
    express.setCall('k', 'v', 1, index),
    express.touchIndexedCall('k', 1, index),
    express.destroyCall('k', 1),
    express.destroyCall('k', 1, index),
  ])
    assert.is(c.keys.length, luaScripts[c.script].numberOfKeys, c.script);
  assert.equal(express.countCommand('i', 1000.2), { command: 'ZCOUNT', args: ['i', '(1001', '+inf'] });
  assert.equal(express.liveIdsCommand('i', 7).args, ['i', '(7', '+inf']);
  assert.is(express.decodeSet(1), true);
  assert.is(express.decodeSet(ReplyCode.NOT_FOUND), false);
  assert.throws(
    () => express.decodeSet(7),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.is(express.decodeDestroyed(1), 1);
  assert.is(express.decodeDestroyed(0), 0);
  assert.is(express.decodeValue(null), null);
  assert.is(express.decodeValue('x'), 'x');
  assert.throws(
    () => express.decodeValue(['x']),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.equal(express.decodeScan(['5', ['a', 'b']]), { cursor: '5', keys: ['a', 'b'] });
  assert.throws(
    () => express.decodeScan(['5']),
    (e: unknown) => e instanceof CorruptSessionError,
  );
  assert.equal(express.decodeIds(['a', 'b']), ['a', 'b']);
  assert.equal(express.scanArgs('0', 'sess:*', 100), ['0', 'MATCH', 'sess:*', 'COUNT', '100']);
});

test('readSessions: KEYS the user keys once each, ARGV the counts then the ids; the reply split back per key', () => {
  assert.equal(
    readSessionsCall([
      ['k1', ['a', 'b']],
      ['k2', ['c']],
    ]),
    { script: 'readSessions', keys: ['k1', 'k2'], args: ['2', '1', 'a', 'b', 'c'], total: 3 },
  );
  // One id per key: the ids alone, no counts.
  assert.equal(
    readSessionsCall([
      ['k1', ['a']],
      ['k2', ['c']],
    ]),
    { script: 'readSessions', keys: ['k1', 'k2'], args: ['a', 'c'], total: 2 },
  );
  assert.equal(decodeReadSessions(['x', null, 'y'], 3), ['x', null, 'y']);
  for (const bad of [['x'], 'x', null])
    assert.throws(
      () => decodeReadSessions(bad, 3),
      (e: unknown) => e instanceof CorruptSessionError,
    );
});

test("express cached read: the value and its PEXPIRETIME, one session's entry or null", () => {
  assert.equal(express.cachedReadCommands('sess:abc'), [
    { command: 'GET', args: ['sess:abc'] },
    { command: 'PEXPIRETIME', args: ['sess:abc'] },
  ]);
  assert.equal(express.decodeCachedRead('d', '{"a":1}', 1_900_000_000_000), {
    id: 'd',
    raw: '{"a":1}',
    expiresAt: 1_900_000_000_000,
  });
  assert.is(express.decodeCachedRead('d', '{}', -1)?.expiresAt, Number.POSITIVE_INFINITY, 'no TTL');
  assert.is(express.decodeCachedRead('d', null, -2), null, 'no key');
  assert.is(express.decodeCachedRead('d', '{}', -2), null, 'gone between the two commands');
  assert.throws(
    () => express.decodeCachedRead('d', '{}', 'soon'),
    (e: unknown) => e instanceof CorruptSessionError,
  );
});

test.run();
