import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { processAlive, startDemo, type DemoProcess } from '../helpers/demo.js';
import { startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

// The demo service end to end over HTTP, as `npm start` runs it.
const test = suite('demo service');
let demo: DemoProcess | undefined;
let external: DemoProcess | undefined;
let r: TestRedis | undefined;

test.after(async () => {
  await demo?.stop();
  await external?.stop();
  await r?.stop();
});

async function call(d: DemoProcess, method: string, path: string, token?: string, body?: unknown, raw?: string) {
  const headers: Record<string, string> = {};
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  if (body !== undefined || raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(d.base + path, {
    method,
    headers,
    body: raw ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  const text = await res.text();
  // The demo answers JSON of many shapes; tests read the fields they check.
  let json: any;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: res.status, json, text };
}

test('embedded Redis: login -> session -> metadata -> list -> revoke -> logout-all -> logout', async () => {
  demo = await startDemo();
  assert.ok(demo.redisPid && processAlive(demo.redisPid), 'an embedded redis-server runs');
  assert.match(demo.output(), /curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/login/);

  const login = await call(demo, 'POST', '/login', undefined, { userId: 'ada', username: 'Ada' });
  assert.is(login.status, 201);
  const token = login.json.token as string;
  assert.is(login.json.session.userId, 'ada');
  const other = (await call(demo, 'POST', '/login', undefined, { userId: 'ada', username: 'Ada' })).json
    .token as string;
  const third = await call(demo, 'POST', '/login', undefined, { userId: 'ada', username: 'Ada' });

  const session = await call(demo, 'GET', '/session', token);
  assert.is(session.status, 200);
  assert.is(session.json.id, login.json.session.id);

  const patched = await call(demo, 'PATCH', '/session/metadata', token, { theme: 'dark' });
  assert.is(patched.status, 200);
  assert.is(patched.json.metadata.theme, 'dark');
  assert.is((await call(demo, 'POST', '/session/refresh', token, {})).status, 200);

  const list = await call(demo, 'GET', '/sessions', token);
  assert.is(list.status, 200);
  assert.is(list.json.sessions.length, 3);
  assert.not.ok(list.text.includes(token), 'no token in the list');
  assert.is(list.json.sessions.filter((s: { current: boolean }) => s.current).length, 1);

  assert.equal((await call(demo, 'POST', '/sessions/check', undefined, { tokens: [token, 'junk'] })).json, {
    valid: [true, false],
  });
  assert.is((await call(demo, 'DELETE', `/sessions/${third.json.session.id}`, token)).status, 204);
  assert.is((await call(demo, 'DELETE', `/sessions/${third.json.session.id}`, token)).status, 404);
  assert.is((await call(demo, 'GET', '/session', third.json.token)).status, 401);

  const all = await call(demo, 'POST', '/logout-all', token, { keepCurrent: true });
  assert.equal([all.status, all.json], [200, { destroyed: 1 }]);
  assert.is((await call(demo, 'GET', '/session', other)).status, 401);
  assert.is((await call(demo, 'POST', '/logout', token)).status, 204);
  assert.is((await call(demo, 'GET', '/session', token)).status, 401);

  const health = await call(demo, 'GET', '/healthz');
  assert.equal([health.status, health.json.healthy], [200, true]);
  const metrics = await call(demo, 'GET', '/metrics');
  assert.is(metrics.status, 200);
  assert.match(metrics.text, /session_store_operations_total\{operation="createSession",outcome="ok"\} 3/);
  assert.not.ok(metrics.text.includes(token));
});

test('error codes: 400 names the problem, 401 for missing or dead tokens, 404, 405', async () => {
  const d = demo!;
  const bad = await call(d, 'POST', '/login', undefined, { userId: '', username: 'x' });
  assert.equal([bad.status, bad.json.error.code, bad.json.error.parameter], [400, 'INVALID_INPUT', 'user.id']);
  assert.is((await call(d, 'POST', '/login', undefined, undefined, '{not json')).json.error.code, 'INVALID_JSON');
  assert.is((await call(d, 'POST', '/login', undefined, { userId: ['x', '999999999'], username: 'x' })).status, 400);
  assert.is(
    (await call(d, 'POST', '/login', undefined, { userId: 'a', username: 'x', ttl: -1 })).json.error.parameter,
    'ttl',
  );
  const token = (await call(d, 'POST', '/login', undefined, { userId: 'bo', username: 'Bo' })).json.token as string;
  const patch = await call(d, 'PATCH', '/session/metadata', token, { theme: 5 });
  assert.equal([patch.status, patch.json.error.parameter], [400, 'patch.theme']);
  assert.is((await call(d, 'POST', '/logout-all', token, { keepCurrent: 'yes' })).status, 400);
  assert.is((await call(d, 'GET', '/session')).status, 401);
  assert.is((await call(d, 'GET', '/session', 'not-a-token')).status, 401);
  assert.is((await call(d, 'GET', '/session', token.slice(0, -3) + 'AAA')).status, 401);
  assert.is((await call(d, 'GET', '/nowhere')).status, 404);
  assert.is((await call(d, 'PUT', '/login')).status, 405);
});

test('SIGTERM shuts down cleanly and leaves no redis-server behind', async () => {
  const d = demo!;
  const pid = d.redisPid!;
  const code = await d.stop('SIGTERM');
  demo = undefined;
  assert.is(code, 0);
  assert.match(d.output(), /stopped/);
  await waitFor(() => !processAlive(pid), 5000);
});

test('with REDIS_URL: uses that Redis, and answers 503 (never a crash) while it is down', async () => {
  r = await startRedis();
  external = await startDemo({ REDIS_URL: r.url });
  assert.is(external.redisPid, undefined, 'no embedded Redis when REDIS_URL is set');
  const token = (await call(external, 'POST', '/login', undefined, { userId: 'cy', username: 'Cy' })).json
    .token as string;
  assert.is(await r.admin.dbsize(), 1);
  await r.kill();
  const down = await call(external, 'GET', '/session', token);
  assert.equal([down.status, down.json.error.code], [503, down.json.error.code]);
  assert.ok(['STORE_UNAVAILABLE', 'STORE_TIMEOUT'].includes(down.json.error.code));
  assert.is((await call(external, 'GET', '/healthz')).status, 503);
  assert.is((await call(external, 'POST', '/login', undefined, { userId: 'cy', username: 'Cy' })).status, 503);
  await r.restart();
  await waitFor(async () => (await call(external!, 'GET', '/healthz')).status === 200, 5000, 50);
  assert.is((await call(external, 'POST', '/login', undefined, { userId: 'cy', username: 'Cy' })).status, 201);
  assert.is(await external.stop('SIGINT'), 0);
  external = undefined;
});

test.run();
