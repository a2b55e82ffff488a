/**
 * `npm start`: the demo service. With REDIS_URL it uses that Redis; without, it starts an
 * embedded one (the system redis-server on a free loopback port) and says so.
 *   --port N       listen port (default PORT or 3000; 0 picks a free one)
 *   --load[=S]     drive realistic traffic against itself for S seconds (default 300)
 *   --trace        print every store span to the console (OpenTelemetry, ConsoleSpanExporter)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { createDemoApp } from './app.js';
import { startEmbeddedRedis, type EmbeddedRedis } from '../tools/redis-server.js';
import { runLoad } from './load.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.find((a) => a === `--${name}` || a.startsWith(`--${name}=`));
const portArg = flag('port') === '--port' ? args[args.indexOf('--port') + 1] : flag('port')?.split('=')[1];
const port = Number(portArg ?? process.env.PORT ?? 3000);
const loadArg = flag('load');
const loadSeconds = loadArg === undefined ? 0 : Number(loadArg.split('=')[1] ?? 300);

if (flag('trace') !== undefined) {
  // Registered before the store connects, so its spans go to this SDK.
  const [
    { context, trace },
    { AsyncLocalStorageContextManager },
    { BasicTracerProvider, ConsoleSpanExporter, SimpleSpanProcessor },
  ] = await Promise.all([
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(new ConsoleSpanExporter())] }),
  );
  console.log('Tracing: every store span is printed to the console.');
}

let embedded: EmbeddedRedis | undefined;
let url = process.env.REDIS_URL;
if (url === undefined) {
  embedded = await startEmbeddedRedis();
  url = embedded.url;
  console.log(`No REDIS_URL given: started an embedded Redis (pid ${embedded.pid}) at ${url}`);
}

const registry = new Registry();
collectDefaultMetrics({ register: registry });
const store = await RedisSessionStore.connect({
  url,
  rolling: true,
  maxSessionsPerUser: 10,
  // The session cache on, so the dashboard's cache panels have something to show.
  cache: true,
  metrics: { registry },
  logger: { warn: (m) => console.warn(m) },
});
// Keep the reachability and health-latency gauges fresh between scrapes.
const health = setInterval(() => void store.healthCheck(), 5000);
health.unref();

const server = createServer(createDemoApp(store, registry));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
console.log(`redis-session-store demo listening on ${base}
Try:
  curl -s -X POST ${base}/login -H 'content-type: application/json' -d '{"userId":"ada","username":"Ada"}'
  TOKEN=...   # the "token" from the answer
  curl -s ${base}/session -H "authorization: Bearer $TOKEN"
  curl -s -X PATCH ${base}/session/metadata -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"theme":"dark"}'
  curl -s ${base}/sessions -H "authorization: Bearer $TOKEN"
  curl -s -X POST ${base}/logout-all -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"keepCurrent":true}'
  curl -s -X POST ${base}/logout -H "authorization: Bearer $TOKEN"
  curl -s ${base}/healthz
  curl -s ${base}/metrics`);

const loadAbort = new AbortController();
if (loadSeconds > 0) {
  console.log(`Driving load for ${loadSeconds} s (--load)`);
  void runLoad({ baseUrl: base, durationMs: loadSeconds * 1000, signal: loadAbort.signal }).then((r) =>
    console.log(`load finished: ${r.requests} requests ${JSON.stringify(r.byStatus)}`),
  );
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down`);
  loadAbort.abort();
  clearInterval(health);
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  await embedded?.stop();
  console.log('stopped');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
