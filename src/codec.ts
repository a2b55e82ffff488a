import { CorruptSessionError } from './errors.js';
import type { AuthUser, Session } from './types.js';

/**
 * Decodes what the scripts store (see lua/includes/_value.lua):
 *   "1|createdAt|lastAccessedAt|idleTtl|absoluteDeadline|<metadata JSON>\n<user JSON>"
 * Anything else is reported as CorruptSessionError: never a partial session.
 */
export function decodeSession(id: string, value: unknown, expiresAt: unknown): Session {
  if (typeof value !== 'string' || !value.startsWith('1|')) throw new CorruptSessionError('unknown value format');
  const fields: number[] = [];
  let start = 2;
  for (let i = 0; i < 4; i++) {
    const end = value.indexOf('|', start);
    const n = end < 0 ? NaN : Number(value.slice(start, end));
    if (!Number.isSafeInteger(n) || n < 0) throw new CorruptSessionError('bad header');
    fields.push(n);
    start = end + 1;
  }
  const split = value.indexOf('\n', start);
  if (split < 0) throw new CorruptSessionError('no metadata separator');
  const expiry = Number(expiresAt);
  if (!Number.isSafeInteger(expiry)) throw new CorruptSessionError('bad expiry');

  const metadata = parseJson(value.slice(start, split), 'metadata');
  const user = parseJson(value.slice(split + 1), 'user');
  if (!isStringRecord(metadata)) throw new CorruptSessionError('metadata is not an object of strings');
  if (!isUser(user)) throw new CorruptSessionError('user has no string id and username');
  return {
    id,
    userId: user.id,
    user,
    createdAt: fields[0]!,
    lastAccessedAt: fields[1]!,
    expiresAt: expiry,
    metadata,
  };
}

// Data read from Redis is not trusted: a planted "__proto__" key is refused before it can
// reach a caller's Object.assign. The substring test keeps the common case to one JSON.parse.
const FORBIDDEN = /"(?:__proto__|constructor|prototype)"\s*:/;

function parseJson(text: string, what: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new CorruptSessionError(`${what} is not valid JSON`, { cause });
  }
  if (FORBIDDEN.test(text)) throw new CorruptSessionError(`${what} has a forbidden key`);
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
