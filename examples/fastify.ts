// @fastify/session on Redis through the same store, with the session cache: @fastify/session
// saves on every request by default (rolling); lazy save turns an unchanged save into a touch
// that is sent at most once per touchAfter (docs/express-session.md).
// Run: REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/fastify.ts
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { ExpressSessionStore } from '../src/express.js';

declare module 'fastify' {
  interface Session {
    visits?: number;
  }
}

const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const store = new ExpressSessionStore({ client, cache: true });
await store.ready();
const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  store,
  secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two characters',
  cookie: { secure: false, maxAge: 24 * 3600 * 1000 },
  saveUninitialized: false,
});
app.get('/visits', (req, reply) => {
  const visits = (req.session.get('visits') ?? 0) + 1;
  req.session.set('visits', visits);
  return reply.send({ visits });
});
app.addHook('onClose', () => store.close());
await app.listen({ host: '127.0.0.1', port: 3000 });
