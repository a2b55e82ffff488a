import { context, SamplingDecision, SpanKind, SpanStatusCode, trace, type Sampler } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { InvalidInputError, StoreUnavailableError } from '../../src/index.js';
import { sessionIdOf, userKey, userTag } from '../../src/keys.js';
import { rejects } from '../helpers/assert.js';
import { cacheReady } from '../helpers/cache.js';
import { useRedis } from '../helpers/redis.js';
import { openStore } from '../helpers/store.js';

// Spans with a real SDK (in-memory exporter) registered for this file only.
const test = suite('tracing (OpenTelemetry)');
const redis = useRedis(test);
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

test.before(() => {
  contextManager.enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
});
test.after(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
});
test.before.each(() => exporter.reset());

const user = { id: 'trace-user@example.com', username: 'tracer' };

test('one client span per call, named by operation, under the caller span, with bounded attributes', async () => {
  const store = await openStore(redis(), { metrics: false });
  try {
    const tracer = trace.getTracer('app');
    const created = await tracer.startActiveSpan('GET /login', async (parent) => {
      const s = await store.createSession(user, { metadata: { device: 'laptop' } });
      await store.getSession(s.token);
      await store.getSessions([s.token, s.token]);
      await store.getSession('not-a-token');
      parent.end();
      return s;
    });
    const spans = exporter.getFinishedSpans();
    const parent = spans.find((s) => s.name === 'GET /login')!;
    const ours = spans.filter((s) => s.name.startsWith('session_store '));
    assert.equal(
      ours.map((s) => s.name),
      [
        'session_store createSession',
        'session_store getSession',
        'session_store getSessions',
        'session_store getSession',
      ],
    );
    for (const span of ours) {
      assert.is(span.kind, SpanKind.CLIENT);
      assert.is(span.parentSpanContext?.spanId, parent.spanContext().spanId, `${span.name} nests under the request`);
      assert.is(span.attributes['db.system.name'], 'redis');
    }
    assert.equal(
      ours.map((s) => s.attributes['session_store.outcome']),
      ['ok', 'ok', 'ok', 'not_found'],
    );
    assert.is(ours[2]!.attributes['session_store.batch_size'], 2);
    assert.not.ok('session_store.cache_hit' in ours[1]!.attributes, 'no cache attribute without the cache');
    await store.destroySession(created.token);
  } finally {
    await store.close();
  }
});

test('failures: outcome and the typed error code, status ERROR; no message or stack recorded', async () => {
  const store = await openStore(redis(), { metrics: false, commandTimeout: 300 });
  try {
    await rejects(store.createSession({ id: '', username: 'x' }), InvalidInputError);
    redis().pause();
    try {
      await rejects(store.getSession(`${'a'.repeat(22)}.${'b'.repeat(43)}`), StoreUnavailableError);
    } finally {
      redis().resume();
    }
    const [invalid, timeout] = exporter.getFinishedSpans();
    assert.is(invalid!.attributes['session_store.outcome'], 'invalid_input');
    assert.is(invalid!.attributes['error.type'], 'INVALID_INPUT');
    assert.is(invalid!.status.code, SpanStatusCode.ERROR);
    assert.is(timeout!.attributes['session_store.outcome'], 'unavailable');
    assert.is(timeout!.attributes['error.type'], 'STORE_TIMEOUT');
    for (const span of [invalid!, timeout!])
      assert.equal(span.events, [], 'no exception event (its message could name input)');
  } finally {
    await store.close();
  }
});

test('with the cache on, a span says whether the read was a cache hit', async () => {
  const store = await openStore(redis(), { metrics: false, cache: true });
  try {
    const s = await store.createSession(user);
    await cacheReady(store, s.token, redis().admin);
    exporter.reset();
    await store.getSession(s.token);
    await store.getSessions([s.token]);
    const [get, batch] = exporter.getFinishedSpans();
    assert.is(get!.attributes['session_store.cache_hit'], true);
    assert.is(batch!.attributes['session_store.cache_hits'], 1);
    await store.destroySession(s.token);
    exporter.reset();
    await store.getSession(s.token);
    assert.is(exporter.getFinishedSpans()[0]!.attributes['session_store.cache_hit'], false);
  } finally {
    await store.close();
  }
});

test("a store span sampled out puts none of the store's attributes on the caller's span", async () => {
  // Records the app's spans and drops the store's: the store's calls run in the caller's context.
  const dropStore: Sampler = {
    shouldSample: (_context, _traceId, name) => ({
      decision: name.startsWith('session_store') ? SamplingDecision.NOT_RECORD : SamplingDecision.RECORD_AND_SAMPLED,
    }),
    toString: () => 'drop session_store spans',
  };
  // Its own exporter: shutting the provider down shuts its exporter down.
  const sampled = new InMemorySpanExporter();
  const sampling = new BasicTracerProvider({ sampler: dropStore, spanProcessors: [new SimpleSpanProcessor(sampled)] });
  trace.disable();
  trace.setGlobalTracerProvider(sampling);
  const store = await openStore(redis(), { metrics: false, cache: true });
  try {
    const s = await store.createSession(user);
    await cacheReady(store, s.token, redis().admin);
    await trace.getTracer('app').startActiveSpan('GET /me', async (parent) => {
      assert.ok(await store.getSession(s.token));
      await store.getSessions([s.token]);
      parent.end();
    });
    const spans = sampled.getFinishedSpans();
    assert.equal(
      spans.map((x) => x.name),
      ['GET /me'],
    );
    assert.equal(Object.keys(spans[0]!.attributes), []);
  } finally {
    await store.close();
    await sampling.shutdown();
    trace.disable();
    trace.setGlobalTracerProvider(provider);
  }
});

test('no token, session id, user id or user key in any span name or attribute', async () => {
  const store = await openStore(redis(), { metrics: false, cache: true, maxSessionsPerUser: 2 });
  const secrets: string[] = [user.id, userTag(user.id), userKey('session:', userTag(user.id))];
  try {
    const a = await store.createSession(user);
    const b = await store.createSession(user);
    secrets.push(a.token, b.token, a.id, b.id, sessionIdOf(a.token));
    await store.getSession(a.token);
    await store.getSessions([a.token, b.token]);
    await store.refreshSession(a.token, 120);
    await store.updateSessionMetadata(a.token, { k: 'v' });
    await store.getSessionTtl(a.token);
    const rotated = (await store.rotateSession(a.token))!;
    secrets.push(rotated.token, rotated.id);
    await store.countUserSessions(user.id);
    await store.listUserSessions(user.id);
    await store.revokeSession(user.id, b.id);
    await store.destroyUserSessions(user.id, { except: rotated.token });
    await store.destroySession(rotated.token);
    await store.createSession(user); // evicts nothing: the user has no sessions left
    const spans = exporter.getFinishedSpans();
    assert.ok(spans.length >= 13, `${spans.length} spans`);
    const text = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.status, s.events]));
    for (const secret of secrets) assert.not.ok(text.includes(secret), `a span holds ${secret.slice(0, 6)}…`);
  } finally {
    await store.close();
  }
});

test("ioredis's own command events run under the store's span (so its instrumentation's spans nest)", async () => {
  const { tracingChannel } = await import('node:diagnostics_channel');
  const channel = tracingChannel('ioredis:command');
  const seen: (string | undefined)[] = [];
  const handlers = {
    start: () => void seen.push(trace.getActiveSpan()?.spanContext().spanId),
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: () => undefined,
    error: () => undefined,
  };
  const store = await openStore(redis(), { metrics: false });
  channel.subscribe(handlers);
  try {
    await store.createSession(user);
  } finally {
    channel.unsubscribe(handlers);
    await store.close();
  }
  const span = exporter.getFinishedSpans().find((s) => s.name === 'session_store createSession')!;
  assert.ok(seen.length >= 1, 'ioredis reported the command');
  assert.ok(
    seen.every((id) => id === span.spanContext().spanId),
    `active span during the command: ${seen.join(',')}`,
  );
});

test('tracing: false adds no span', async () => {
  const store = await openStore(redis(), { metrics: false, tracing: false });
  try {
    await store.createSession(user);
    assert.equal(exporter.getFinishedSpans(), []);
  } finally {
    await store.close();
  }
});

test('no span is built while no SDK is registered; an SDK registered after the store gets its spans', async () => {
  trace.disable();
  const store = await openStore(redis(), { metrics: false });
  try {
    const before = await store.createSession(user);
    assert.ok(await store.getSession(before.token));
    assert.equal(exporter.getFinishedSpans(), [], 'no SDK: nothing reaches the exporter');
    trace.setGlobalTracerProvider(provider);
    assert.ok(await store.getSession(before.token));
    assert.equal(
      exporter.getFinishedSpans().map((s) => s.name),
      ['session_store getSession'],
    );
  } finally {
    trace.setGlobalTracerProvider(provider);
    await store.close();
  }
});

test.run();
