import { InvalidInputError } from './errors.js';
import { MAX_TTL_SECONDS } from './config/options.js';
import { describe } from './config/values.js';
import { SESSION_ID_PATTERN, sessionIdOf, tagOfToken, userTag } from './keys.js';
import type { DestroyUserSessionsOptions, MetadataPatch } from './types.js';

// Keys that change an object's prototype through Object.assign or a merge.
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_USER_ID_BYTES = 256;
const MAX_METADATA_KEY_BYTES = 256;
const MAX_USER_DEPTH = 16;
// C0 and C1 control characters: harmless to Redis (RESP is length-prefixed) but a log-injection risk.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** A string parameter: a real string (ioredis would flatten an array into extra arguments). */
export function requireString(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new InvalidInputError(name, `expected a string, got ${describe(value)}`);
  return value;
}

/** A user id: non-empty, well-formed UTF-16, no control characters, at most 256 UTF-8 bytes. Compared as bytes. */
export function validateUserId(value: unknown, name = 'userId'): string {
  const id = requireString(name, value);
  if (id.length === 0) throw new InvalidInputError(name, 'must not be empty');
  // Lone surrogates all encode to U+FFFD: three different ids would share one Redis key.
  if (!id.isWellFormed()) throw new InvalidInputError(name, 'contains a lone surrogate (ill-formed UTF-16)');
  if (CONTROL_CHARS.test(id)) throw new InvalidInputError(name, 'contains a control character');
  if (Buffer.byteLength(id) > MAX_USER_ID_BYTES)
    throw new InvalidInputError(name, `longer than ${MAX_USER_ID_BYTES} bytes`);
  return id;
}

/** A TTL in whole seconds, from 1 up to `max`. */
export function validateTtl(value: unknown, max: number, name = 'ttl'): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InvalidInputError(name, `expected a whole number of seconds, got ${describe(value)}`);
  }
  if (value < 1) throw new InvalidInputError(name, `must be at least 1 second, got ${value}`);
  const limit = Math.min(max, MAX_TTL_SECONDS);
  if (value > limit)
    throw new InvalidInputError(name, `must be at most ${limit} seconds (absoluteTtl or the maximum), got ${value}`);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function checkKey(name: string, key: string): void {
  if (FORBIDDEN_KEYS.has(key)) throw new InvalidInputError(name, `the key "${key}" is not allowed`);
  if (!key.isWellFormed()) throw new InvalidInputError(name, 'a key contains a lone surrogate');
}

/**
 * The user object, returned as its JSON. Only plain JSON survives a round trip unchanged, so
 * anything JSON.stringify would drop or alter (undefined, functions, BigInt, NaN, Dates, cycles)
 * is rejected rather than silently changed.
 */
export function encodeUser(value: unknown, maxBytes: number): { id: string; json: string } {
  if (!isPlainObject(value)) throw new InvalidInputError('user', `expected a plain object, got ${describe(value)}`);
  const id = validateUserId(value.id, 'user.id');
  if (typeof value.username !== 'string') {
    throw new InvalidInputError('user.username', `expected a string, got ${describe(value.username)}`);
  }
  checkJson('user', value, 0);
  const json = JSON.stringify(value);
  if (Buffer.byteLength(json) > maxBytes) throw new InvalidInputError('user', `JSON is larger than ${maxBytes} bytes`);
  return { id, json };
}

// The depth limit also stops cycles: a cyclic object is reported as too deeply nested.
function checkJson(path: string, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      if (!value.isWellFormed()) throw new InvalidInputError(path, 'contains a lone surrogate');
      return;
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidInputError(path, `${value} is not representable in JSON`);
      return;
    case 'object':
      break;
    default:
      throw new InvalidInputError(path, `a value of type ${typeof value} is not JSON`);
  }
  if (value === null) return;
  if (depth >= MAX_USER_DEPTH)
    throw new InvalidInputError(path, `nested deeper than ${MAX_USER_DEPTH} levels (or cyclic)`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(path, value[i], depth + 1);
  } else if (isPlainObject(value)) {
    for (const key of Object.keys(value)) {
      checkKey(path, key);
      checkJson(path, value[key], depth + 1);
    }
  } else {
    throw new InvalidInputError(
      path,
      'only plain objects and arrays are allowed (no class instances, Dates or Buffers)',
    );
  }
}

/** Initial metadata: a plain object of string values within the byte limit; returned as JSON. */
export function encodeMetadata(value: unknown, maxBytes: number): string {
  if (value === undefined) return '{}';
  return JSON.stringify(checkMetadata('metadata', value, maxBytes, false));
}

/** A metadata patch: string values set, null values remove; returned as JSON for the script. */
export function encodePatch(value: unknown, maxBytes: number): string {
  return JSON.stringify(checkMetadata('patch', value, maxBytes, true));
}

function checkMetadata(name: string, value: unknown, maxBytes: number, allowNull: boolean): MetadataPatch {
  if (!isPlainObject(value)) throw new InvalidInputError(name, `expected a plain object, got ${describe(value)}`);
  let bytes = 0;
  for (const key of Object.keys(value)) {
    const v = value[key];
    checkKey(name, key);
    if (key.length === 0) throw new InvalidInputError(name, 'keys must not be empty');
    if (Buffer.byteLength(key) > MAX_METADATA_KEY_BYTES)
      throw new InvalidInputError(name, `a key is longer than ${MAX_METADATA_KEY_BYTES} bytes`);
    if (v === null && allowNull) {
      bytes += Buffer.byteLength(key);
      continue;
    }
    if (typeof v !== 'string') {
      throw new InvalidInputError(
        `${name}.${key}`,
        `expected a string${allowNull ? ' or null' : ''}, got ${describe(v)}`,
      );
    }
    if (!v.isWellFormed()) throw new InvalidInputError(`${name}.${key}`, 'contains a lone surrogate');
    bytes += Buffer.byteLength(key) + Buffer.byteLength(v);
  }
  if (bytes > maxBytes) throw new InvalidInputError(name, `larger than ${maxBytes} bytes (keys plus values)`);
  return value as MetadataPatch;
}

/**
 * The public id of the session destroyUserSessions keeps ('' for none): `except` must be a
 * token of this user's (keeping a session the caller cannot name would destroy everything),
 * `exceptSessionId` a session id; not both.
 */
export function keptSessionId(userId: string, options: DestroyUserSessionsOptions): string {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
  let keep = '';
  if (options.except !== undefined) {
    const except = requireString('options.except', options.except);
    if (tagOfToken(except) !== userTag(userId))
      throw new InvalidInputError('options.except', "is not a token of this user's");
    keep = sessionIdOf(except);
  }
  if (options.exceptSessionId !== undefined) {
    if (keep !== '') throw new InvalidInputError('options', 'give except or exceptSessionId, not both');
    keep = requireString('options.exceptSessionId', options.exceptSessionId);
    if (!SESSION_ID_PATTERN.test(keep)) throw new InvalidInputError('options.exceptSessionId', 'is not a session id');
  }
  return keep;
}
