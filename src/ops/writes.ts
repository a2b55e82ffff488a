import { decodeHeader, decodeSession } from '../codec.js';
import { CorruptSessionError, InvalidInputError } from '../errors.js';
import type { ScriptCall } from '../transport/scripts.js';
import type { Session } from '../types.js';
import { ReplyCode } from './codes.js';

// One pure builder (KEYS and ARGV, strings only) and one pure decoder (reply -> result or typed
// error) per write script, tested without a server. Each follows its script's header in lua/.

export interface CreateArgs {
  key: string;
  id: string;
  ttl: number;
  absoluteTtl: number;
  maxSessionsPerUser: number;
  metadataJson: string;
  userJson: string;
}

export function createCall(a: CreateArgs): ScriptCall {
  return {
    script: 'createSession',
    keys: [a.key],
    args: [a.id, String(a.ttl), String(a.absoluteTtl), String(a.maxSessionsPerUser), a.metadataJson, a.userJson],
  };
}

/** The stored header's expiresAt, createdAt and lastAccessedAt, and the ids the cap evicted. */
export function decodeCreate(reply: unknown): { header: [number, number, number]; evicted: string[] } {
  if (!Array.isArray(reply) || reply.length === 0) throw new CorruptSessionError('unexpected createSession reply');
  const [expiresAt, createdAt, lastAccessedAt] = decodeHeader(reply[0]);
  return { header: [expiresAt, createdAt, lastAccessedAt], evicted: reply.slice(1).map(String) };
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

export function metadataCall(key: string, id: string, patchJson: string, maxBytes: number): ScriptCall {
  return { script: 'updateSessionMetadata', keys: [key], args: [id, patchJson, String(maxBytes)] };
}

export function decodeMetadata(reply: unknown, maxBytes: number): boolean {
  const n = Number(reply);
  if (n === ReplyCode.TOO_LARGE)
    throw new InvalidInputError('patch', `the session's metadata would exceed ${maxBytes} bytes`);
  if (n === ReplyCode.MALFORMED) throw new CorruptSessionError('session metadata');
  return n === 1;
}

export function rotateCall(key: string, oldId: string, newId: string): ScriptCall {
  return { script: 'rotateSession', keys: [key], args: [oldId, newId] };
}

/** touchSession and rotateSession reply with a session value, or nil. */
export function decodeValueReply(id: string, reply: unknown): Session | null {
  return reply === null || reply === undefined ? null : decodeSession(id, reply);
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
