// express-session on Redis, as a drop-in for connect-redis, with a per-user index.
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
const store = new ExpressSessionStore({ client, userId: (s) => s.user });

const app = express();
app.use(session({ store, secret: process.env.SESSION_SECRET ?? 'change me', resave: false, saveUninitialized: false }));
app.post('/login/:user', (req, res) => {
  req.session.user = req.params.user;
  res.json({ ok: true });
});
app.post('/logout-everywhere', async (req, res) => {
  const user = req.session.user;
  res.json({ destroyed: user === undefined ? 0 : await store.destroyUserSessions(user) });
});
app.listen(3000, '127.0.0.1');
