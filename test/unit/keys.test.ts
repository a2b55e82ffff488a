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
    t.toUpperCase().replace(/[^A-Z0-9_.-]/g, ''),
  ]) {
    if (bad === t) continue;
    assert.is(tagOfToken(bad), bad.length === 66 && TOKEN_PATTERN.test(bad) ? bad.slice(0, 22) : null, bad);
  }
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
  // Same user, same tag; different users (even NFC vs NFD forms) get different tags.
  assert.is(userTag('é'), userTag('é'));
  assert.is.not(userTag('\u00e9'), userTag('e\u0301'));
  assert.is.not(userTag('a'), userTag('b'));
});

test('express keys: the tombstone shares the session key slot (own tag or whole key), the index its user tag', () => {
  assert.is(expressTombstoneKey('sess:abc'), '{sess:abc}:destroyed');
  assert.is(expressIndexKey('sess:', 'ann'), `{${userTag('ann')}}:sess:by-user`);
});

test.run();
