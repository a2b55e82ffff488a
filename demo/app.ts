import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { InvalidInputError, StoreUnavailableError, type RedisSessionStore, type Session } from '../src/index.js';

const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

async function readJson(req: IncomingMessage, required: boolean): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'BODY_TOO_LARGE', `body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') {
    if (required) throw new HttpError(400, 'INVALID_INPUT', 'a JSON body is required');
    return {};
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, 'INVALID_INPUT', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function bearer(req: IncomingMessage): string {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  if (!match) throw new HttpError(401, 'UNAUTHENTICATED', 'send Authorization: Bearer <token>');
  return match[1]!;
}

/**
 * The demo service's routes over one store. Bad requests get 400 with a JSON error naming the
 * problem, a missing or dead token 401, Redis down 503. Tokens are never logged or echoed.
 */
export function createDemoApp(store: RedisSessionStore, registry: Registry): RequestListener {
  async function authenticate(req: IncomingMessage): Promise<{ token: string; session: Session }> {
    const token = bearer(req);
    const session = await store.getSession(token);
    if (session === null) throw new HttpError(401, 'UNAUTHENTICATED', 'the token is unknown, expired or revoked');
    return { token, session };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const key = `${method} ${path}`;

    if (key === 'POST /login') {
      const body = await readJson(req, true);
      const { userId, username, ttl } = body;
      const created = await store.createSession(
        { id: userId as string, username: username as string },
        {
          ttl: ttl as number | undefined,
          metadata: { userAgent: String(req.headers['user-agent'] ?? 'unknown').slice(0, 200) },
        },
      );
      const { token, ...session } = created;
      return send(res, 201, { token, session });
    }
    if (key === 'GET /session') return send(res, 200, (await authenticate(req)).session);
    if (key === 'POST /session/refresh') {
      const body = await readJson(req, false);
      const token = bearer(req);
      if (!(await store.refreshSession(token, body.ttl as number | undefined)))
        throw new HttpError(401, 'UNAUTHENTICATED', 'no live session');
      return send(res, 200, { ttl: await store.getSessionTtl(token) });
    }
    if (key === 'PATCH /session/metadata') {
      const patch = await readJson(req, true);
      const token = bearer(req);
      if (!(await store.updateSessionMetadata(token, patch as Record<string, string | null>))) {
        throw new HttpError(401, 'UNAUTHENTICATED', 'no live session');
      }
      return send(res, 200, await store.getSession(token));
    }
    if (key === 'POST /logout') {
      if (!(await store.destroySession(bearer(req)))) throw new HttpError(401, 'UNAUTHENTICATED', 'no live session');
      return send(res, 204);
    }
    if (key === 'POST /logout-all') {
      const body = await readJson(req, false);
      const { token, session } = await authenticate(req);
      if (body.keepCurrent !== undefined && typeof body.keepCurrent !== 'boolean') {
        throw new HttpError(400, 'INVALID_INPUT', 'keepCurrent: expected true or false');
      }
      const destroyed = await store.destroyUserSessions(
        session.userId,
        body.keepCurrent === true ? { except: token } : {},
      );
      return send(res, 200, { destroyed });
    }
    if (key === 'GET /sessions') {
      const { session } = await authenticate(req);
      const sessions = await store.listUserSessions(session.userId);
      return send(res, 200, { sessions: sessions.map((s) => ({ ...s, current: s.id === session.id })) });
    }
    if (key === 'POST /sessions/check') {
      // For a gateway that validates many bearer tokens at once: one pipelined round trip.
      const { tokens } = await readJson(req, true);
      const sessions = await store.getSessions(tokens as string[]);
      return send(res, 200, { valid: sessions.map((s) => s !== null) });
    }
    if (method === 'DELETE' && path.startsWith('/sessions/')) {
      const { session } = await authenticate(req);
      const revoked = await store.revokeSession(session.userId, decodeURIComponent(path.slice('/sessions/'.length)));
      if (!revoked) throw new HttpError(404, 'NOT_FOUND', 'no such live session of yours');
      return send(res, 204);
    }
    if (key === 'GET /healthz') {
      const health = await store.healthCheck();
      return send(res, health.healthy ? 200 : 503, health);
    }
    if (key === 'GET /metrics') {
      const text = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(text);
      return;
    }
    const known = [
      '/login',
      '/session',
      '/session/refresh',
      '/session/metadata',
      '/logout',
      '/logout-all',
      '/sessions',
      '/sessions/check',
      '/healthz',
      '/metrics',
    ];
    if (known.includes(path) || (path.startsWith('/sessions/') && method !== 'POST'))
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${path}`);
    throw new HttpError(404, 'NOT_FOUND', `no route ${path}`);
  }

  return (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return send(res, err.status, { error: { code: err.code, message: err.message } });
      if (err instanceof InvalidInputError) {
        return send(res, 400, { error: { code: err.code, parameter: err.parameter, message: err.message } });
      }
      if (err instanceof StoreUnavailableError)
        return send(res, 503, { error: { code: err.code, message: 'the session store is unavailable' } });
      return send(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
    });
  };
}
