import { CorruptSessionError } from '../errors.js';
import { expressTombstoneKey } from '../keys.js';
import type { CommandCall, ScriptCall } from '../transport/scripts.js';
import { ReplyCode } from './codes.js';

// The express-session adapter's requests: one pure builder per script and command, and one
// pure decoder per reply, as for the core store (src/ops/writes.ts). Each follows its script's
// header in lua/express*.lua. Keys come from src/keys.ts.

/** A session's user index entry: the index key and the sid (its member). */
export interface IndexEntry {
  readonly key: string;
  readonly sid: string;
}

/** set: the serialized session under `key` for `ttl` seconds (0: no TTL), refused after a destroy. */
export function setCall(key: string, value: string, ttl: number, index?: IndexEntry): ScriptCall {
  const tombstone = expressTombstoneKey(key);
  if (index === undefined) return { script: 'expressSet', keys: [key, tombstone], args: [value, String(ttl)] };
  return { script: 'expressSetIndexed', keys: [key, tombstone, index.key], args: [value, String(ttl), index.sid] };
}

/** Whether a set wrote; false when a tombstone refused it (the session was destroyed meanwhile). */
export function decodeSet(reply: unknown): boolean {
  const n = Number(reply);
  if (n === 1) return true;
  if (n === ReplyCode.NOT_FOUND) return false;
  throw new CorruptSessionError('unexpected expressSet reply');
}

/** touch without an index: connect-redis's plain EXPIRE (`ttl` >= 1). */
export function expireCommand(key: string, ttl: number): CommandCall {
  return { command: 'EXPIRE', args: [key, String(ttl)] };
}

/** touch with an index: the session's TTL and its index entry (`ttl` >= 1). */
export function touchIndexedCall(key: string, ttl: number, index: IndexEntry): ScriptCall {
  return { script: 'expressTouchIndexed', keys: [key, index.key], args: [String(ttl), index.sid] };
}

/** destroy: deletes the session and leaves a tombstone for at least `tombstoneMs`. */
export function destroyCall(key: string, tombstoneMs: number, index?: IndexEntry): ScriptCall {
  const tombstone = expressTombstoneKey(key);
  if (index === undefined) return { script: 'expressDestroy', keys: [key, tombstone], args: [String(tombstoneMs)] };
  return {
    script: 'expressDestroyIndexed',
    keys: [key, tombstone, index.key],
    args: [String(tombstoneMs), index.sid],
  };
}

/** 1 when a session was deleted, 0 when there was none. */
export function decodeDestroyed(reply: unknown): 0 | 1 {
  const n = Number(reply);
  if (n === 1 || n === ReplyCode.NOT_FOUND) return n;
  throw new CorruptSessionError('unexpected expressDestroy reply');
}

export function getCommand(key: string): CommandCall {
  return { command: 'GET', args: [key] };
}

/** Several sessions on one server in one command. */
export function mgetCommand(keys: readonly [string, ...string[]]): CommandCall {
  return { command: 'MGET', args: keys };
}

export function delCommand(keys: readonly [string, ...string[]]): CommandCall {
  return { command: 'DEL', args: keys };
}

/**
 * A read through the session cache: the value and its expiry, sent together on the tracked
 * connection (one round trip), so the entry knows when Redis will drop the key and a touch can
 * tell whether it would move it.
 */
export function cachedReadCommands(key: string): readonly [CommandCall, CommandCall] {
  return [getCommand(key), { command: 'PEXPIRETIME', args: [key] }];
}

/** A session as the cache holds it: the serializer's string and the key's expiry, under a digest of its key. */
export interface CachedSession {
  /** The digest of the session key (keys.ts expressKeyDigest): never the sid. */
  readonly id: string;
  readonly raw: string;
  /** When Redis drops the key, ms on the Redis clock; Infinity when it has no TTL. */
  readonly expiresAt: number;
}

/** The replies of cachedReadCommands: the session, or null when there is none (or it went meanwhile). */
export function decodeCachedRead(id: string, value: unknown, expireTime: unknown): CachedSession | null {
  const raw = decodeValue(value);
  const at = Number(expireTime);
  if (raw === null || at === -2) return null;
  if (!Number.isSafeInteger(at) || at < -1) throw new CorruptSessionError('unexpected PEXPIRETIME reply');
  return { id, raw, expiresAt: at === -1 ? Number.POSITIVE_INFINITY : at };
}

/** The serialized session in a GET reply, or null. */
export function decodeValue(reply: unknown): string | null {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === 'string') return reply;
  throw new CorruptSessionError('a session key holds no string');
}

/** The user's sessions live after `latest` (ms on the Redis clock), counted. */
export function countCommand(indexKey: string, latest: number): CommandCall {
  return { command: 'ZCOUNT', args: [indexKey, `(${Math.ceil(latest)}`, '+inf'] };
}

/** The user's sids live after `latest`. */
export function liveIdsCommand(indexKey: string, latest: number): CommandCall {
  return { command: 'ZRANGEBYSCORE', args: [indexKey, `(${Math.ceil(latest)}`, '+inf'] };
}

export function decodeCount(reply: unknown): number {
  const n = Number(reply);
  if (!Number.isSafeInteger(n) || n < 0) throw new CorruptSessionError('unexpected count reply');
  return n;
}

export function decodeIds(reply: unknown): string[] {
  if (!Array.isArray(reply)) throw new CorruptSessionError('unexpected ZRANGEBYSCORE reply');
  return reply.map(String);
}

/** One SCAN step over keys matching `glob`. */
export function scanArgs(cursor: string, glob: string, count: number): string[] {
  return [cursor, 'MATCH', glob, 'COUNT', String(count)];
}

/** A SCAN reply: the next cursor ('0': done) and the keys of this step. */
export function decodeScan(reply: unknown): { cursor: string; keys: string[] } {
  if (!Array.isArray(reply) || reply.length !== 2 || !Array.isArray(reply[1])) {
    throw new CorruptSessionError('unexpected SCAN reply');
  }
  return { cursor: String(reply[0]), keys: (reply[1] as unknown[]).map(String) };
}
