import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { RedisSessionStore } from '../../src/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';
import { alice, openStore } from '../helpers/store.js';

// Races are run as many trials and counted, not as one lucky interleaving. Two stores on
// separate connections make the interleavings real: each trial's calls are in flight together.
const test = suite('races');
let r: TestRedis;
let a: RedisSessionStore;
let b: RedisSessionStore;

test.before(async () => {
  r = await startRedis();
  a = await openStore(r, { rolling: true, touchAfter: 0 });
  b = await openStore(r, { rolling: true, touchAfter: 0 });
});
test.after(async () => {
  await a?.close();
  await b?.close();
  await r?.stop();
});
test.before.each(async () => {
  await r.admin.flushall();
});

async function jitter(maxTurns: number): Promise<void> {
  for (let n = Math.floor(Math.random() * (maxTurns + 1)); n > 0; n--) await new Promise((done) => setImmediate(done));
}

// The last field is the most event-loop turns one side waits: a rolling get is two round trips
// (HGET, then the touch script), so the destroy must be able to lag further for both orders.
const contenders: [string, number, (s: RedisSessionStore, t: string) => Promise<unknown>, number][] = [
  ['refresh', 1000, (s, t) => s.refreshSession(t, 600), 3],
  ['rolling get', 300, (s, t) => s.getSession(t), 40],
  ['metadata patch', 300, (s, t) => s.updateSessionMetadata(t, { k: 'v' }), 3],
  ['rotate', 300, (s, t) => s.rotateSession(t), 3],
];

for (const [name, trials, op, lag] of contenders) {
  test(`${trials} destroy vs ${name} races: 0 resurrected`, async () => {
    let resurrected = 0;
    let contenderFirst = 0;
    for (let i = 0; i < trials; i += 20) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => a.createSession(alice)));
      const outcomes = await Promise.all(
        batch.map(async (s, j) => {
          // A random few event-loop turns on one side lets either call reach Redis first.
          const lead = j % 2 === 0;
          const [, outcome] = await Promise.all([
            jitter(lead ? 0 : lag).then(() => a.destroySession(s.token)),
            jitter(lead ? lag : 0).then(() => op(b, s.token)),
          ]);
          return outcome;
        }),
      );
      for (const s of batch) if ((await a.getSession(s.token)) !== null) resurrected++;
      for (const o of outcomes) {
        if (o !== null && o !== false) contenderFirst++;
        // A rotation that won the race owns the session under its new token: not a resurrection.
        if (o && typeof o === 'object' && 'token' in o) await a.destroySession(o.token as string);
      }
    }
    console.log(
      `    destroy vs ${name}: ${trials} trials, contender first ${contenderFirst}, resurrected ${resurrected}`,
    );
    assert.is(resurrected, 0);
    assert.ok(contenderFirst > 0 && contenderFirst < trials, 'both orders happened');
    assert.is(await r.admin.dbsize(), 0, 'no partial data left');
  });
}

test('200 concurrent metadata patches of different keys: nothing lost', async () => {
  const s = await a.createSession(alice);
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).updateSessionMetadata(s.token, { [`k${i}`]: String(i) })),
  );
  const meta = (await a.getSession(s.token))!.metadata;
  assert.is(Object.keys(meta).length, 200);
  for (let i = 0; i < 200; i++) assert.is(meta[`k${i}`], String(i));
});

test('200 concurrent creates against a cap of 5: exactly 5 live, never more at any sampled instant', async () => {
  const c1 = await openStore(r, { maxSessionsPerUser: 5 });
  const c2 = await openStore(r, { maxSessionsPerUser: 5 });
  try {
    let maxSeen = 0;
    let samples = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        maxSeen = Math.max(maxSeen, await b.countUserSessions('alice'));
        samples++;
      }
    })();
    const created = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? c1 : c2).createSession(alice)));
    done = true;
    await sampler;
    assert.is(await a.countUserSessions('alice'), 5);
    assert.ok(samples > 0);
    assert.ok(maxSeen <= 5, `saw ${maxSeen}`);
    const evicted = created.reduce((n, c) => n + c.evictedSessionIds.length, 0);
    assert.is(evicted, 195, 'every eviction is reported exactly once');
    const live = (await a.getSessions(created.map((c) => c.token))).filter(Boolean).length;
    assert.is(live, 5);
  } finally {
    await c1.close();
    await c2.close();
  }
});

test('100 x 8 concurrent rotations of one token: exactly one winner each time', async () => {
  for (let i = 0; i < 100; i++) {
    const s = await a.createSession(alice);
    const results = await Promise.all(Array.from({ length: 8 }, (_, j) => (j % 2 ? a : b).rotateSession(s.token)));
    const winners = results.filter((x) => x !== null);
    assert.is(winners.length, 1, `trial ${i}`);
    assert.ok(await a.getSession(winners[0]!.token));
    assert.is(await a.getSession(s.token), null);
    await a.destroySession(winners[0]!.token);
  }
});

test('destroyUserSessions vs concurrent creates: every session created before the call is gone', async () => {
  for (let trial = 0; trial < 50; trial++) {
    const before = await Promise.all(Array.from({ length: 5 }, () => a.createSession(alice)));
    const [destroyed, during] = await Promise.all([
      b.destroyUserSessions('alice'),
      Promise.all(Array.from({ length: 5 }, () => a.createSession(alice))),
    ]);
    assert.ok(destroyed >= 5, `trial ${trial}: destroyed ${destroyed}`);
    for (const s of before) assert.is(await a.getSession(s.token), null);
    // Creates racing the call either died with it or survive intact and counted.
    const survivors = (await a.getSessions(during.map((s) => s.token))).filter(Boolean).length;
    assert.is(await a.countUserSessions('alice'), survivors);
    assert.is(destroyed, 10 - survivors);
    await a.destroyUserSessions('alice');
  }
});

test.run();
