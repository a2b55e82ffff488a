import { percentile } from './stats.js';

/** One unit of work. Returning null means the pool it draws from is exhausted: the worker stops. */
export type Op = () => Promise<unknown> | null;

export interface DriveResult {
  /** Operations (times itemsPerOp) per second over the measured time. */
  perSecond: number;
  ops: number;
  p50Ms: number;
  p99Ms: number;
}

const MAX_SAMPLES = 1 << 20;

/**
 * Fixed-duration concurrent driver: `concurrency` loops each keep one call in flight until the
 * time is up (or the pool runs dry). A call that throws fails the run: a benchmark that counts
 * errors as work measures nothing.
 */
export async function drive(
  makeOp: (worker: number) => Op,
  concurrency: number,
  durationMs: number,
  itemsPerOp = 1,
): Promise<DriveResult> {
  const samples = new Float64Array(MAX_SAMPLES);
  let n = 0;
  let ops = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  let failure: unknown;

  async function worker(id: number): Promise<void> {
    const op = makeOp(id);
    while (failure === undefined && performance.now() < deadline) {
      const t0 = performance.now();
      const pending = op();
      if (pending === null) return;
      await pending;
      const t = performance.now() - t0;
      if (n < MAX_SAMPLES) samples[n++] = t;
      ops++;
    }
  }

  await Promise.all(
    Array.from({ length: concurrency }, (_, i) => worker(i).catch((err: unknown) => void (failure ??= err))),
  );
  if (failure !== undefined) throw failure;
  const elapsed = performance.now() - started;
  const sorted = samples.subarray(0, n).sort();
  return {
    perSecond: (ops * itemsPerOp) / (elapsed / 1000),
    ops,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
  };
}
