import { decodeHeader, requireValue, sessionOf } from '../codec.js';
import { CorruptSessionError } from '../errors.js';
import { META_FIELD } from '../keys.js';
import type { CommandCall, ScriptCall } from '../transport/scripts.js';
import type { Session } from '../types.js';

// Reads are plain commands: they change nothing, and one HGET (or HMGET, HGETALL) is atomic,
// so they need no script (REDIS-FACTS 21). The one exception is a batch of many users without
// the cache (readSessionsCall): one script instead of a command per user key, for the client's
// CPU, not for atomicity. Expiry is decided here against the Redis clock
// estimate: `latest` is the latest the Redis clock can read now, and a session that might have
// expired is expired.

export function getCommand(key: string, id: string): CommandCall {
  return { command: 'HGET', args: [key, id] };
}

/** Several sessions of one user in one command. */
export function getManyCommand(key: string, ids: readonly string[]): CommandCall {
  return { command: 'HMGET', args: [key, ...ids] };
}

/**
 * Many users' sessions in one call on one server (readSessions-n.lua): `groups` are the user
 * keys, each once, with the ids read from it. Not on a Cluster, where the keys hash to many
 * slots. When every key has one id (one session per user, the common batch) only the ids are
 * sent; else each key's count, then the ids. `total`: how many values the reply holds.
 */
export function readSessionsCall(groups: readonly (readonly [string, readonly string[]])[]): ScriptCall & {
  total: number;
} {
  const keys = groups.map(([key]) => key);
  let total = 0;
  for (const [, ids] of groups) total += ids.length;
  if (total === groups.length) return { script: 'readSessions', keys, args: groups.map(([, ids]) => ids[0]!), total };
  const args = groups.map(([, ids]) => String(ids.length));
  for (const [, ids] of groups) args.push(...ids);
  return { script: 'readSessions', keys, args, total };
}

/** The reply of readSessionsCall: every value, in the order of the ids sent (null where absent). */
export function decodeReadSessions(reply: unknown, total: number): readonly unknown[] {
  if (!Array.isArray(reply) || reply.length !== total) throw new CorruptSessionError('unexpected readSessions reply');
  return reply;
}

/** What a read found: the live session, nothing live, or a live session whose rolling touch is due. */
export const TOUCH_DUE = Symbol('touch due');
export type Opened = Session | null | typeof TOUCH_DUE;

/**
 * The one decision of a read: what the value `value` of session `id` opens at this time. Null
 * when absent or expired by `latest` (the latest the Redis clock can read now); TOUCH_DUE when
 * the session is live and was last touched at or before `touchDueAt` (ms on the Redis clock;
 * -Infinity: never, as without `rolling`). A malformed value throws CorruptSessionError.
 */
export function openValue(id: string, value: unknown, latest: number, touchDueAt: number): Opened {
  if (value === null || value === undefined) return null;
  const text = requireValue(value);
  const header = decodeHeader(text);
  if (header.expiresAt <= latest) return null;
  if (header.lastAccessedAt <= touchDueAt) return TOUCH_DUE;
  // One parse of the header per read: the session is built from the one just read.
  return sessionOf(id, text, header);
}

/** The live session a value holds, or null (no rolling: a touch is never due). */
export function decodeGet(id: string, value: unknown, latest: number): Session | null {
  const opened = openValue(id, value, latest, Number.NEGATIVE_INFINITY);
  return opened === TOUCH_DUE ? null : opened;
}

/** The values of an HMGET reply, one per id asked for; anything else is CorruptSessionError. */
export function decodeMany(reply: unknown, count: number): unknown[] {
  if (!Array.isArray(reply) || reply.length !== count) throw new CorruptSessionError('unexpected HMGET reply');
  return reply;
}

/** Whole seconds left (rounded up), counted from the latest the Redis clock can read; null when not live. */
export function decodeTtl(value: unknown, latest: number): number | null {
  if (value === null || value === undefined) return null;
  const { expiresAt } = decodeHeader(value);
  return expiresAt > latest ? ttlSeconds(expiresAt, latest) : null;
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
