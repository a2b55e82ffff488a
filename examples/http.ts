// The core store behind a plain Node HTTP server: bearer tokens, no framework.
// Run: REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/http.ts
import { createServer } from 'node:http';
import { RedisSessionStore, StoreUnavailableError } from '../src/index.js';

const store = await RedisSessionStore.connect({ defaultTtl: 3600, rolling: true, touchAfter: 60 });

createServer((req, res) => {
  const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  const reply = (status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  (async () => {
    if (req.method === 'POST' && req.url === '/login') {
      const session = await store.createSession(
        { id: 'user-1', username: 'ada' },
        { metadata: { ua: req.headers['user-agent'] ?? '' } },
      );
      return reply(201, { token: session.token, expiresAt: session.expiresAt });
    }
    const session = token === undefined ? null : await store.getSession(token);
    if (session === null) return reply(401, { error: 'no session' });
    if (req.method === 'POST' && req.url === '/logout') return reply(200, { ok: await store.destroySession(token!) });
    return reply(200, { user: session.user, expiresAt: session.expiresAt });
  })().catch((err: unknown) => {
    // Redis down is never "not logged in": answer 503 and let the client retry.
    reply(err instanceof StoreUnavailableError ? 503 : 500, { error: (err as Error).name });
  });
}).listen(3000, '127.0.0.1');
