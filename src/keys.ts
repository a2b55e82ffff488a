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
 *                                 field "." -> "<minExpiry>|<keyExpiry>" (ms; see lua/includes/_user.lua)
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
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

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

/** The key of a user's sessions, by user tag. */
export function userKey(prefix: string, tag: string): string {
  return `${prefix}{${tag}}:d`;
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
  return `{${sessionKey}}:destroyed`;
}

/** express-session: a user's index of session ids, in the user tag's slot. */
export function expressIndexKey(prefix: string, userId: string): string {
  return `{${userTag(userId)}}:${prefix}by-user`;
}
