/** Median and spread of repeated measurements: what the report quotes. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max - min) / median: the relative spread of the rounds. */
  spread: number;
  rounds: number;
}

export function summarize(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const min = sorted[0] ?? NaN;
  const max = sorted[n - 1] ?? NaN;
  return { median, min, max, spread: median > 0 ? (max - min) / median : 0, rounds: n };
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
