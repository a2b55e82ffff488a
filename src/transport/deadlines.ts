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

/**
 * Time budgets for store calls. Every call gets the same budget, so deadlines arrive in the
 * order calls start: a FIFO and one timer serve them all, where a timer per call would cost an
 * allocation and a timer-heap insert on every call.
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
          budget.settled = true;
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
          budget.settled = true;
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

  private failed(budget: { settled: boolean }, reject: (err: Error) => void, err: unknown): void {
    budget.settled = true;
    const typed = classifyError(err);
    this.reach?.replyFailed(typed);
    reject(typed);
  }

  /** Registers a call; mark the returned entry settled when it finishes. */
  add(reject: (err: Error) => void): { settled: boolean } {
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
      this.head++;
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
