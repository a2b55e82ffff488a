import type { RedisSessionStore } from '../../src/index.js';

/** Scale for soak runs: `npm run soak` sets SOAK=1 and every scenario runs bigger and longer. */
export const SOAK = process.env.SOAK === '1';

/** What a mixed load saw: acknowledged outcomes only, and every failure by its error code. */
export interface LoadRecord {
  ops: number;
  /** Tokens whose create was acknowledged, by user. */
  created: Map<string, string>;
  /** Tokens whose destroy was acknowledged. */
  destroyed: Set<string>;
  /** When each token's last acknowledged create or destroy came back (performance.now()). */
  ackedAt: Map<string, number>;
  /** When the acknowledged create or destroy of each token was sent (performance.now()). */
  sentAt: Map<string, number>;
  /** Tokens whose destroy failed (timeout, outage): whether they still exist is unknown. */
  uncertain: Set<string>;
  errors: Map<string, number>;
  /** One message per error code and message start, for diagnosis (never contains a token). */
  samples: Set<string>;
  /** Longest time any single call took, ms. */
  maxCallMs: number;
  /** Calls that resolved with null, false or 0 for a token known to be live and acknowledged. */
  falseAbsent: number;
  /** The tokens those reads were for. */
  absentTokens: Set<string>;
}

export interface MixedLoadOptions {
  store: RedisSessionStore;
  workers: number;
  users: number;
  /** Stop when this resolves. */
  until: Promise<unknown>;
  /** Called with each call's start and end time and outcome, for gap analysis. */
  onCall?: (started: number, ended: number, ok: boolean, value: unknown, err: unknown) => void;
  /** Include pipelined getSessions calls. */
  batches?: boolean;
  /** Pause a worker this long after a failed call, as a real client backs off (default: no pause). */
  pauseAfterErrorMs?: number;
}

/**
 * A mixed load of concurrent clients: creates, reads (single and pipelined), refreshes,
 * metadata patches and destroys, on a small set of users. Records only what was acknowledged,
 * so a checker can tell lost writes from writes whose outcome was never known.
 */
export async function mixedLoad(options: MixedLoadOptions): Promise<LoadRecord> {
  const { store, workers, users } = options;
  const rec: LoadRecord = {
    ops: 0,
    created: new Map(),
    destroyed: new Set(),
    ackedAt: new Map(),
    sentAt: new Map(),
    uncertain: new Set(),
    errors: new Map(),
    samples: new Set(),
    maxCallMs: 0,
    falseAbsent: 0,
    absentTokens: new Set(),
  };
  const absent = (t: string) => {
    rec.falseAbsent++;
    rec.absentTokens.add(t);
  };
  let stop = false;
  // Stop however `until` ends: a failed fault is reported by whoever awaits it, and must not
  // leave the load running (or reject unhandled, which ends the whole test process).
  void options.until.then(
    () => (stop = true),
    () => (stop = true),
  );
  const mine: string[][] = Array.from({ length: workers }, () => []);

  async function call<T>(fn: () => Promise<T>, token?: string, write = false): Promise<T | undefined> {
    const started = performance.now();
    try {
      const value = await fn();
      const ended = performance.now();
      rec.maxCallMs = Math.max(rec.maxCallMs, ended - started);
      options.onCall?.(started, ended, true, value, undefined);
      rec.ops++;
      return value;
    } catch (err) {
      const ended = performance.now();
      rec.maxCallMs = Math.max(rec.maxCallMs, ended - started);
      options.onCall?.(started, ended, false, undefined, err);
      const code = (err as { code?: string }).code ?? 'UNTYPED';
      rec.errors.set(code, (rec.errors.get(code) ?? 0) + 1);
      if (rec.samples.size < 20) rec.samples.add(`${code}: ${String((err as Error).message).slice(0, 120)}`);
      if (token !== undefined && write) rec.uncertain.add(token);
      if (options.pauseAfterErrorMs) await new Promise((done) => setTimeout(done, options.pauseAfterErrorMs));
      return undefined;
    }
  }

  async function worker(w: number): Promise<void> {
    const tokens = mine[w]!;
    for (let i = 0; !stop; i++) {
      const user = { id: `load-user-${(w * 7 + i) % users}`, username: 'load' };
      const kind = i % 8;
      if (kind < 3 || tokens.length === 0) {
        const sent = performance.now();
        const s = await call(() => store.createSession(user, { metadata: { w: String(w) } }));
        if (s) {
          rec.created.set(s.token, user.id);
          rec.sentAt.set(s.token, sent);
          rec.ackedAt.set(s.token, performance.now());
          tokens.push(s.token);
        }
      } else if (kind === 3) {
        const t = tokens[i % tokens.length]!;
        const sent = performance.now();
        const ok = await call(() => store.destroySession(t), t, true);
        if (ok !== undefined) {
          rec.destroyed.add(t);
          rec.sentAt.set(t, sent);
          rec.ackedAt.set(t, performance.now());
          tokens.splice(tokens.indexOf(t), 1);
        }
      } else if (kind === 4) {
        const t = tokens[i % tokens.length]!;
        await call(() => store.refreshSession(t));
      } else if (kind === 5) {
        const t = tokens[i % tokens.length]!;
        await call(() => store.updateSessionMetadata(t, { i: String(i) }));
      } else if (kind === 6 && options.batches) {
        const batch = tokens.slice(-20);
        const got = await call(() => store.getSessions(batch));
        got?.forEach((s, j) => s === null && !rec.uncertain.has(batch[j]!) && absent(batch[j]!));
      } else {
        const t = tokens[i % tokens.length]!;
        const got = await call(() => store.getSession(t));
        if (got === null && !rec.uncertain.has(t)) absent(t);
      }
    }
  }

  await Promise.all(Array.from({ length: workers }, (_, w) => worker(w)));
  return rec;
}

/** Checks every acknowledged outcome against Redis after the load: lost, resurrected, unindexed. */
export async function audit(
  store: RedisSessionStore,
  rec: LoadRecord,
): Promise<{
  checked: number;
  lost: number;
  resurrected: number;
  unindexed: number;
  /** The tokens behind `lost` and `resurrected`. */
  missing: string[];
}> {
  let lost = 0;
  let resurrected = 0;
  const missing: string[] = [];
  let unindexed = 0;
  let checked = 0;
  const live = [...rec.created.keys()].filter((t) => !rec.destroyed.has(t) && !rec.uncertain.has(t));
  const gone = [...rec.destroyed].filter((t) => !rec.uncertain.has(t));
  for (let i = 0; i < live.length; i += 500) {
    const slice = live.slice(i, i + 500);
    const got = await store.getSessions(slice);
    got.forEach((s, k) => s === null && missing.push(slice[k]!));
    lost += got.filter((s) => s === null).length;
    checked += slice.length;
  }
  for (let i = 0; i < gone.length; i += 500) {
    const slice = gone.slice(i, i + 500);
    const got = await store.getSessions(slice);
    got.forEach((s, k) => s !== null && missing.push(slice[k]!));
    resurrected += got.filter((s) => s !== null).length;
    checked += got.length;
  }
  const byUser = new Map<string, Set<string>>();
  for (const user of new Set(rec.created.values())) {
    byUser.set(user, new Set((await store.listUserSessions(user)).map((s) => s.id)));
  }
  const { sessionIdOf } = await import('../../src/keys.js');
  for (const t of live) if (!byUser.get(rec.created.get(t)!)?.has(sessionIdOf(t))) unindexed++;
  return { checked, lost, resurrected, unindexed, missing };
}

export function errorSummary(errors: Map<string, number>): string {
  return [...errors].map(([code, n]) => `${code}=${n}`).join(' ') || 'none';
}
