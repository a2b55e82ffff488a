// @fastify/session on Redis through the same store.
// Run: REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/fastify.ts
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { ExpressSessionStore } from '../src/express.js';

const client = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const app = Fastify();
await app.register(fastifyCookie);
await app.register(fastifySession, {
  store: new ExpressSessionStore({ client }),
  secret: process.env.SESSION_SECRET ?? 'a secret of at least thirty-two characters',
  cookie: { secure: false },
  saveUninitialized: false,
});
app.get('/visits', (req) => {
  const visits = Number(req.session.get('visits' as never) ?? 0) + 1;
  req.session.set('visits' as never, visits as never);
  return { visits };
});
await app.listen({ host: '127.0.0.1', port: 3000 });
