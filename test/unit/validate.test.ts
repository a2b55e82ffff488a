import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidInputError } from '../../src/errors.js';
import {
  encodeMetadata,
  encodePatch,
  encodeUser,
  requireString,
  validateTtl,
  validateUserId,
} from '../../src/validate.js';
import { throwsType } from '../helpers/assert.js';

const test = suite('validate');

const cyclic: Record<string, unknown> = { id: 'u', username: 'n' };
cyclic.self = cyclic;

test('non-strings never pass as strings (ioredis would flatten arrays, stringify objects)', () => {
  for (const bad of [1, null, undefined, {}, ['evil', '999999999'], Buffer.from('x'), 10n, true, () => 1]) {
    const err = throwsType(() => requireString('token', bad), InvalidInputError) as InvalidInputError;
    assert.is(err.parameter, 'token');
    assert.ok(err.message.startsWith('token: '));
  }
  assert.is(requireString('token', 'abc'), 'abc');
});

test('user ids: empty, lone surrogates, control characters and oversize are rejected', () => {
  for (const bad of [
    '',
    'user\uD800',
    'user\uDBFF',
    'a\nb',
    'a\r\nb',
    'nul\0',
    'x'.repeat(257),
    '\u0085',
    'é'.repeat(129),
  ]) {
    throwsType(() => validateUserId(bad), InvalidInputError);
  }
  for (const good of [
    'u',
    '{',
    '}abc',
    'a{b}c',
    '*',
    '?',
    '[x]',
    '\\',
    ' ',
    'ü',
    'e\u0301',
    '😀',
    'x'.repeat(256),
    'é'.repeat(128),
  ]) {
    assert.is(validateUserId(good), good);
  }
});

test('TTLs: safe positive integers within the cap only', () => {
  for (const bad of [0, -1, 1.5, NaN, Infinity, -Infinity, '10', 1e21, 2 ** 53, null, [60], 61]) {
    throwsType(() => validateTtl(bad, 60), InvalidInputError);
  }
  assert.is(validateTtl(1, 60), 1);
  assert.is(validateTtl(60, 60), 60);
  throwsType(() => validateTtl(2 ** 31, Number.MAX_SAFE_INTEGER), InvalidInputError);
});

test('user objects: plain JSON with string id and username; nothing JSON would alter', () => {
  const bad: unknown[] = [
    null,
    'u',
    42,
    [],
    [{ id: 'u', username: 'n' }],
    { username: 'n' },
    { id: '', username: 'n' },
    { id: 7, username: 'n' },
    { id: 'u' },
    { id: 'u', username: 5 },
    { id: 'u', username: 'n', x: undefined },
    { id: 'u', username: 'n', x: () => 1 },
    { id: 'u', username: 'n', x: 1n },
    { id: 'u', username: 'n', x: NaN },
    { id: 'u', username: 'n', x: Infinity },
    { id: 'u', username: 'n', x: new Date() },
    { id: 'u', username: 'n', x: Buffer.from('b') },
    { id: 'u', username: 'n', x: new Map() },
    cyclic,
    JSON.parse('{"id":"u","username":"n","__proto__":{"isAdmin":true}}'),
    { id: 'u', username: 'n', nested: { constructor: 'x' } },
    { id: 'u', username: 'n', prototype: 1 },
    { id: 'u', username: 'n', s: 'bad\uDC00' },
    { id: 'u', username: 'n', deep: JSON.parse('['.repeat(20) + ']'.repeat(20)) },
    { id: 'u', username: 'x'.repeat(20_000) },
  ];
  for (const user of bad) throwsType(() => encodeUser(user, 16384), InvalidInputError);
  const ok = encodeUser({ id: 'u', username: 'n', roles: ['a'], n: 1.5, f: false, z: null, o: { a: [1] } }, 16384);
  assert.is(ok.id, 'u');
  assert.equal(JSON.parse(ok.json), { id: 'u', username: 'n', roles: ['a'], n: 1.5, f: false, z: null, o: { a: [1] } });
  assert.is(encodeUser(Object.assign(Object.create(null), { id: 'u', username: 'n' }), 100).id, 'u');
});

test('metadata: a plain object of strings, forbidden keys refused, limit is keys plus values in bytes', () => {
  for (const bad of [
    null,
    [],
    's',
    42,
    { a: 1 },
    { a: null },
    { a: ['x'] },
    { '': 'x' },
    { a: 'b\uD800' },
    JSON.parse('{"__proto__":"x"}'),
    { constructor: 'x' },
    { prototype: 'x' },
    { ['k'.repeat(257)]: 'v' },
  ]) {
    throwsType(() => encodeMetadata(bad, 100), InvalidInputError);
  }
  assert.is(encodeMetadata(undefined, 100), '{}');
  // 'ab' + 98 bytes = 100: at the limit; one more byte is over.
  assert.is(encodeMetadata({ ab: 'x'.repeat(98) }, 100), JSON.stringify({ ab: 'x'.repeat(98) }));
  throwsType(() => encodeMetadata({ ab: 'x'.repeat(99) }, 100), InvalidInputError);
  // Multi-byte characters count as their UTF-8 bytes: 'é' is 2.
  throwsType(() => encodeMetadata({ a: 'é'.repeat(50) }, 100), InvalidInputError);
});

test('patches: strings set, null removes, anything else is refused', () => {
  assert.is(encodePatch({ a: 'x', b: null }, 100), '{"a":"x","b":null}');
  for (const bad of [null, [], { a: 1 }, { a: undefined }, { a: {} }, JSON.parse('{"__proto__":null}')]) {
    throwsType(() => encodePatch(bad, 100), InvalidInputError);
  }
  assert.is(Object.prototype.hasOwnProperty.call(Object.prototype, 'isAdmin'), false);
});

test.run();
