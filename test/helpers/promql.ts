import { readFileSync } from 'node:fs';

export interface DashboardQuery {
  panel: string;
  expr: string;
}

/** Every PromQL expression in grafana/dashboard.json, panel targets and variable queries. */
export function dashboardQueries(): DashboardQuery[] {
  const dashboard = JSON.parse(readFileSync(new URL('../../grafana/dashboard.json', import.meta.url), 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
}

const FUNCTIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'count',
  'rate',
  'irate',
  'increase',
  'histogram_quantile',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'topk',
  'bottomk',
  'abs',
  'clamp_min',
  'label_values',
  'vector',
  'scalar',
  'time',
]);

/** The metric names a PromQL expression selects (label matchers, ranges and grouping removed). */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) if (!FUNCTIONS.has(m[0])) names.add(m[0]);
  return [...names];
}

/** A dashboard expression made concrete for Prometheus's HTTP API (Grafana's variables filled in). */
export function concrete(expr: string, rateInterval = '30s'): string {
  return expr.replaceAll('$__rate_interval', rateInterval).replaceAll('$instance', '.*');
}
