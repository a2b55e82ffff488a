import type { SessionData } from 'express-session';
import { ConfigurationError } from '../errors.js';
import type { Serializer } from './options.js';

// Lazy touch and lazy save: the rules that let a request whose session did not change reach
// Redis almost never. Pure: the adapter supplies what the cache knows of the stored session.

/** `touchAfter` as given: seconds, or a tenth of each session's TTL (the default with the cache). */
export type TouchAfter = number | 'tenth';

/** The `touchAfter` option: 0 without the cache (connect-redis's touch on every request), a tenth of the TTL with it. */
export function touchAfterOption(value: unknown, cached: boolean): TouchAfter {
  if (value === undefined) return cached ? 'tenth' : 0;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigurationError('touchAfter', 'expected seconds (a finite number >= 0)');
  }
  if (value > 0 && !cached) {
    throw new ConfigurationError(
      'touchAfter',
      "needs the cache: the adapter learns a session's Redis expiry when it reads it into the cache",
    );
  }
  return value;
}

/**
 * Whether a touch must be sent: it moves the key's expiry (`expiresAt`, ms on the Redis clock,
 * undefined when the cache does not hold the session) to `now + ttl` by at least `touchAfter`.
 * Not knowing the expiry, or with touchAfter 0, it always is.
 */
export function touchDue(expiresAt: number | undefined, now: number, ttlSeconds: number, after: TouchAfter): boolean {
  // 0 is connect-redis's touch on every request, whatever the clock estimate says.
  if (expiresAt === undefined || after === 0) return true;
  const afterMs = after === 'tenth' ? ttlSeconds * 100 : after * 1000;
  return now + ttlSeconds * 1000 - expiresAt >= afterMs;
}

/**
 * Whether `sess` serializes to what is stored (`stored`, the serializer's string), apart from
 * `cookie.expires`: express-session with `resave` and @fastify/session with `rolling` save every
 * request with only the expiry moved. The stored expiry is put into a copy of `sess` and the
 * copy serialized; any other difference (or a serializer that does not round-trip) means a write.
 */
export function unchangedApartFromExpires(
  sess: SessionData,
  stored: string,
  serializer: Serializer,
): boolean | Promise<boolean> {
  const parsed = serializer.parse(stored);
  if (parsed instanceof Promise) return parsed.then((before) => sameAs(sess, before, stored, serializer));
  return sameAs(sess, parsed, stored, serializer);
}

function sameAs(sess: SessionData, before: Partial<SessionData>, stored: string, serializer: Serializer): boolean {
  const cookie: object | undefined = sess.cookie;
  const storedCookie: object | undefined = before.cookie;
  if (cookie === undefined || storedCookie === undefined) return serializer.stringify(sess) === stored;
  // The cookie as it serializes (express-session's and Fastify's Cookie have toJSON), in the
  // same key order, with the stored expiry fields in place of the new ones.
  const plain: Record<string, unknown> = { ...(hasToJSON(cookie) ? cookie.toJSON() : cookie) };
  for (const field of EXPIRY_FIELDS) {
    if (field in plain || field in storedCookie) plain[field] = fieldOf(storedCookie, field);
  }
  // express-session recomputes originalMaxAge from the clock as it moves the expiry, a
  // millisecond off now and then; a deliberate change (a new maxAge) is far larger.
  const age = plain.originalMaxAge;
  const storedAge = fieldOf(storedCookie, 'originalMaxAge');
  if (typeof age === 'number' && typeof storedAge === 'number' && Math.abs(age - storedAge) <= AGE_JITTER_MS) {
    plain.originalMaxAge = storedAge;
  }
  return serializer.stringify(Object.assign({}, sess, { cookie: plain })) === stored;
}

const AGE_JITTER_MS = 1000;

// express-session's expiry, and @fastify/session's record of the previous one (it moves with it).
const EXPIRY_FIELDS = ['expires', 'originalExpires'] as const;

function fieldOf(value: object, field: string): unknown {
  const found: unknown = Reflect.get(value, field);
  return found;
}

function hasToJSON(value: object): value is { toJSON(): object } {
  return 'toJSON' in value && typeof value.toJSON === 'function';
}
