import type { RedisClient } from './transport/client.js';

/** How often the offset to the Redis clock is measured again while the store is in use (ms). */
export const CLOCK_RESAMPLE_MS = 30_000;
// performance.now() against the server clock: quartz drifts well under 100 ppm, NTP slews up to
// 500 ppm. The bound widens by this much per ms since the last sample.
const DRIFT_PER_MS = 0.0005;
// TIME is read at ms resolution here.
const RESOLUTION_MS = 1;

/**
 * The Redis server clock as seen from this process: one clock for every app server, read
 * without a round trip. Each sample sends TIME to every master and takes the midpoint of the
 * round trip; the bound is half the round trip (plus drift since, and on a Cluster the spread
 * between masters). Plain reads decide expiry against `latest()`: a session that might have
 * expired is treated as expired. Writes that cannot extend a session pass `latest()` (update,
 * rotate) or `earliest()` (create: its createdAt and deadline) to their scripts instead of
 * calling TIME; refresh and touch, which extend, read TIME in the script.
 */
export class RedisClock {
  private offset = 0;
  private bound = Number.POSITIVE_INFINITY;
  private sampledAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<void> | undefined;
  /** The highest finite answer of latest() so far. */
  private highest = Number.NEGATIVE_INFINITY;

  /** The estimated Redis time now, ms since the epoch. */
  now(at = performance.now()): number {
    return at + this.offset;
  }

  /** How far the estimate may be off, in ms (Infinity before the first sample). */
  uncertainty(at = performance.now()): number {
    return this.bound + (at - this.sampledAt) * DRIFT_PER_MS;
  }

  /**
   * The latest the Redis clock can read at `at` (performance.now()): the line for "might have
   * expired". Never below an answer it gave before: a new sample narrows the bound (the drift
   * allowance starts again from zero, up to 15 ms lower after 30 s), and a session that one
   * call judged expired must not be judged live by the next one. Until the new estimate
   * catches up, the line holds still.
   */
  latest(at = performance.now()): number {
    const latest = at + this.offset + this.uncertainty(at);
    if (latest === Number.POSITIVE_INFINITY) return latest; // no sample yet: nothing to hold
    if (latest > this.highest) this.highest = latest;
    return this.highest;
  }

  /** The earliest the Redis clock can read at `at`: a time that has surely passed there. */
  earliest(at = performance.now()): number {
    return at + this.offset - this.uncertainty(at);
  }

  /** Whether the last sample is old enough to take another. */
  stale(at = performance.now()): boolean {
    return at - this.sampledAt > CLOCK_RESAMPLE_MS;
  }

  /** Measures the offset on every master; concurrent calls share one measurement. */
  sample(client: RedisClient, bounded: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
    this.pending ??= this.measure(client, bounded).finally(() => (this.pending = undefined));
    return this.pending;
  }

  /** Samples in the background when stale; a failure keeps the old estimate (its bound grows with drift). */
  refresh(client: RedisClient, bounded: <T>(p: Promise<T>) => Promise<T>, at = performance.now()): void {
    if (this.stale(at) && this.pending === undefined) this.sample(client, bounded).catch(() => undefined);
  }

  private async measure(client: RedisClient, bounded: <T>(p: Promise<T>) => Promise<T>): Promise<void> {
    const samples = await Promise.all(
      client.masters().map(async (node) => {
        const sent = performance.now();
        const [s, us] = (await bounded(node.send('TIME', []))) as [string | number, string | number];
        const received = performance.now();
        const redisMs = Number(s) * 1000 + Math.floor(Number(us) / 1000);
        const half = (received - sent) / 2;
        const offset = redisMs - (sent + half);
        return { low: offset - half - RESOLUTION_MS, high: offset + half + RESOLUTION_MS, at: received };
      }),
    );
    if (samples.length === 0) return;
    const low = Math.min(...samples.map((x) => x.low));
    const high = Math.max(...samples.map((x) => x.high));
    const at = Math.max(...samples.map((x) => x.at));
    const earliestBefore = this.earliest(at);
    this.offset = (low + high) / 2;
    this.bound = (high - low) / 2;
    this.sampledAt = at;
    // Whole below the old estimate, the new one cannot be a narrowing of it: the server's clock
    // itself moved back (a failover to another master, a clock step). The new clock wins, or
    // latest() would hold live sessions as expired for as long as the step.
    if (at + this.offset + this.uncertainty(at) < earliestBefore) this.highest = Number.NEGATIVE_INFINITY;
  }
}
