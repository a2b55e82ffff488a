/**
 * `npm run bench:tracing [-- --rounds N] [--duration-ms N]`
 * What OpenTelemetry tracing costs: get and create at 256 in flight with tracing absent
 * (`tracing: false`, as without `@opentelemetry/api`), on without an SDK (the API's no-op
 * tracer), and on with an SDK recording every span (BasicTracerProvider, a batch processor and
 * an exporter that drops what it gets). Absent and no-SDK rounds alternate first (a tracer that
 * once had an SDK keeps it); then SDK rounds alternate with absent ones. Writes results/tracing.md.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import { RedisSessionStore } from '../src/index.js';
import { startEmbeddedRedis } from '../tools/redis-server.js';
import { argOf } from './args.js';
import { writeResult } from './results-file.js';
import { fill } from './cases.js';
import { drive } from './driver.js';
import { benchMetadata, benchUser } from './payload.js';
import { summarize } from './stats.js';

const ROUNDS = Number(argOf('rounds') ?? 5);
const DURATION = Number(argOf('duration-ms') ?? 1000);
const redis = await startEmbeddedRedis(['--maxmemory-policy', 'noeviction']);
const open = (tracing: boolean) =>
  RedisSessionStore.connect({ url: redis.url, tracing, metrics: { registry: new Registry() } });
const absent = await open(false);
const traced = await open(true);
const tokens = await fill(10_000, (i) =>
  absent.createSession(benchUser(i), { metadata: benchMetadata }).then((s) => s.token),
);
let next = 1_000_000;
const dropping: SpanExporter = { export: (_spans, done) => done({ code: 0 }), shutdown: () => Promise.resolve() };
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] });
const contexts = new AsyncLocalStorageContextManager();

const modes = ['absent', 'on, no SDK', 'on, SDK recording'] as const;
const rates = new Map<string, number[]>();
async function measure(mode: (typeof modes)[number], store: RedisSessionStore, round: number): Promise<void> {
  for (const op of ['get', 'create'] as const) {
    const r = await drive(
      (w) => {
        let i = (w * 7919) % tokens.length;
        return op === 'get'
          ? () => store.getSession(tokens[(i = (i + 1) % tokens.length)]!)
          : () => store.createSession(benchUser(next++), { metadata: benchMetadata });
      },
      256,
      DURATION,
    );
    const key = `${mode}|${op}`;
    rates.set(key, [...(rates.get(key) ?? []), r.perSecond]);
    process.stderr.write(`round ${round + 1} ${mode} ${op}: ${Math.round(r.perSecond)}/s\n`);
  }
}
// Phase 1, before any SDK exists: a tracer, once it has had an SDK's delegate, keeps it.
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? [absent, traced] : [traced, absent];
  for (const store of order) await measure(store === absent ? 'absent' : 'on, no SDK', store, round);
}
// Phase 2: an SDK records every span; the ratio is against 'absent' rounds run beside these.
context.setGlobalContextManager(contexts.enable());
trace.setGlobalTracerProvider(provider);
const recording = await open(true);
const absentBeside: number[][] = [[], []];
for (let round = 0; round < ROUNDS; round++) {
  await measure('on, SDK recording', recording, round);
  await measure('absent', absent, round);
  absentBeside[0]!.push(rates.get('absent|get')!.pop()!);
  absentBeside[1]!.push(rates.get('absent|create')!.pop()!);
}
await recording.close();
trace.disable();
context.disable();
const ratio = (mode: string, op: string) => {
  const x = rates.get(`${mode}|${op}`)!;
  const y = mode === 'on, SDK recording' ? absentBeside[op === 'get' ? 0 : 1]! : rates.get(`absent|${op}`)!;
  return summarize(x.map((v, i) => v / y[i]!));
};
const fmt = (s: ReturnType<typeof summarize>) => `${s.median.toFixed(3)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;
const lines = [
  '# Tracing overhead (OpenTelemetry), 256 in flight',
  '',
  `${new Date().toISOString()}: ${ROUNDS} rounds of ${DURATION} ms, modes interleaved. Throughput relative to tracing absent, median (range).`,
  '',
  '| mode | get | create |',
  '| --- | --- | --- |',
  ...modes.map(
    (m) =>
      `| ${m} | ${m === 'absent' ? '1' : fmt(ratio(m, 'get'))} | ${m === 'absent' ? '1' : fmt(ratio(m, 'create'))} |`,
  ),
  '',
  `absent ops/s (median): get ${Math.round(summarize(rates.get('absent|get')!).median).toLocaleString('en')}, create ${Math.round(summarize(rates.get('absent|create')!).median).toLocaleString('en')}`,
  '',
];
writeResult('tracing.md', lines);
await provider.shutdown();
await absent.close();
await traced.close();
await redis.stop();
