import { classifyError, StoreTimeoutError } from '../errors.js';

interface Entry {
  deadline: number;
  reject: (err: Error) => void;
  settled: boolean;
}

/** Told whether Redis answered each command (the metrics' redis_up): nothing else knows it. */
export interface Reachability {
  reachable(up: boolean): void;
  replyFailed(err: unknown): void;
}

// Deadlines are checked at most this often: a timeout fires at most this late.
const GRANULARITY_MS = 5;

// What a released slot of the FIFO holds: nothing of the call that was there.
const SETTLED: Entry = { deadline: 0, reject: () => undefined, settled: true };

/**
 * Time budgets for store calls. Every call gets the same budget, so deadlines arrive in the
 * order calls start: a FIFO and one timer serve them all, where a timer per call would cost an
 * allocation and a timer-heap insert on every call.
 *
 * A settled call leaves the FIFO as soon as every call before it has settled, not when the
 * timer next fires: an entry holds its promise's `reject`, and through it the promise and the
 * session it resolved with. Kept for a whole budget, every call's result outlived the young
 * generation, and the garbage collector's copying and marking cost each read 15-20% more
 * Node CPU (measured, 32 in flight).
 */
export class Deadlines {
  private queue: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly budgetMs: number,
    private readonly reach?: Reachability,
  ) {}

  /**
   * Bounds any Redis promise by the budget and types its errors: every command the store sends
   * passes here, so no call waits longer than `commandTimeout` and none leaks a driver error.
   */
  bounded<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const budget = this.add(reject);
      work.then(
        (value) => {
          this.settle(budget);
          this.reach?.reachable(true);
          resolve(value);
        },
        (err: unknown) => this.failed(budget, reject, err),
      );
    });
  }

  /**
   * `bounded(work).then(map)` in one promise: the hottest reads skip a promise layer. A throw in
   * `map` (a corrupt value) rejects with its typed error.
   */
  boundedMap<T, U>(work: Promise<T>, map: (value: T) => U | Promise<U>): Promise<U> {
    return new Promise<U>((resolve, reject) => {
      const budget = this.add(reject);
      work.then(
        (value) => {
          this.settle(budget);
          this.reach?.reachable(true);
          try {
            resolve(map(value));
          } catch (err) {
            reject(classifyError(err));
          }
        },
        (err: unknown) => this.failed(budget, reject, err),
      );
    });
  }

  private failed(budget: Entry, reject: (err: Error) => void, err: unknown): void {
    this.settle(budget);
    const typed = classifyError(err);
    this.reach?.replyFailed(typed);
    reject(typed);
  }

  /** Marks a call finished, and lets go of the settled calls at the head of the FIFO. */
  private settle(entry: Entry): void {
    entry.settled = true;
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.settled) q[this.head++] = SETTLED;
    if (this.head === q.length) {
      q.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      q.splice(0, this.head);
      this.head = 0;
    }
  }

  /** Registers a call; settle the returned entry when it finishes. */
  private add(reject: (err: Error) => void): Entry {
    const entry: Entry = { deadline: performance.now() + this.budgetMs, reject, settled: false };
    this.queue.push(entry);
    if (this.timer === undefined) this.arm(this.budgetMs);
    return entry;
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(ms, GRANULARITY_MS));
    // A pending budget alone does not keep the process alive.
    this.timer.unref();
  }

  private expire(): void {
    this.timer = undefined;
    const now = performance.now();
    const q = this.queue;
    while (this.head < q.length) {
      const entry = q[this.head]!;
      if (!entry.settled) {
        if (entry.deadline > now) break;
        entry.settled = true;
        this.reach?.reachable(false);
        entry.reject(new StoreTimeoutError(this.budgetMs));
      }
      q[this.head++] = SETTLED;
    }
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
      return;
    }
    if (this.head > 1024) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
    this.arm(this.queue[this.head]!.deadline - now);
  }
}
