import { decodeHeader, decodeSession } from '../codec.js';
import { CorruptSessionError } from '../errors.js';
import { META_FIELD } from '../keys.js';
import type { CommandCall } from '../transport/scripts.js';
import type { Session } from '../types.js';

// Reads are plain commands: they change nothing, and one HGET (or HMGET, HGETALL) is atomic,
// so they need no script (REDIS-FACTS 21). Expiry is decided here against the Redis clock
// estimate: `latest` is the latest the Redis clock can read now, and a session that might have
// expired is expired.

export function getCommand(key: string, id: string): CommandCall {
  return { command: 'HGET', args: [key, id] };
}

/** Several sessions of one user in one command. */
export function getManyCommand(key: string, ids: readonly string[]): CommandCall {
  return { command: 'HMGET', args: [key, ...ids] };
}

/** The stored value if it is a live session, else null; a malformed value throws CorruptSessionError. */
export function liveValue(value: unknown, latest: number): string | null {
  if (value === null || value === undefined) return null;
  const [expiresAt] = decodeHeader(value);
  return expiresAt > latest ? (value as string) : null;
}

export function decodeGet(id: string, value: unknown, latest: number): Session | null {
  if (value === null || value === undefined) return null;
  // One parse of the header: decodeSession reads it anyway (an expired session is rare).
  const session = decodeSession(id, value);
  return session.expiresAt > latest ? session : null;
}

/** Whole seconds left (rounded up), counted from the latest the Redis clock can read; null when not live. */
export function decodeTtl(value: unknown, latest: number): number | null {
  const live = liveValue(value, latest);
  if (live === null) return null;
  return ttlSeconds(decodeHeader(live)[0], latest);
}

/** Whole seconds from `latest` to `expiresAt`, rounded up. */
export function ttlSeconds(expiresAt: number, latest: number): number {
  return Math.ceil((expiresAt - latest) / 1000);
}

/** HLEN and the bookkeeping field: enough for an exact count while no session can have expired. */
export function countCommands(key: string): [CommandCall, CommandCall] {
  return [
    { command: 'HLEN', args: [key] },
    { command: 'HGET', args: [key, META_FIELD] },
  ];
}

/**
 * The count from HLEN when the user's earliest expiry is still ahead (every session is live),
 * or null when only a look at each session can tell (see lua/includes/_user.lua).
 */
export function decodeFastCount(fields: unknown, meta: unknown, latest: number): number | null {
  if (typeof meta !== 'string') return Number(fields) === 0 ? 0 : null;
  const min = Number(meta.slice(0, meta.indexOf('|')));
  return Number.isSafeInteger(min) && min > latest ? Number(fields) - 1 : null;
}

export function allCommand(key: string): CommandCall {
  return { command: 'HGETALL', args: [key] };
}

/** The live sessions in an HGETALL reply (a flat list or, under RESP3, a map), soonest expiry first. */
export function decodeAll(reply: unknown, latest: number): Session[] {
  const sessions: Session[] = [];
  for (const [id, value] of entries(reply)) {
    if (id === META_FIELD) continue;
    const session = decodeGet(id, value, latest);
    if (session !== null) sessions.push(session);
  }
  return sessions.sort((a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : 1));
}

function entries(reply: unknown): [string, unknown][] {
  if (reply instanceof Map) return [...(reply as Map<string, unknown>)];
  if (Array.isArray(reply)) {
    const out: [string, unknown][] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), reply[i + 1]]);
    return out;
  }
  if (reply !== null && typeof reply === 'object') return Object.entries(reply);
  throw new CorruptSessionError('unexpected HGETALL reply');
}
