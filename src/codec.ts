import { CorruptSessionError } from './errors.js';
import type { AuthUser, Session } from './types.js';

/** The header fields of a stored value, in their order (ms; idleTtl in seconds; deadline 0: none). */
export interface ValueHeader {
  expiresAt: number;
  createdAt: number;
  lastAccessedAt: number;
  idleTtl: number;
  deadline: number;
}

/**
 * A session value as the scripts store it, built here for createSession so that no script
 * formats or concatenates it: the same format as `buildValue` in lua/includes/_value.lua.
 */
export function encodeValue(h: ValueHeader, metadataJson: string, userJson: string): string {
  return `1|${h.expiresAt}|${h.createdAt}|${h.lastAccessedAt}|${h.idleTtl}|${h.deadline}|${metadataJson}\n${userJson}`;
}

/**
 * Decodes what the scripts store (see lua/includes/_value.lua):
 *   "1|expiresAt|createdAt|lastAccessedAt|idleTtl|deadline|<metadata JSON>\n<user JSON>"
 * Anything else is reported as CorruptSessionError: never a partial session.
 */
export function decodeSession(id: string, value: unknown): Session {
  return sessionOf(id, requireValue(value), decodeHeader(value));
}

/** The session of a value whose header is already decoded (`header`, from decodeHeader(text)). */
export function sessionOf(id: string, text: string, header: StoredHeader): Session {
  const split = text.indexOf('\n', header.body);
  if (split < 0) throw new CorruptSessionError('no metadata separator');
  const metadata = parseJson(text.slice(header.body, split), 'metadata');
  const user = parseJson(text.slice(split + 1), 'user');
  if (!isStringRecord(metadata)) throw new CorruptSessionError('metadata is not an object of strings');
  if (!isUser(user)) throw new CorruptSessionError('user has no string id and username');
  const { expiresAt, createdAt, lastAccessedAt } = header;
  return { id, userId: user.id, user, createdAt, lastAccessedAt, expiresAt, metadata };
}

/** What a read needs of a stored value's header (ms), and where its metadata starts. */
export interface StoredHeader {
  expiresAt: number;
  createdAt: number;
  lastAccessedAt: number;
  /** Offset of the metadata JSON in the value. */
  body: number;
}

/** The value as a string in this store's format, or CorruptSessionError. */
export function requireValue(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('1|')) throw new CorruptSessionError('unknown value format');
  return value;
}

/** The header of a stored value; CorruptSessionError when it is not one. */
export function decodeHeader(input: unknown): StoredHeader {
  const value = requireValue(input);
  const header: StoredHeader = { expiresAt: 0, createdAt: 0, lastAccessedAt: 0, body: 0 };
  // Digits read in place: no substring per field (this runs on every read).
  let at = 2;
  for (let field = 0; field < 5; field++) {
    let n = 0;
    const start = at;
    for (let c = value.charCodeAt(at); c >= 48 && c <= 57; c = value.charCodeAt(++at)) n = n * 10 + (c - 48);
    if (at === start || at - start > 16 || value.charCodeAt(at) !== 124 || !Number.isSafeInteger(n)) {
      throw new CorruptSessionError('bad header');
    }
    if (field === 0) header.expiresAt = n;
    else if (field === 1) header.createdAt = n;
    else if (field === 2) header.lastAccessedAt = n;
    at++;
  }
  header.body = at;
  return header;
}

// Data read from Redis is not trusted: a planted "__proto__" key is refused before it can
// reach a caller's Object.assign. The substring tests keep the common case to one JSON.parse.
const FORBIDDEN = /"(?:__proto__|constructor|prototype)"\s*:/;

function parseJson(text: string, what: string): unknown {
  if (text === '{}') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CorruptSessionError(`${what} is not valid JSON`, { cause });
  }
  if (
    (text.includes('__proto__') || text.includes('constructor') || text.includes('prototype')) &&
    FORBIDDEN.test(text)
  ) {
    throw new CorruptSessionError(`${what} has a forbidden key`);
  }
  return parsed;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isStringRecord(v: unknown): v is Record<string, string> {
  if (!isObject(v)) return false;
  for (const key in v) if (typeof v[key] !== 'string') return false;
  return true;
}

function isUser(v: unknown): v is AuthUser {
  return isObject(v) && typeof v.id === 'string' && v.id.length > 0 && typeof v.username === 'string';
}
