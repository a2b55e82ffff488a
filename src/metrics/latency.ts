import { Histogram, type Counter, type Registry } from 'prom-client';
import { OPERATIONS, OUTCOMES } from '../operations.js';

// 50 us to 5 s: a loopback round trip is ~100 us, a timeout is the budget (1 s by default).
export const LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

const OUTCOME_COUNT = OUTCOMES.length;
const BUCKET_SLOTS = LATENCY_BUCKETS.length + 1; // + the +Inf bucket

/**
 * Call counts and latencies accumulate in typed arrays on the hot path (no label hashing, no
 * allocation: prom-client's own observe() costs ~500 ns a call here) and reach prom-client when
 * the registry is read: the counter through its collect() hook, the histogram through `get()`.
 */
export class OperationStats {
  readonly calls = new Float64Array(OPERATIONS.length * OUTCOME_COUNT);
  private readonly published = new Float64Array(OPERATIONS.length * OUTCOME_COUNT);
  readonly buckets = new Float64Array(OPERATIONS.length * BUCKET_SLOTS);
  readonly sums = new Float64Array(OPERATIONS.length);
  readonly counts = new Float64Array(OPERATIONS.length);

  record(op: number, outcome: number, seconds: number): void {
    this.calls[op * OUTCOME_COUNT + outcome]! += 1;
    let b = 0;
    while (b < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[b]!) b++;
    this.buckets[op * BUCKET_SLOTS + b]! += 1;
    this.sums[op]! += seconds;
    this.counts[op]! += 1;
  }

  /** Moves the calls counted since the last read into the prom-client counter. */
  publishCalls(counter: Counter<'operation' | 'outcome'>): void {
    for (let i = 0; i < this.calls.length; i++) {
      const delta = this.calls[i]! - this.published[i]!;
      if (delta === 0) continue;
      this.published[i] = this.calls[i]!;
      counter.inc(
        { operation: OPERATIONS[Math.floor(i / OUTCOME_COUNT)]!, outcome: OUTCOMES[i % OUTCOME_COUNT]! },
        delta,
      );
    }
  }

  reset(): void {
    for (const a of [this.calls, this.published, this.buckets, this.sums, this.counts]) a.fill(0);
  }
}

type HistogramData = Awaited<ReturnType<Histogram<'operation'>['get']>>;

/**
 * The latency histogram: a prom-client Histogram whose values are the accumulated buckets. Its
 * metadata (name, help, type) comes from an unregistered twin, so nothing is built by hand.
 */
export class LatencyHistogram extends Histogram<'operation'> {
  readonly #shape: Histogram<'operation'>;
  readonly #name: string;
  // Not a # field: prom-client's constructor calls reset() before subclass fields exist.
  private stats: OperationStats | undefined;

  constructor(name: string, help: string, stats: OperationStats, registry: Registry) {
    const config = { name, help, labelNames: ['operation'] as const, buckets: LATENCY_BUCKETS };
    super({ ...config, registers: [registry] });
    this.#shape = new Histogram({ ...config, registers: [] });
    this.#name = name;
    this.stats = stats;
  }

  override async get(): Promise<HistogramData> {
    const shape = await this.#shape.get();
    return { ...shape, values: this.#values() };
  }

  /** What prom-client's text exposition reads when a metric has it (the same data as get()). */
  getForPromString(): Promise<HistogramData> {
    return this.get();
  }

  override reset(): void {
    this.stats?.reset();
  }

  #values(): HistogramData['values'] {
    const stats = this.stats!;
    const name = this.#name;
    const values: HistogramData['values'] = [];
    OPERATIONS.forEach((operation, op) => {
      let cumulative = 0;
      for (let b = 0; b < BUCKET_SLOTS; b++) {
        cumulative += stats.buckets[op * BUCKET_SLOTS + b]!;
        const le = b < LATENCY_BUCKETS.length ? LATENCY_BUCKETS[b]! : '+Inf';
        const labels: Record<string, string | number> = { le, operation };
        values.push({ labels, value: cumulative, metricName: `${name}_bucket` });
      }
      values.push({ labels: { operation }, value: stats.sums[op]!, metricName: `${name}_sum` });
      values.push({ labels: { operation }, value: stats.counts[op]!, metricName: `${name}_count` });
    });
    return values;
  }
}
