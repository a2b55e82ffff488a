import { hash, randomFillSync } from 'node:crypto';

/**
 * Tokens, public ids and key names: the one place that knows the key layout.
 *
 *   token      = <userTag>.<secret>      22 + 1 + 43 characters of base64url
 *   userTag    = base64url(SHA-256(user id))[0..22]   (132 bits: names the user, slot and keys)
 *   secret     = 32 bytes from the CSPRNG               (256 bits)
 *   session id = base64url(SHA-256(token))[0..22]      (public, safe to log; Redis stores only this)
 *
 *   <prefix>{<userTag>}:d   hash  one user's sessions: session id -> session value, and the
 *                                 field "." -> "<minExpiry>|<keyExpiry>" (ms; from the user's second session: see lua/includes/_user.lua)
 *
 * One key per user: the hash is its own per-user index, so no eviction can split a user's index
 * from its sessions (REDIS-FACTS 7), and a user with one session costs one key.
 *
 * express-session keys (connect-redis's layout, plus two keys of our own):
 *   <prefix><sid>                   string  the serialized session, exactly as connect-redis writes it
 *   {<prefix><sid>}:destroyed       string  tombstone: the id was destroyed, refuse writes for a while
 *   {<userTag>}:<prefix>by-user     zset    per-user index: sid -> expiresAt (ms, '+inf' without TTL)
 * Neither the prefix nor a sid may contain '{' or '}', and a sid may not contain ':'. So a key
 * under the prefix is a session exactly when the rest is a valid sid (a longer prefix such as
 * `sess:admin:` leaves a ':' in the rest, and the core store's `{tag}:d` a brace), and the
 * adapter's own keys start with '{', never with the prefix.
 *
 * The hash tag is a digest, never the raw user id, so any user id (empty-looking, with braces,
 * non-ASCII) puts all of that user's keys in one cluster slot, and the token alone locates them.
 */

const TAG_LENGTH = 22;
const SECRET_BYTES = 32;
/** A token's length: the one check a cache lookup by the token's id is made after. */
export const TOKEN_LENGTH = TAG_LENGTH + 1 + 43;
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** A user tag, and a public session id, are 22 base64url characters. */
const TAG_PATTERN = SESSION_ID_PATTERN;
const USER_KEY_TAIL = '}:d';

/** The hash field that holds a user's bookkeeping; never a session id (those are 22 base64url characters). */
export const META_FIELD = '.';

export function userTag(userId: string): string {
  return hash('sha256', userId, 'base64url').slice(0, TAG_LENGTH);
}

// CSPRNG bytes fetched 4 KiB at a time (as crypto.randomUUID does): one call per 128 tokens
// instead of a 4 us randomBytes() per token. Every byte is used once.
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

export function newToken(tag: string): string {
  if (poolOffset + SECRET_BYTES > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const secret = pool.toString('base64url', poolOffset, poolOffset + SECRET_BYTES);
  poolOffset += SECRET_BYTES;
  return `${tag}.${secret}`;
}

/** The public id of the session a token opens. */
export function sessionIdOf(token: string): string {
  return hash('sha256', token, 'base64url').slice(0, TAG_LENGTH);
}

/** The user tag a well-formed token carries, or null when the string is not a token. */
export function tagOfToken(token: string): string | null {
  return TOKEN_PATTERN.test(token) ? token.slice(0, TAG_LENGTH) : null;
}

/**
 * The user tag of a token a cache entry was found by. The entry's id is a digest of the whole
 * token, so only a well-formed token finds one: nothing is left to check.
 */
export function tagOfFoundToken(token: string): string {
  return token.slice(0, TAG_LENGTH);
}

/** The key of a user's sessions, by user tag. */
export function userKey(prefix: string, tag: string): string {
  return `${prefix}{${tag}${USER_KEY_TAIL}`;
}

/** Whether `key` is a user key of the core store under `prefix` (`<prefix>{<tag>}:d`). */
export function isUserKey(key: string, prefix: string): boolean {
  return (
    key.length === prefix.length + TAG_LENGTH + 1 + USER_KEY_TAIL.length &&
    key.startsWith(prefix) &&
    key.charCodeAt(prefix.length) === 123 && // '{'
    key.endsWith(USER_KEY_TAIL)
  );
}

/** Escapes glob characters, so that `text` matches only itself in a SCAN MATCH or ACL key pattern. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** The glob of every key that starts with `prefix`. */
export function prefixGlob(prefix: string): string {
  return `${globEscape(prefix)}*`;
}

/**
 * express-session: whether `sid` can name a session. ':' and braces are refused: with them a
 * session key could not be told from a longer prefix's key or the adapter's own, and a brace
 * would move the cluster hash tag. express-session's and Fastify's generated ids are base64url.
 */
export function isExpressSid(sid: unknown): sid is string {
  return typeof sid === 'string' && sid.length > 0 && !/[:{}]/.test(sid);
}

/** express-session: the key of a session, exactly as connect-redis names it. */
export function expressSessionKey(prefix: string, sid: string): string {
  return prefix + sid;
}

/**
 * express-session: a session key's tombstone, in the session key's cluster slot (the whole key
 * is the tag: neither the prefix nor a session id may hold a brace).
 */
export function expressTombstoneKey(sessionKey: string): string {
  return `{${sessionKey}${TOMBSTONE_TAIL}`;
}

/**
 * express-session: the name the session cache files a session key under. The key holds the
 * sid, which is a bearer secret: the cache keeps this digest instead (all 256 bits, so two
 * sessions never share an entry).
 */
export function expressKeyDigest(sessionKey: string): string {
  return hash('sha256', sessionKey, 'base64url');
}

/** express-session: a user's index of session ids, in the user tag's slot. */
export function expressIndexKey(prefix: string, userId: string): string {
  return `{${userTag(userId)}${indexTail(prefix)}`;
}

const TOMBSTONE_TAIL = '}:destroyed';

function indexTail(prefix: string): string {
  return `}:${prefix}by-user`;
}

/** A glob and an exact test for one family of the adapter's keys under a prefix (for SCAN). */
export interface KeyFamily {
  readonly glob: string;
  has(key: string): boolean;
}

/** express-session: the prefix's session keys (a longer prefix's keys leave a ':' after it). */
export function expressSessionKeys(prefix: string): KeyFamily {
  return { glob: prefixGlob(prefix), has: (k) => k.startsWith(prefix) && isExpressSid(k.slice(prefix.length)) };
}

/** express-session: the prefix's tombstones, `{<prefix><sid>}:destroyed`. */
export function expressTombstoneKeys(prefix: string): KeyFamily {
  const open = `{${prefix}`;
  return {
    glob: `${globEscape(open)}*${globEscape(TOMBSTONE_TAIL)}`,
    has: (k) =>
      k.startsWith(open) &&
      k.endsWith(TOMBSTONE_TAIL) &&
      isExpressSid(k.slice(open.length, k.length - TOMBSTONE_TAIL.length)),
  };
}

/** express-session: the prefix's per-user index keys, `{<userTag>}:<prefix>by-user`. */
export function expressIndexKeys(prefix: string): KeyFamily {
  const tail = indexTail(prefix);
  return {
    glob: `{*${globEscape(tail)}`,
    has: (k) =>
      k.length === 1 + TAG_LENGTH + tail.length &&
      k.charCodeAt(0) === 123 && // '{'
      k.endsWith(tail) &&
      TAG_PATTERN.test(k.slice(1, 1 + TAG_LENGTH)),
  };
}

/** express-session: the sid of a session key under `prefix`. */
export function sidOfKey(prefix: string, key: string): string {
  return key.slice(prefix.length);
}
