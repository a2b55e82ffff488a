import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreUnavailableError, type RedisSessionStore } from '../../src/index.js';
import { audit, errorSummary, mixedLoad, SOAK } from '../helpers/mixed-load.js';
import { startRedis, waitFor } from '../helpers/redis.js';
import { openStore } from '../helpers/store.js';

// Fault injection under a 32-client mixed load. Each scenario prints its figures and asserts
// the invariant. `npm run soak` runs the same scenarios longer (SOAK=1).
const test = suite('faults');
const WORKERS = 32;
const BUDGET = 300;
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** How long Redis may postpone an AOF write under appendfsync everysec (aof.c). */
const AOF_POSTPONE_MS = 2000;

async function killRestartRun(fsync: 'always' | 'everysec'): Promise<{
  lost: number;
  resurrected: number;
  unindexed: number;
  checked: number;
  ops: number;
  /** Lost or resurrected outcomes acknowledged more than AOF_POSTPONE_MS before any kill. */
  outsidePostponement: number;
}> {
  const r = await startRedis(['--appendonly', 'yes', '--appendfsync', fsync]);
  const store = await openStore(r, { commandTimeout: 1000 });
  // Each kill as [sent SIGKILL, saw the process gone] (performance.now()).
  const killTimes: [number, number][] = [];
  try {
    const kills = SOAK ? 10 : 3;
    const stopped = (async () => {
      for (let k = 0; k < kills; k++) {
        await sleep(SOAK ? 3000 : 700);
        const sentKill = performance.now();
        await r.kill();
        killTimes.push([sentKill, performance.now()]);
        await sleep(100);
        await r.restart();
      }
      await sleep(500);
    })();
    const rec = await mixedLoad({ store, workers: WORKERS, users: 200, until: stopped });
    // The restarted server answers PING while it still loads the AOF (which grows with every
    // round); audit once it serves commands, or its reads would time out behind the load.
    await waitFor(
      async () => (await r.admin.info('persistence')).includes('loading:0') && (await store.healthCheck()).healthy,
      20_000,
      50,
    );
    const result = await audit(store, rec);
    // A write can be lost only if Redis ran it at most AOF_POSTPONE_MS before it died: it was
    // sent before the death and acknowledged no earlier than that window (its reply may arrive
    // after the kill began, read from the socket of the dead process).
    const postponed = (t: string) => {
      const sent = rec.sentAt.get(t)!;
      const acked = rec.ackedAt.get(t)!;
      return killTimes.some(([from, gone]) => sent <= gone && acked >= from - AOF_POSTPONE_MS);
    };
    const unexcused = result.missing.filter((t) => !postponed(t));
    const outsidePostponement = unexcused.length;
    // For diagnosis (times only, never a token): when each unexcused write was sent and
    // acknowledged, relative to the kill nearest to it.
    for (const t of unexcused.slice(0, 5)) {
      const [sent, acked] = [rec.sentAt.get(t)!, rec.ackedAt.get(t)!];
      const [from] = killTimes.reduce((a, b) => (Math.abs(b[0] - acked) < Math.abs(a[0] - acked) ? b : a));
      console.log(
        `    unexcused: sent ${(sent - from).toFixed(0)} ms, acknowledged ${(acked - from).toFixed(0)} ms after the nearest kill`,
      );
    }
    console.log(
      `    kill -9 x${kills}, appendfsync ${fsync}: ${rec.ops} ops, ${rec.created.size} creates acknowledged, ` +
        `${result.checked} outcomes checked, lost ${result.lost}, resurrected ${result.resurrected}, unindexed ${result.unindexed}, ` +
        `false "not found" ${rec.falseAbsent}, errors ${errorSummary(rec.errors)}, max call ${rec.maxCallMs.toFixed(0)} ms`,
    );
    // A session lost with an AOF write that everysec postponed is gone, not falsely absent:
    // with fsync always nothing may read as absent, with everysec only such sessions.
    const unexplained = [...rec.absentTokens].filter((t) => fsync === 'always' || !postponed(t));
    assert.is(unexplained.length, 0, 'no live session ever read as absent');
    for (const code of rec.errors.keys()) assert.ok(code.startsWith('STORE_'), `typed errors only, got ${code}`);
    return { ...result, ops: rec.ops, outsidePostponement };
  } finally {
    await store.close();
    await r.stop();
  }
}

test('kill -9 and restart x3 under load, AOF always: 0 lost, 0 resurrected, 0 unindexed', async () => {
  const r = await killRestartRun('always');
  assert.ok(r.checked > 100, `checked ${r.checked}`);
  assert.is(r.lost, 0);
  assert.is(r.resurrected, 0);
  assert.is(r.unindexed, 0);
});

test('kill -9 and restart x3 under load, AOF everysec: only writes acknowledged in the last 2 s before a kill can be lost', async () => {
  const r = await killRestartRun('everysec');
  // Usually a killed process loses nothing: acknowledged writes are in the page cache. But while
  // a background fsync is pending, Redis postpones the AOF write for up to 2 s and replies all
  // the same (aof.c; INFO persistence counts it as aof_delayed_fsync). What such a window held
  // can be lost, as a create or as a destroy; anything acknowledged before it must survive.
  assert.is(r.outsidePostponement, 0);
  // One key per user: a session is lost with its index entry or not at all.
  assert.is(r.unindexed, r.lost);
});

test('Redis without persistence restarted: service recovers, counts are 0, gap errors are typed', async () => {
  const r = await startRedis();
  const store = await openStore(r, { commandTimeout: BUDGET });
  try {
    const s = await store.createSession({ id: 'p', username: 'p' });
    await r.kill();
    const err = await store.countUserSessions('p').catch((e: unknown) => e);
    assert.instance(err, StoreUnavailableError);
    await r.restart();
    await waitFor(async () => (await store.healthCheck()).healthy, 2000, 20);
    assert.is(await store.countUserSessions('p'), 0);
    assert.is(await store.getSession(s.token), null);
  } finally {
    await store.close();
    await r.stop();
  }
});

test('Redis down 10 s under load: every call in the gap rejects typed within budget + 100 ms; service back within 2 s', async () => {
  const gapMs = 10_000;
  const r = await startRedis(['--appendonly', 'yes', '--appendfsync', 'always']);
  const store = await openStore(r, { commandTimeout: BUDGET });
  let down = Infinity;
  let restarting = Infinity;
  let inGap = 0;
  let resolvedInGap = 0;
  let slowInGap = 0;
  let firstOkAfterUp = Infinity;
  let firstResolved = Infinity;
  const heapBefore = process.memoryUsage().heapUsed;
  try {
    const done = (async () => {
      await sleep(500);
      await r.kill();
      down = performance.now();
      await sleep(gapMs);
      // The gap ends when the restart begins: the new server accepts calls before restart()
      // returns (that also waits for the test's own admin client to reconnect).
      restarting = performance.now();
      await r.restart();
      await waitFor(() => firstOkAfterUp < Infinity, 5000, 10);
      await sleep(300);
    })();
    const rec = await mixedLoad({
      store,
      workers: WORKERS,
      users: 100,
      until: done,
      onCall: (started, ended, ok, _value, err) => {
        if (ok && started > restarting) firstOkAfterUp = Math.min(firstOkAfterUp, ended);
        if (started <= down + 50 || ended >= restarting) return;
        inGap++;
        if (ok) {
          resolvedInGap++;
          firstResolved = Math.min(firstResolved, ended);
        } else if (!(err instanceof StoreUnavailableError)) resolvedInGap++;
        if (ended - started > BUDGET + 100) slowInGap++;
      },
    });
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const recovery = firstOkAfterUp - restarting;
    console.log(
      `    down ${gapMs} ms: ${inGap} calls in the gap, ${resolvedInGap} resolved or untyped, ${slowInGap} over ${BUDGET + 100} ms; ` +
        `first success ${recovery.toFixed(0)} ms after the restart began; heap +${heapGrowthMb.toFixed(1)} MB; errors ${errorSummary(rec.errors)}` +
        (resolvedInGap > 0
          ? ` [down at ${down.toFixed(0)} ms, restart at ${restarting.toFixed(0)}, first resolved ${firstResolved.toFixed(0)}]`
          : ''),
    );
    assert.ok(inGap > WORKERS, 'the gap saw calls');
    assert.is(resolvedInGap, 0, 'nothing resolves during the outage');
    assert.is(slowInGap, 0, 'every failure within the budget plus 100 ms');
    assert.is(rec.falseAbsent, 0);
    assert.ok(recovery < 2000, `service back ${recovery.toFixed(0)} ms after the restart began`);
    assert.ok(heapGrowthMb < 64, 'no unbounded queue growth');
  } finally {
    await store.close();
    await r.stop();
  }
});

test('Redis hung (SIGSTOP) 5 s under load: calls time out at the budget, memory stays bounded, all settles', async () => {
  const hangMs = 5000;
  const r = await startRedis();
  const store: RedisSessionStore = await openStore(r, { commandTimeout: BUDGET });
  let paused = Infinity;
  let resumed = Infinity;
  let overBudget = 0;
  let timeouts = 0;
  const heapBefore = process.memoryUsage().heapUsed;
  try {
    const done = (async () => {
      await sleep(300);
      r.pause();
      paused = performance.now();
      await sleep(hangMs);
      r.resume();
      resumed = performance.now();
      await sleep(500);
    })();
    const rec = await mixedLoad({
      store,
      workers: WORKERS,
      users: 100,
      until: done,
      onCall: (started, ended, ok, _v, err) => {
        if (started < paused || started > resumed - BUDGET) return;
        if (!ok && (err as { code?: string }).code === 'STORE_TIMEOUT') timeouts++;
        if (ended - started > BUDGET + 100) overBudget++;
      },
    });
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    console.log(
      `    hung ${hangMs} ms: ${timeouts} timeouts, ${overBudget} calls over budget + 100 ms, heap +${heapGrowthMb.toFixed(1)} MB, errors ${errorSummary(rec.errors)}`,
    );
    assert.ok(timeouts > WORKERS);
    assert.is(overBudget, 0);
    assert.is(rec.falseAbsent, 0);
    assert.ok(heapGrowthMb < 64);
    assert.ok((await store.healthCheck()).healthy, 'settled and serving');
  } finally {
    r.resume();
    await store.close();
    await r.stop();
  }
});

test('SCRIPT FLUSH every second during mixed load with pipelined getSessions: 0 errors', async () => {
  const r = await startRedis();
  const store = await openStore(r);
  let reloads = 0;
  store.onScriptReload = () => reloads++;
  try {
    const seconds = SOAK ? 30 : 4;
    const done = (async () => {
      for (let i = 0; i < seconds; i++) {
        await sleep(1000);
        await r.admin.script('FLUSH');
      }
    })();
    const rec = await mixedLoad({ store, workers: WORKERS, users: 100, until: done, batches: true });
    console.log(
      `    ${seconds} flushes: ${rec.ops} ops, ${reloads} script reloads, errors ${errorSummary(rec.errors)}`,
    );
    assert.is(rec.errors.size, 0);
    assert.ok(reloads >= seconds);
    const result = await audit(store, rec);
    assert.equal([result.lost, result.resurrected, result.unindexed], [0, 0, 0]);
  } finally {
    await store.close();
    await r.stop();
  }
});

test('allkeys-lru eviction pressure with hot sessions: 0 sessions left unrevocable; the startup warning fires', async () => {
  const r = await startRedis(['--maxmemory', '8mb', '--maxmemory-policy', 'allkeys-lru']);
  const warnings: string[] = [];
  const store = await openStore(r, { logger: { warn: (m) => warnings.push(m) } });
  try {
    assert.is(warnings.length, 1);
    const users = SOAK ? 5000 : 1000;
    const sessions = await Promise.all(
      Array.from({ length: users }, (_, u) =>
        store.createSession({ id: `lru-${u}`, username: 'x' }, { metadata: { pad: 'p'.repeat(200) } }),
      ),
    );
    // Hot sessions are read while filler data pushes Redis past maxmemory.
    for (let round = 0; round < 20; round++) {
      await Promise.all(sessions.filter((_, i) => i % 2 === 0).map((s) => store.getSession(s.token)));
      const pipeline = r.admin.pipeline();
      for (let i = 0; i < 500; i++) pipeline.set(`filler:${round}:${i}`, 'f'.repeat(1000));
      await pipeline.exec();
    }
    const evictedKeys = Number(/evicted_keys:(\d+)/.exec(await r.admin.info('stats'))![1]);
    const liveBefore = (await store.getSessions(sessions.map((s) => s.token))).filter(Boolean).length;
    let destroyed = 0;
    for (const s of sessions) destroyed += await store.destroyUserSessions(s.userId);
    const unrevocable = (await store.getSessions(sessions.map((s) => s.token))).filter(Boolean).length;
    console.log(
      `    allkeys-lru: ${evictedKeys} keys evicted, ${users - liveBefore} of ${users} sessions lost to eviction (logged out), ${destroyed} destroyed by log-out-everywhere, unrevocable ${unrevocable}`,
    );
    assert.ok(evictedKeys > 0, 'eviction happened');
    assert.is(unrevocable, 0);
  } finally {
    await store.close();
    await r.stop();
  }
});

test.run();
