import { createHash } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  expressIndexKey,
  expressTombstoneKey,
  userKey,
  newToken,
  SESSION_ID_PATTERN,
  sessionIdOf,
  tagOfToken,
  TOKEN_PATTERN,
  userTag,
} from '../../src/keys.js';

const test = suite('keys');

test('tokens: fixed length and alphabet, 256 random bits after the user tag, no duplicates', () => {
  const tag = userTag('alice');
  const seen = new Set<string>();
  for (let i = 0; i < 20_000; i++) {
    const t = newToken(tag);
    assert.ok(TOKEN_PATTERN.test(t), t);
    assert.is(t.length, 66);
    assert.is(Buffer.from(t.slice(23), 'base64url').length, 32);
    seen.add(t);
  }
  assert.is(seen.size, 20_000);
});

test('a token carries its user tag; anything else is not a token', () => {
  const tag = userTag('alice');
  const t = newToken(tag);
  assert.is(tagOfToken(t), tag);
  for (const bad of [
    '',
    ' ',
    t + 'x',
    t.slice(1),
    t.replace('.', '-'),
    '*',
    `${tag}.${'*'.repeat(43)}`,
    `${tag}.${'A'.repeat(42)}=`,
    `${tag}.${'A'.repeat(42)}+`,
    `${tag}:${'A'.repeat(43)}`,
  ]) {
    assert.is(tagOfToken(bad), null, bad);
  }
  // Shape alone decides: any 22 + '.' + 43 base64url characters name their first 22 as the tag.
  assert.is(tagOfToken(`AbCdEfGhIjKlMnOpQr_-09.${'z'.repeat(43)}`), 'AbCdEfGhIjKlMnOpQr_-09');
  assert.is(tagOfToken(`${tag}.${'A'.repeat(42)}\n`), null);
});

test('session ids are public digests of the token: fixed format, not the token', () => {
  const t = newToken(userTag('bob'));
  const id = sessionIdOf(t);
  assert.ok(SESSION_ID_PATTERN.test(id));
  assert.is.not(id, t.slice(23, 45));
  assert.is(sessionIdOf(t), id);
  assert.is.not(sessionIdOf(newToken(userTag('bob'))), id);
});

test('key layout: one hash tag per user, digest of the id, prefix untouched', () => {
  const k = userKey('app:', userTag('}weird{id'));
  assert.match(k, /^app:\{[A-Za-z0-9_-]{22}\}:d$/);
  // The tag is the first 22 characters of base64url(SHA-256(UTF-8 bytes of the id)), computed
  // here from the bytes themselves; different users (even NFC vs NFD forms) get different tags.
  const digestOf = (bytes: number[]) =>
    createHash('sha256').update(Buffer.from(bytes)).digest('base64url').slice(0, 22);
  assert.is(userTag('\u00e9'), digestOf([0xc3, 0xa9]));
  assert.is(userTag('e\u0301'), digestOf([0x65, 0xcc, 0x81]));
  assert.is.not(userTag('\u00e9'), userTag('e\u0301'));
  assert.is.not(userTag('a'), userTag('b'));
});

test('express keys: the tombstone shares the session key slot (own tag or whole key), the index its user tag', () => {
  assert.is(expressTombstoneKey('sess:abc'), '{sess:abc}:destroyed');
  assert.is(expressIndexKey('sess:', 'ann'), `{${userTag('ann')}}:sess:by-user`);
});

test.run();
