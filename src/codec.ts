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
  const [expiresAt, createdAt, lastAccessedAt, start] = decodeHeader(value);
  const text = value as string;
  const split = text.indexOf('\n', start);
  if (split < 0) throw new CorruptSessionError('no metadata separator');
  const metadata = parseJson(text.slice(start, split), 'metadata');
  const user = parseJson(text.slice(split + 1), 'user');
  if (!isStringRecord(metadata)) throw new CorruptSessionError('metadata is not an object of strings');
  if (!isUser(user)) throw new CorruptSessionError('user has no string id and username');
  return { id, userId: user.id, user, createdAt, lastAccessedAt, expiresAt, metadata };
}

/** The header's expiresAt, createdAt and lastAccessedAt, and where the metadata starts. */
export function decodeHeader(value: unknown): [number, number, number, number] {
  if (typeof value !== 'string' || !value.startsWith('1|')) throw new CorruptSessionError('unknown value format');
  const header: [number, number, number, number] = [0, 0, 0, 0];
  // Digits read in place: no substring per field (this runs on every read).
  let at = 2;
  for (let field = 0; field < 5; field++) {
    let n = 0;
    const start = at;
    for (let c = value.charCodeAt(at); c >= 48 && c <= 57; c = value.charCodeAt(++at)) n = n * 10 + (c - 48);
    if (at === start || at - start > 16 || value.charCodeAt(at) !== 124 || !Number.isSafeInteger(n)) {
      throw new CorruptSessionError('bad header');
    }
    if (field < 3) header[field] = n;
    at++;
  }
  header[3] = at;
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
