import type { AuthUser } from '../src/index.js';

/** A realistic session: a user of ~100 bytes of JSON and two metadata entries of ~100 bytes. */
export function benchUser(i: number): AuthUser {
  const n = String(i).padStart(7, '0');
  return { id: `user-${n}`, username: `user${n}@example.com`, displayName: `User ${n}`, roles: ['member', 'beta'] };
}

export const benchMetadata: Record<string, string> = {
  userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
  location: 'ip=203.0.113.42; city=Paris; country=FR; asn=AS3215; device=desktop; os=Linux; lang=fr',
};

/** The same data as an express-session session object, for connect-redis and the naive stores. */
export function expressSession(i: number, ttlSeconds: number): Record<string, unknown> & { cookie: object } {
  const now = Date.now();
  return {
    cookie: {
      originalMaxAge: ttlSeconds * 1000,
      expires: new Date(now + ttlSeconds * 1000).toISOString(),
      httpOnly: true,
      path: '/',
    },
    user: benchUser(i),
    metadata: benchMetadata,
    createdAt: now,
    lastAccessedAt: now,
  };
}
