import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { RedisSessionStore, type RedisSessionStore as Store } from '../../src/index.js';
import { rejects } from '../helpers/assert.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { alice, bob, openStore } from '../helpers/store.js';
import { InvalidInputError, StoreUnavailableError } from '../../src/errors.js';
import { STORE_OPERATIONS } from '../../src/operations.js';

const test = suite('metrics');
let r: TestRedis;

test.before(async () => {
  r = await startRedis();
});
test.after(async () => {
  await r?.stop();
});

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  assert.ok(metric, `metric ${name} exists`);
  return metric.values as Sample[];
}
async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const match = (await samples(registry, name)).filter(
    (s) =>
      (s.metricName === undefined || s.metricName === name) &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return match.reduce((n, s) => n + s.value, 0);
}

test('names, types, labels and counts after a scripted sequence (invalid input, not found, outage)', async () => {
  const registry = new Registry();
  const store: Store = await openStore(r, { metrics: { registry }, maxSessionsPerUser: 1, commandTimeout: 300 });
  try {
    const first = await store.createSession(alice);
    const second = await store.createSession(alice); // evicts the first
    assert.equal(second.evictedSessionIds, [first.id]);
    assert.ok(await store.getSession(second.token));
    assert.is(await store.getSession(first.token), null);
    await rejects(store.getSession(42 as never), InvalidInputError);
    await store.getSessions([second.token, first.token, 'junk']);
    await store.createSession(bob);
    assert.is(await store.destroyUserSessions('bob'), 1);
    await r.admin.script('FLUSH');
    assert.ok(await store.getSession(second.token));
    assert.ok(await store.refreshSession(second.token));

    const json = await registry.getMetricsAsJSON();
    const types = Object.fromEntries(json.map((m) => [m.name, String(m.type)]));
    assert.equal(types, {
      session_store_operations_total: 'counter',
      session_store_operation_duration_seconds: 'histogram',
      session_store_script_reloads_total: 'counter',
      session_store_cap_evictions_total: 'counter',
      session_store_user_sessions_destroyed_total: 'counter',
      session_store_get_sessions_batch_size: 'histogram',
      session_store_redis_up: 'gauge',
      session_store_health_check_duration_seconds: 'gauge',
      session_store_server_info: 'gauge',
    });
    const ops = 'session_store_operations_total';
    assert.is(await value(registry, ops, { operation: 'createSession', outcome: 'ok' }), 3);
    assert.is(await value(registry, ops, { operation: 'getSession', outcome: 'ok' }), 2);
    assert.is(await value(registry, ops, { operation: 'getSession', outcome: 'not_found' }), 1);
    assert.is(await value(registry, ops, { operation: 'getSession', outcome: 'invalid_input' }), 1);
    assert.is(await value(registry, ops, { operation: 'getSessions', outcome: 'ok' }), 1);
    assert.is(await value(registry, ops, { operation: 'destroyUserSessions', outcome: 'ok' }), 1);
    assert.is(await value(registry, 'session_store_cap_evictions_total'), 1);
    assert.is(await value(registry, 'session_store_user_sessions_destroyed_total'), 1);
    assert.is(await value(registry, 'session_store_script_reloads_total', { script: 'refreshSession' }), 1);
    const batchSum = (await samples(registry, 'session_store_get_sessions_batch_size')).find((s) =>
      s.metricName?.endsWith('_sum'),
    )!;
    assert.is(batchSum.value, 3);
    const durationCount = (await samples(registry, 'session_store_operation_duration_seconds')).find(
      (s) => s.metricName?.endsWith('_count') && s.labels.operation === 'getSession',
    )!;
    assert.is(durationCount.value, 4, 'every call is timed, whatever its outcome');
    assert.is(await value(registry, 'session_store_redis_up'), 1);

    // Outage: calls are counted as unavailable and the reachability gauge drops.
    await r.kill();
    await rejects(store.getSession(second.token), StoreUnavailableError);
    assert.is(await value(registry, ops, { operation: 'getSession', outcome: 'unavailable' }), 1);
    assert.is(await value(registry, 'session_store_redis_up'), 0);
    const health = await store.healthCheck();
    assert.is(health.healthy, false);
    assert.ok((await value(registry, 'session_store_health_check_duration_seconds')) > 0);
    await r.restart();
    assert.ok((await store.healthCheck()).healthy);
    assert.is(await value(registry, 'session_store_redis_up'), 1);

    // No token, session id or user id ever becomes a label or appears in the output.
    const text = await registry.metrics();
    for (const secret of [first.token, second.token, first.id, second.id, 'alice', 'bob'])
      assert.not.ok(text.includes(secret), secret);
    const labelValues = new Set(json.flatMap((m) => m.values.flatMap((v) => Object.values(v.labels).map(String))));
    for (const v of labelValues) assert.ok(/^[a-zA-Z_+.0-9]+$|^\+Inf$/.test(v), `bounded label value ${v}`);
  } finally {
    await store.close();
  }
});

test('redis_up moves only on calls that reached Redis: junk tokens and bad input during an outage leave it at 0', async () => {
  const registry = new Registry();
  const store = await openStore(r, { metrics: { registry }, commandTimeout: 300 });
  try {
    const { token } = await store.createSession(alice);
    assert.is(await value(registry, 'session_store_redis_up'), 1);
    await r.kill();
    await rejects(store.getSession(token), StoreUnavailableError);
    assert.is(await value(registry, 'session_store_redis_up'), 0);
    // Answered without I/O: a string that is not a token, and a value of the wrong type.
    for (let i = 0; i < 20; i++) assert.is(await store.getSession('junk'), null);
    await rejects(store.getSession(42 as never), InvalidInputError);
    await rejects(store.countUserSessions(''), InvalidInputError);
    assert.is(await value(registry, 'session_store_redis_up'), 0);
    assert.is(
      await value(registry, 'session_store_operations_total', { operation: 'getSession', outcome: 'not_found' }),
      20,
    );
    await r.restart();
    assert.is(await store.countUserSessions('alice'), 0, 'the restarted Redis kept nothing');
    assert.is(await value(registry, 'session_store_redis_up'), 1, 'a call that reached Redis again sets it back');
  } finally {
    await store.close();
  }
});

test('label sets stay bounded whatever the traffic', async () => {
  const registry = new Registry();
  const store = await openStore(r, { metrics: { registry } });
  try {
    await store.createSession(alice);
    const before = (await registry.getMetricsAsJSON()).reduce((n, m) => n + m.values.length, 0);
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.createSession({ id: `user-${i}`, username: 'u' })));
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.countUserSessions(`user-${i}`)));
    const after = (await registry.getMetricsAsJSON()).reduce((n, m) => n + m.values.length, 0);
    assert.is(after, before);
  } finally {
    await store.close();
  }
});

test('metrics: false registers nothing; no method is patched on an instance; a custom prefix is used', async () => {
  const registry = new Registry();
  const plain = await openStore(r, { metrics: false, tracing: false });
  const prefixed = await openStore(r, { metrics: { registry, prefix: 'myapp_sessions_' } });
  try {
    // Metrics and tracing are recorded by the store's own methods: nothing replaces them.
    for (const store of [plain, prefixed]) {
      assert.equal(Object.getOwnPropertyNames(store), []);
      for (const operation of STORE_OPERATIONS) assert.is(store[operation], RedisSessionStore.prototype[operation]);
    }
    await prefixed.createSession(alice);
    const names = (await registry.getMetricsAsJSON()).map((m) => m.name);
    assert.ok(names.every((n) => n.startsWith('myapp_sessions_')));
    assert.is(
      await value(registry, 'myapp_sessions_operations_total', { operation: 'createSession', outcome: 'ok' }),
      1,
    );
    // A second store on the same registry shares the metrics instead of failing on duplicate names.
    const twin = await openStore(r, { metrics: { registry, prefix: 'myapp_sessions_' } });
    await twin.createSession(alice);
    await twin.close();
    assert.is(
      await value(registry, 'myapp_sessions_operations_total', { operation: 'createSession', outcome: 'ok' }),
      2,
    );
  } finally {
    await plain.close();
    await prefixed.close();
  }
});

test.run();
