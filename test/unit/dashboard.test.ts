import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CacheEntries } from '../../src/cache/entries.js';
import { StoreMetrics } from '../../src/metrics.js';
import { dashboardQueries, metricNames } from '../helpers/promql.js';

const test = suite('grafana dashboard');

test('the PromQL parser finds metric names and nothing else', () => {
  assert.equal(metricNames('histogram_quantile(0.99, sum by (le, operation) (rate(a_b_bucket{x=~"y|z"}[5m])))'), [
    'a_b_bucket',
  ]);
  assert.equal(metricNames('sum by (o) (rate(x{i="1"}[1m])) / ignoring(o) group_left sum(rate(y[1m]))').sort(), [
    'x',
    'y',
  ]);
});

test('every expression names only metrics the store exports', async () => {
  const registry = new Registry();
  // The cache's metrics exist once a store with the cache on reports to the registry.
  StoreMetrics.for({ registry }).watchCache(new CacheEntries({ maxEntries: 1, maxBytes: 1024 }));
  StoreMetrics.for({ registry }).watchCache(new CacheEntries({ maxEntries: 1, maxBytes: 1024 }), 'express.get');
  const exported = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
  const queries = dashboardQueries();
  assert.ok(queries.length >= 12);
  for (const { panel, expr } of queries) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${panel}: no metric in ${expr}`);
    for (const name of names) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(exported.has(name) || exported.has(base), `${panel}: ${name} is not exported`);
    }
  }
});

test('panels cover what operators need, with the datasource as a variable', () => {
  const text = readFileSync(new URL('../../grafana/dashboard.json', import.meta.url), 'utf8');
  const dashboard = JSON.parse(text) as {
    templating: { list: { name: string; type: string }[] };
    panels: { title: string; datasource: { uid: string } }[];
  };
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'));
  assert.ok(dashboard.panels.every((p) => p.datasource.uid === '${datasource}'));
  const titles = dashboard.panels.map((p) => p.title).join('\n');
  for (const topic of [
    /Operations per second by operation/,
    /p50/,
    /p95/,
    /p99/,
    /outcome/,
    /Script reloads/,
    /per-user cap/,
    /Redis up/,
    /Health-check latency/,
    /Session cache: hit ratio/,
    /Session cache: invalidations, evictions and flushes/,
    /express-session cache: hit ratio/,
    /express-session cache: invalidations and flushes/,
  ]) {
    assert.match(titles, topic);
  }
});

test.run();
