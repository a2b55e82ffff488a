import { decodeHeader, decodeSession, encodeValue, type ValueHeader } from '../codec.js';
import { CorruptSessionError, InvalidInputError } from '../errors.js';
import type { ScriptCall } from '../transport/scripts.js';
import type { AuthUser, CreatedSession, Session } from '../types.js';
import { ReplyCode } from './codes.js';

// One pure builder (KEYS and ARGV, strings only) and one pure decoder (reply -> result or typed
// error) per write script, tested without a server. Each follows its script's header in lua/.

/**
 * A new session's header. `now` is the caller's earliest bound of the Redis clock (ms): the
 * session expires `ttl` seconds after it, never after `absoluteTtl` seconds (0: no limit).
 */
export function newHeader(now: number, ttl: number, absoluteTtl: number): ValueHeader {
  const createdAt = Math.floor(now);
  const deadline = absoluteTtl > 0 ? createdAt + absoluteTtl * 1000 : 0;
  const idle = createdAt + ttl * 1000;
  const expiresAt = deadline > 0 && idle > deadline ? deadline : idle;
  return { expiresAt, createdAt, lastAccessedAt: createdAt, idleTtl: ttl, deadline };
}

export interface CreateArgs {
  key: string;
  id: string;
  /** The new session's header: createdAt is the caller's earliest bound of the Redis clock. */
  header: ValueHeader;
  maxSessionsPerUser: number;
  metadataJson: string;
  userJson: string;
}

export function createCall(a: CreateArgs): ScriptCall {
  const h = a.header;
  return {
    script: 'createSession',
    keys: [a.key],
    args: [
      a.id,
      encodeValue(h, a.metadataJson, a.userJson),
      String(h.expiresAt),
      String(h.idleTtl),
      String(h.createdAt),
      String(a.maxSessionsPerUser),
    ],
  };
}

/** What createSession sent, as decodeCreate needs it to build the result. */
export interface SentCreate {
  readonly token: string;
  readonly id: string;
  readonly header: ValueHeader;
  readonly userId: string;
  readonly userJson: string;
  readonly metadata: Readonly<Record<string, string>> | undefined;
}

/**
 * The created session, with the ids the cap evicted. The script replies 1 when it stored the
 * value sent, or the value of the session already live under this id (a create re-sent after a
 * reconnect): then only its header is read back, the data is what was sent.
 */
export function decodeCreate(reply: unknown, sent: SentCreate): CreatedSession {
  if (!Array.isArray(reply) || reply.length === 0) throw new CorruptSessionError('unexpected createSession reply');
  const { expiresAt, createdAt, lastAccessedAt } = reply[0] === 1 ? sent.header : decodeHeader(reply[0]);
  return {
    id: sent.id,
    userId: sent.userId,
    user: JSON.parse(sent.userJson) as AuthUser,
    createdAt,
    lastAccessedAt,
    expiresAt,
    metadata: sent.metadata === undefined ? {} : { ...sent.metadata },
    token: sent.token,
    evictedSessionIds: reply.slice(1).map(String),
  };
}

/** ttl 0: keep the session's own idle TTL. */
export function refreshCall(key: string, id: string, ttl: number): ScriptCall {
  return { script: 'refreshSession', keys: [key], args: [id, String(ttl)] };
}

export function decodeRefresh(reply: unknown): boolean {
  const n = Number(reply);
  if (n === ReplyCode.MALFORMED) throw new CorruptSessionError('session header');
  return n > 0;
}

export function touchCall(key: string, id: string, touchAfterMs: number): ScriptCall {
  return { script: 'touchSession', keys: [key], args: [id, String(touchAfterMs)] };
}

export function destroyCall(key: string, id: string): ScriptCall {
  return { script: 'destroySession', keys: [key], args: [id] };
}

/**
 * Whether a live session was destroyed. The script returns the destroyed session's expiry; it
 * was live unless that expiry might have passed on the Redis clock (`latest`). A malformed
 * value that was there counts as destroyed.
 */
export function decodeDestroy(reply: unknown, latest: number): boolean {
  const n = Number(reply);
  if (n === ReplyCode.MALFORMED) return true;
  return n > latest;
}

/** `latest`: the latest the Redis clock can read now (the script's line for "expired"). */
export function metadataCall(key: string, id: string, patchJson: string, maxBytes: number, latest: number): ScriptCall {
  return {
    script: 'updateSessionMetadata',
    keys: [key],
    args: [id, patchJson, String(maxBytes), String(Math.ceil(latest))],
  };
}

export function decodeMetadata(reply: unknown, maxBytes: number): boolean {
  const n = Number(reply);
  if (n === ReplyCode.TOO_LARGE)
    throw new InvalidInputError('patch', `the session's metadata would exceed ${maxBytes} bytes`);
  if (n === ReplyCode.MALFORMED) throw new CorruptSessionError('session metadata');
  return n === 1;
}

/** `latest`: as for metadataCall; also the rotated session's lastAccessedAt. */
export function rotateCall(key: string, oldId: string, newId: string, latest: number): ScriptCall {
  return { script: 'rotateSession', keys: [key], args: [oldId, newId, String(Math.ceil(latest))] };
}

/**
 * touchSession and rotateSession reply with a session value, or nil. A rotation may land on a
 * session that expired while it was in flight (it moves it, still expired): pass `latest` to
 * report that as null.
 */
export function decodeValueReply(id: string, reply: unknown, latest = Number.NEGATIVE_INFINITY): Session | null {
  if (reply === null || reply === undefined) return null;
  const session = decodeSession(id, reply);
  return session.expiresAt > latest ? session : null;
}

/** keepId '': keep none. */
export function destroyAllCall(key: string, keepId: string): ScriptCall {
  return { script: 'destroyUserSessions', keys: [key], args: [keepId] };
}

export function decodeCount(reply: unknown): number {
  const n = Number(reply);
  if (!Number.isSafeInteger(n) || n < 0) throw new CorruptSessionError('unexpected destroyUserSessions reply');
  return n;
}
