import type { SessionData } from 'express-session';
import session from 'express-session';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigurationError } from '../../src/errors.js';
import { touchAfterOption, touchDue, unchangedApartFromExpires } from '../../src/express/lazy.js';

const test = suite('express lazy touch and lazy save');
const configError = (e: unknown) => e instanceof ConfigurationError;

test('touchAfter: 0 without the cache, a tenth of the TTL with it; seconds >= 0; > 0 needs the cache', () => {
  assert.is(touchAfterOption(undefined, false), 0);
  assert.is(touchAfterOption(undefined, true), 'tenth');
  assert.is(touchAfterOption(0, true), 0);
  assert.is(touchAfterOption(60, true), 60);
  assert.is(touchAfterOption(0, false), 0);
  assert.throws(() => touchAfterOption(60, false), configError);
  for (const bad of [-1, Number.NaN, Infinity, '60', null])
    assert.throws(() => touchAfterOption(bad, true), configError);
});

test('touchDue: sent when the expiry moves by at least touchAfter, or when it is not known', () => {
  const now = 1_000_000;
  // TTL 100 s: the new expiry is now + 100 s.
  assert.ok(touchDue(undefined, now, 100, 3600), 'nothing known: always');
  assert.ok(touchDue(now + 40_000, now, 100, 60), 'moves 60 s: due');
  assert.not.ok(touchDue(now + 40_001, now, 100, 60), 'moves 59.999 s: not');
  assert.ok(touchDue(now + 90_000, now, 100, 'tenth'), 'a tenth of 100 s is 10 s');
  assert.not.ok(touchDue(now + 90_001, now, 100, 'tenth'));
  assert.ok(touchDue(now + 100_000, now, 100, 0), 'touchAfter 0: every time');
  assert.ok(touchDue(now + 100_001, now, 100, 0), 'touchAfter 0: even when the clock estimate lags');
  assert.not.ok(touchDue(Number.POSITIVE_INFINITY, now, 100, 60), 'a key without expiry is never moved forward');
});

/** A session as express-session builds it for a request: a Session around a real Cookie. */
function loaded(stored: string): SessionData {
  const req = { sessionID: 'x', sessionStore: undefined } as never;
  const store = new session.MemoryStore();
  return store.createSession(req, JSON.parse(stored) as SessionData);
}

test("lazy save: equal apart from the cookie's expiry (and express-session's ms of originalMaxAge jitter)", async () => {
  const day = 86_400_000;
  const written = {
    cookie: { originalMaxAge: day, expires: new Date(Date.now() - 5000 + day), httpOnly: true, path: '/' },
    user: 'ann',
    profile: { roles: ['a'] },
  };
  const stored = JSON.stringify(written);
  const sess = loaded(stored);
  (sess as unknown as { touch(): void }).touch(); // what express-session does on every request
  assert.not.ok(JSON.stringify(sess) === stored, 'the expiry moved');
  assert.ok(await unchangedApartFromExpires(sess, stored, JSON));
  // Any other change is a change.
  (sess as { user?: string }).user = 'bob';
  assert.not.ok(await unchangedApartFromExpires(sess, stored, JSON));
  const nested = loaded(stored);
  (nested as unknown as { profile: { roles: string[] } }).profile.roles.push('b');
  assert.not.ok(await unchangedApartFromExpires(nested, stored, JSON));
  // A new maxAge (remember me) is a change, not jitter.
  const longer = loaded(stored);
  longer.cookie.maxAge = 30 * day;
  assert.not.ok(await unchangedApartFromExpires(longer, stored, JSON));
  // A cookie option changed (secure) is a change.
  const secure = loaded(stored);
  secure.cookie.secure = true;
  assert.not.ok(await unchangedApartFromExpires(secure, stored, JSON));
});

test('lazy save: a serializer that does not round-trip only costs writes', async () => {
  let n = 0;
  const counting = {
    parse: (s: string) => JSON.parse(s.slice(s.indexOf('{'))) as SessionData,
    stringify: (s: SessionData) => `${n++}${JSON.stringify(s)}`,
  };
  const stored = counting.stringify({ cookie: { originalMaxAge: null, httpOnly: true, path: '/' } });
  assert.not.ok(await unchangedApartFromExpires(JSON.parse(stored.slice(1)) as SessionData, stored, counting));
});

test.run();
