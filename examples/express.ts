// express-session on Redis, as a drop-in for connect-redis, with a per-user index and the
// session cache: a read-only request sends nothing to Redis, and a logout on any app server
// reaches the others within the cache's revocation window (docs/express-session.md).
// Run: REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/express.ts
import express from 'express';
import session from 'express-session';
import { Redis } from 'ioredis';
import { ExpressSessionStore } from '../src/express.js';

declare module 'express-session' {
  interface SessionData {
    user?: string;
  }
}

const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
// touchAfter defaults to a tenth of the session's TTL with the cache: an active session is
// written back at most that often, however many requests it makes.
const store = new ExpressSessionStore({ client, userId: (s) => s.user, cache: true });
await store.ready();

const app = express();
app.use(
  session({
    store,
    secret: process.env.SESSION_SECRET ?? 'change me',
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge: 24 * 3600 * 1000 },
  }),
);
app.post('/login/:user', (req, res) => {
  req.session.user = req.params.user;
  res.json({ ok: true });
});
app.get('/me', (req, res) => {
  res.json({ user: req.session.user ?? null });
});
app.post('/logout-everywhere', async (req, res) => {
  const user = req.session.user;
  res.json({ destroyed: user === undefined ? 0 : await store.destroyUserSessions(user) });
});
app.listen(3000, '127.0.0.1');
