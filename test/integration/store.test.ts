import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { standalone, type Deployment } from '../helpers/deployment.js';
import { functionalTests } from '../helpers/functional-suite.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// The whole functional suite runs once per protocol: ioredis 6 defaults to RESP3, many users pin
// RESP2. The same tests run on a real cluster (test/cluster) and as a least-privilege ACL user
// (test/security).
for (const protocol of [2, 3] as const) {
  const test = suite(`store (RESP${protocol})`);
  let r: TestRedis;
  let d: Deployment;
  test.before(async () => {
    r = await startRedis();
    d = standalone(r);
  });
  functionalTests(test, () => d, protocol);
  test.after(async () => {
    await r?.stop();
  });
  test.run();
}

// getSessions without the cache, many users on one server: one script call (readSessions), not a
// command per user key; the same answers as one getSession each. And how calls reach the socket.
const batch = suite('one server: getSessions, socket writes');
let server: TestRedis;
batch.before(async () => {
  server = await startRedis();
});
batch.after(async () => {
  await server?.stop();
});
batch('50 users and an unknown token: one EVALSHA, answers in input order', async () => {
  const store = await standalone(server).open({ metrics: false }, 3);
  try {
    const made = await Promise.all(
      Array.from({ length: 50 }, (_, u) => store.createSession({ id: `b${u}`, username: 'b' })),
    );
    const second = await store.createSession({ id: 'b7', username: 'b' }); // two of one user in the batch
    await store.destroySession(made[3]!.token);
    const tokens = [...made.map((m) => m.token), second.token];
    const calls = async () => {
      const stats = await server.admin.info('commandstats');
      const n = (name: string) => Number(new RegExp(`^cmdstat_${name}:calls=(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
      return { evalsha: n('evalsha') + n('eval'), reads: n('hget') + n('hmget') };
    };
    const before = await calls();
    const found = await store.getSessions(tokens);
    const after = await calls();
    assert.is(after.evalsha - before.evalsha, 1, 'one script call');
    // commandstats counts a script's inner commands: one read per user key (50 users, one of
    // them with two sessions), inside the script; a client-side HGET per user would double it.
    assert.is(after.reads - before.reads, 50, 'one read per user key, none besides the script');
    const one = await Promise.all(tokens.map((t) => store.getSession(t)));
    assert.equal(
      found.map((s) => s?.id ?? null),
      one.map((s) => s?.id ?? null),
    );
    assert.is(found[3], null, 'the destroyed one');
    assert.is(found.filter((s) => s !== null).length, 50);
  } finally {
    await store.close();
  }
});

// The commands of one loop turn leave in one socket write (transport/client.ts holds the writes
// until the check phase): Redis reads them in one go, where a write per command costs a read each.
batch('50 calls issued in one loop turn reach Redis in one read; calls a turn apart in one read each', async () => {
  const store = await standalone(server).open({ metrics: false }, 3);
  try {
    const made = await Promise.all(
      Array.from({ length: 50 }, (_, u) => store.createSession({ id: `w${u}`, username: 'w' })),
    );
    // Redis counts the reads it made on every connection; the INFO that asks is one of them.
    const reads = async () => Number(/^total_reads_processed:(\d+)/m.exec(await server.admin.info('stats'))![1]);
    let before = await reads();
    const found = await Promise.all(made.map((m) => store.getSession(m.token)));
    assert.is(found.filter((s) => s !== null).length, 50);
    const sameTick = (await reads()) - before - 1;
    before = await reads();
    for (const m of made.slice(0, 10)) assert.ok(await store.refreshSession(m.token));
    const apart = (await reads()) - before - 1;
    assert.ok(sameTick <= 2, `50 reads of one tick took ${sameTick} socket reads`);
    assert.ok(apart >= 10, `10 sequential refreshes took ${apart} socket reads`);
  } finally {
    await store.close();
  }
});
batch.run();
