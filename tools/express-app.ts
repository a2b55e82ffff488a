/**
 * An app server for the adapter's tests and `npm run bench:express`: express 5 + express-session,
 * or Fastify 5 + @fastify/session, on connect-redis 7.1 or on ExpressSessionStore (with or without
 * its cache), on loopback. Started with fork(); the config comes in APP_CONFIG (JSON), the port
 * goes back over IPC as { port }. IPC requests: 'cpu' (answers process.cpuUsage()), 'stop'.
 *
 * Routes: POST /login/:user, GET /me (read only: 401 without a user), POST /rename/:name,
 * POST /logout.
 */
import type { AddressInfo } from 'node:net';
import fastifyCookie from '@fastify/cookie';
import fastifySession from '@fastify/session';
import RedisStore from 'connect-redis';
import express from 'express';
import session, { type Store } from 'express-session';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { benchMetadata, benchUser } from '../bench/payload.js';
import type { ExpressSessionStore as Adapter } from '../src/express.js';

export interface AppConfig {
  framework: 'express' | 'fastify';
  store: 'connect-redis' | 'adapter' | 'adapter + cache';
  redisUrl: string;
  /** express-session's resave (Fastify: rolling, which saves every request as resave does). */
  resave: boolean;
  /** The cache's staleness bound, ms (adapter + cache). */
  maxStalenessMs?: number;
  /** The adapter's touchAfter, seconds (adapter + cache). */
  touchAfter?: number;
  /** Where ExpressSessionStore comes from (another checkout's src/express.ts, for a before/after run). */
  adapterModule?: string;
}

export interface AppReply {
  port?: number;
  cpu?: NodeJS.CpuUsage;
}

declare module 'express-session' {
  interface SessionData {
    user?: string;
    name?: string;
    profile?: unknown;
    metadata?: unknown;
  }
}
declare module 'fastify' {
  interface Session {
    user?: string;
    name?: string;
    profile?: unknown;
    metadata?: unknown;
  }
}

// What a login keeps in the session besides the user's name: a profile and some metadata,
// about 700 bytes serialized (the benchmarks' usual payload).
let logins = 0;

const SECRET = 'a test secret that is long enough for fastify-session';
const MAX_AGE = 86_400_000;

async function main(): Promise<void> {
  const config = JSON.parse(process.env.APP_CONFIG ?? '{}') as AppConfig;
  // connect-redis's README client for ioredis; the adapter takes the same.
  const client = new Redis(config.redisUrl);
  const { ExpressSessionStore } = (await import(config.adapterModule ?? '../src/express.js')) as {
    ExpressSessionStore: typeof Adapter;
  };
  const adapter =
    config.store === 'connect-redis'
      ? undefined
      : new ExpressSessionStore({
          client,
          metrics: false,
          cache: config.store === 'adapter + cache' ? { maxStalenessMs: config.maxStalenessMs ?? 1000 } : undefined,
          touchAfter: config.touchAfter,
        });
  // An adapter from before the cache has no ready().
  if (typeof adapter?.ready === 'function') await adapter.ready();
  const store: Store = adapter ?? new RedisStore({ client });
  const port = config.framework === 'express' ? await expressApp(store, config) : await fastifyApp(store, config);
  process.on('message', (m) => {
    if (m === 'cpu') process.send!({ cpu: process.cpuUsage() } satisfies AppReply);
    if (m === 'stop') {
      if (typeof adapter?.close === 'function') adapter.close();
      client.disconnect();
      process.exit(0);
    }
  });
  process.send!({ port } satisfies AppReply);
}

async function expressApp(store: Store, config: AppConfig): Promise<number> {
  const app = express();
  app.use(
    session({
      store,
      secret: SECRET,
      resave: config.resave,
      saveUninitialized: false,
      cookie: { maxAge: MAX_AGE },
    }),
  );
  app.post('/login/:user', (req, res) => {
    req.session.user = req.params.user;
    req.session.name = req.params.user;
    req.session.profile = benchUser(logins++);
    req.session.metadata = benchMetadata;
    res.json({ ok: true });
  });
  app.get('/me', (req, res) => {
    if (req.session.user === undefined) res.status(401).json({ user: null });
    else res.json({ user: req.session.user, name: req.session.name });
  });
  app.post('/rename/:name', (req, res) => {
    req.session.name = req.params.name;
    res.json({ ok: true });
  });
  app.post('/logout', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.json({ ok: true })));
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((done) => server.once('listening', done));
  return (server.address() as AddressInfo).port;
}

async function fastifyApp(store: Store, config: AppConfig): Promise<number> {
  const app = Fastify();
  await app.register(fastifyCookie);
  await app.register(fastifySession, {
    store,
    secret: SECRET,
    saveUninitialized: false,
    rolling: config.resave,
    cookie: { maxAge: MAX_AGE, secure: false },
  });
  app.post<{ Params: { user: string } }>('/login/:user', (req, reply) => {
    req.session.set('user', req.params.user);
    req.session.set('name', req.params.user);
    req.session.set('profile', benchUser(logins++));
    req.session.set('metadata', benchMetadata);
    return reply.send({ ok: true });
  });
  app.get('/me', (req, reply) => {
    const user = req.session.get('user');
    if (user === undefined) return reply.code(401).send({ user: null });
    return reply.send({ user, name: req.session.get('name') });
  });
  app.post<{ Params: { name: string } }>('/rename/:name', (req, reply) => {
    req.session.set('name', req.params.name);
    return reply.send({ ok: true });
  });
  app.post('/logout', async (req) => {
    await req.session.destroy();
    return { ok: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return (app.server.address() as AddressInfo).port;
}

await main();
