import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createDemoApp } from '../../demo/app.js';
import { runLoad } from '../../demo/load.js';
import { Redis } from 'ioredis';
import { ExpressSessionStore } from '../../src/express.js';
import { RedisSessionStore } from '../../src/index.js';
import { concrete, dashboardQueries } from '../helpers/promql.js';
import { startRedis, waitFor, type TestRedis } from '../helpers/redis.js';

// A real scrape: Debian's prometheus scrapes the demo service on loopback, and every dashboard
// query, evaluated by Prometheus's HTTP API, returns data.
const test = suite('prometheus scrape');
let r: TestRedis | undefined;
let store: RedisSessionStore | undefined;
let server: Server | undefined;
let prometheus: ChildProcess | undefined;
let adapterClient: Redis | undefined;
let adapter: ExpressSessionStore | undefined;
const dir = mkdtempSync(join(tmpdir(), 'rss-prometheus-'));

test.after(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((done) => prometheus!.once('exit', done));
    process.kill(prometheus.pid!, 'SIGTERM');
    await exited;
  }
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
  await store?.close();
  adapter?.close();
  adapterClient?.disconnect();
  await r?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const { port } = probe.address() as AddressInfo;
  await new Promise((done) => probe.close(done));
  return port;
}

async function query(base: string, expr: string): Promise<{ status: string; data: { result: unknown[] } }> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return (await res.json()) as { status: string; data: { result: unknown[] } };
}

test('every dashboard query returns data from a live scrape of the demo service', async () => {
  r = await startRedis();
  const registry = new Registry();
  // As `npm start` runs it: with the session cache, whose panels must have data too.
  store = await RedisSessionStore.connect({
    url: r.url,
    metrics: { registry },
    maxSessionsPerUser: 3,
    rolling: true,
    cache: true,
  });
  server = createServer(createDemoApp(store, registry));
  await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  const promPort = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: 'ignore' },
  );
  const prom = `http://127.0.0.1:${promPort}`;
  await waitFor(async () => (await fetch(`${prom}/-/ready`)).ok, 20_000, 100);

  // Traffic with cap evictions, batches, a script reload and a health check in it.
  const load = runLoad({ baseUrl: `http://${target}`, durationMs: 4000, concurrency: 4 });
  await r.admin.script('FLUSH');
  await store.healthCheck();
  // The express adapter's cache on the same registry: its panels need data as well.
  adapterClient = new Redis(r.url);
  adapter = new ExpressSessionStore({ client: adapterClient, cache: true, metrics: { registry } });
  await adapter.ready();
  const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000), httpOnly: true, path: '/' };
  for (let i = 0; i < 20; i++) {
    await adapter.set(`sid-${i % 5}`, { cookie, i } as never);
    await adapter.get(`sid-${i % 5}`);
    await adapter.get(`sid-${i % 5}`);
  }
  const report = await load;
  assert.ok(report.requests > 100, `${report.requests} requests`);

  const queries = dashboardQueries();
  const pending = new Set(queries.map((q) => q.expr));
  await waitFor(
    async () => {
      for (const expr of [...pending]) {
        const answer = await query(prom, concrete(expr));
        if (answer.status === 'success' && answer.data.result.length > 0) pending.delete(expr);
      }
      return pending.size === 0;
    },
    30_000,
    500,
  ).catch(() => undefined);
  assert.equal([...pending], [], 'queries without data');
  const ops = await query(prom, 'sum(session_store_operations_total{outcome="ok"})');
  assert.ok(Number((ops.data.result[0] as { value: [number, string] }).value[1]) > 100);
});

test.run();
