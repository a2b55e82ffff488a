import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StoreTimeoutError, StoreUnavailableError, type RedisSessionStore } from '../../src/index.js';
import { startRedis, waitFor, type TestRedis } from '../helpers/redis.js';
import { alice, openStore } from '../helpers/store.js';

// Outage is not absence: with Redis down or hung, every call rejects with a typed error within
// the budget; none resolves null, 0 or false. Scripts reload themselves after SCRIPT FLUSH.
const test = suite('outage');
const BUDGET = 300;
const SLACK = 250; // event-loop and timer slack on a shared 2-core machine
let r: TestRedis;
let store: RedisSessionStore;

test.before(async () => {
  r = await startRedis();
  store = await openStore(r, { commandTimeout: BUDGET });
});
test.after(async () => {
  await store?.close();
  await r?.stop();
});
test.before.each(async () => {
  await r.admin.flushall();
});

function everyCall(token: string, id: string): [string, () => Promise<unknown>][] {
  return [
    ['createSession', () => store.createSession(alice)],
    ['getSession', () => store.getSession(token)],
    ['getSessions', () => store.getSessions([token, token])],
    ['refreshSession', () => store.refreshSession(token)],
    ['destroySession', () => store.destroySession(token)],
    ['updateSessionMetadata', () => store.updateSessionMetadata(token, { a: 'b' })],
    ['getSessionTtl', () => store.getSessionTtl(token)],
    ['rotateSession', () => store.rotateSession(token)],
    ['countUserSessions', () => store.countUserSessions('alice')],
    ['listUserSessions', () => store.listUserSessions('alice')],
    ['destroyUserSessions', () => store.destroyUserSessions('alice')],
    ['revokeSession', () => store.revokeSession('alice', id)],
  ];
}

async function expectAllFail(
  token: string,
  id: string,
  Class: abstract new (...args: never[]) => Error,
): Promise<number> {
  let worst = 0;
  for (const [name, call] of everyCall(token, id)) {
    const started = performance.now();
    let outcome: unknown;
    try {
      outcome = { resolved: await call() };
    } catch (err) {
      outcome = err;
    }
    const took = performance.now() - started;
    worst = Math.max(worst, took);
    assert.instance(outcome, Class, `${name} must reject with ${Class.name}, got ${JSON.stringify(outcome)}`);
    assert.ok(took <= BUDGET + SLACK, `${name} took ${took.toFixed(0)} ms`);
  }
  return worst;
}

test('Redis killed: every call rejects StoreUnavailableError within the budget; health recovers on restart', async () => {
  const s = await store.createSession(alice);
  await r.kill();
  const worst = await expectAllFail(s.token, s.id, StoreUnavailableError);
  console.log(`    down: slowest rejection ${worst.toFixed(0)} ms (budget ${BUDGET} ms)`);
  const h = await store.healthCheck();
  assert.is(h.healthy, false);
  assert.ok(h.error === 'STORE_UNAVAILABLE' || h.error === 'STORE_TIMEOUT', h.error);

  await r.restart();
  const restarted = performance.now();
  await waitFor(async () => (await store.healthCheck()).healthy, 3000, 25);
  console.log(`    healthy again ${(performance.now() - restarted).toFixed(0)} ms after restart`);
  // No persistence: the session is gone, and now "not found" is the truth.
  assert.is(await store.getSession(s.token), null);
  const again = await store.createSession(alice);
  assert.ok(await store.getSession(again.token));
});

test('Redis hung (SIGSTOP): every call rejects StoreTimeoutError at the budget, then service resumes', async () => {
  const s = await store.createSession(alice);
  r.pause();
  try {
    await expectAllFail(s.token, s.id, StoreTimeoutError);
    const h = await store.healthCheck();
    assert.equal([h.healthy, h.error], [false, 'STORE_TIMEOUT']);
  } finally {
    r.resume();
  }
  await waitFor(async () => (await store.healthCheck()).healthy, 3000, 25);
  // The timed-out writes were already on the socket: Redis ran them after SIGCONT. That is why
  // a timeout means "outcome unknown": here the destroys did land, and the index agrees.
  assert.is(await store.getSession(s.token), null);
  assert.is(await store.countUserSessions('alice'), (await store.listUserSessions('alice')).length);
  const fresh = await store.createSession(alice);
  assert.ok(await store.getSession(fresh.token));
});

test('SCRIPT FLUSH between calls and inside a pipelined getSessions: no error reaches the caller', async () => {
  const reloads: string[] = [];
  store.onScriptReload = (name) => reloads.push(name);
  try {
    const made = await Promise.all(Array.from({ length: 20 }, () => store.createSession(alice)));
    await r.admin.script('FLUSH');
    assert.ok(await store.getSession(made[0]!.token));
    await r.admin.script('FLUSH');
    const batch = await store.getSessions(made.map((m) => m.token));
    assert.is(batch.filter(Boolean).length, 20);
    await r.admin.script('FLUSH');
    assert.is(await store.countUserSessions('alice'), 20);
    assert.equal(reloads, [], 'reads run no script');
    assert.ok(await store.refreshSession(made[1]!.token));
    assert.ok(await store.destroySession(made[2]!.token));
    assert.equal(reloads, ['refreshSession', 'destroySession']);
    // Interleaved: flushes racing a stream of mixed calls.
    let errors = 0;
    for (let round = 0; round < 20; round++) {
      const work = Promise.all([
        store.getSessions(made.map((m) => m.token)),
        store.refreshSession(made[round]!.token),
        store.updateSessionMetadata(made[round]!.token, { round: String(round) }),
        store.listUserSessions('alice'),
      ]).catch(() => errors++);
      await r.admin.script('FLUSH');
      await work;
    }
    assert.is(errors, 0);
  } finally {
    store.onScriptReload = undefined;
  }
});

test.run();
