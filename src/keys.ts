import { hash, randomFillSync } from 'node:crypto';

/**
 * Tokens, public ids and key names: the one place that knows the key layout.
 *
 *   token      = <userTag>.<secret>      22 + 1 + 43 characters of base64url
 *   userTag    = base64url(SHA-256(user id))[0..22]   (132 bits: names the user, slot and keys)
 *   secret     = 32 bytes from the CSPRNG               (256 bits)
 *   session id = base64url(SHA-256(token))[0..22]      (public, safe to log; Redis stores only this)
 *
 *   <prefix>{<userTag>}:d   hash  session id -> session value
 *   <prefix>{<userTag>}:x   zset  session id -> expiresAt (ms)
 *
 * The hash tag is a digest, never the raw user id, so any user id (empty-looking, with braces,
 * non-ASCII) puts all of that user's keys in one cluster slot, and the token alone locates them.
 */

const TAG_LENGTH = 22;
const SECRET_BYTES = 32;
export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/;
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

export interface UserKeys {
  data: string;
  index: string;
}

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

export function keysForTag(prefix: string, tag: string): UserKeys {
  const base = `${prefix}{${tag}}:`;
  return { data: `${base}d`, index: `${base}x` };
}
