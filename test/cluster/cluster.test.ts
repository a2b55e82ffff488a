import { Cluster } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ExpressSessionStore } from '../../src/express.js';
import { aclRules, RedisSessionStore, type CreatedSession } from '../../src/index.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { cluster, type Deployment } from '../helpers/deployment.js';
import { functionalTests } from '../helpers/functional-suite.js';
import { failoverUnderLoad } from '../helpers/failover.js';
import { cacheConnections } from '../helpers/cache.js';
import { cli } from '../helpers/cli.js';
import { audit, errorSummary, mixedLoad } from '../helpers/mixed-load.js';
import { keySlot, waitFor, type TestRedis } from '../helpers/redis.js';
import { migrateSlot } from '../helpers/reshard.js';

// One real cluster (3 masters, 3 replicas, cluster-node-timeout 1 s) for this whole file: the
// core functional suite, then cluster-only checks, a live reshard, and last a master failover.
const test = suite('cluster (3 masters + 3 replicas)');
let c: TestCluster;
let d: Deployment;
const fileStarted = performance.now();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const dataKey = (token: string) => `session:{${token.slice(0, 22)}}:d`;

test.before(async () => {
  const started = performance.now();
  c = await startCluster({ nodeTimeout: 1000 });
  d = cluster(c);
  console.log(`    cluster of 6 redis-server processes up in ${(performance.now() - started).toFixed(0)} ms`);
});

if (!process.env.SKIP_FUNCTIONAL) functionalTests(test, () => d);

/** The master that serves a key's slot, asked from the cluster itself. */
async function masterOfKey(key: string): Promise<TestRedis> {
  return c.masterOf(await keySlot(c.nodes[0]!.admin, key));
}

test("users spread over all three masters; all of a user's keys share one slot (CLUSTER KEYSLOT)", async () => {
  const store = await d.open({}, 3);
  try {
    const byMaster = new Map<number, number>();
    for (let u = 0; u < 60; u++) {
      const s = await store.createSession({ id: `spread-${u}`, username: 'u' });
      const master = await masterOfKey(dataKey(s.token));
      assert.is(await master.admin.exists(dataKey(s.token)), 1, "the user's key is on the master that owns its slot");
      byMaster.set(master.port, (byMaster.get(master.port) ?? 0) + 1);
    }
    assert.is(byMaster.size, 3, `users on ${byMaster.size} masters: ${JSON.stringify([...byMaster])}`);
  } finally {
    await store.close();
  }
});

test('60 getSessions issued in one loop turn reach each master in one socket read', async () => {
  const store = await d.open({ metrics: false }, 3);
  try {
    const made = await Promise.all(
      Array.from({ length: 60 }, (_, u) => store.createSession({ id: `turn-${u}`, username: 't' })),
    );
    const masters = await c.masters();
    // Each master counts the reads it made on every connection; the INFO that asks is one of them.
    const reads = async () =>
      Promise.all(
        masters.map(async (m) => Number(/^total_reads_processed:(\d+)/m.exec(await m.admin.info('stats'))![1])),
      );
    const before = await reads();
    const found = await Promise.all(made.map((m) => store.getSession(m.token)));
    const after = await reads();
    assert.is(found.filter((s) => s !== null).length, 60);
    const perMaster = after.map((n, i) => n - before[i]! - 1);
    assert.ok(
      perMaster.every((n) => n <= 2),
      `socket reads per master for 60 reads over ${masters.length} masters: ${perMaster.join(', ')}`,
    );
  } finally {
    await store.close();
  }
});

test('getSessions: one pipeline per master, sent in parallel, results in input order; NOSCRIPT on one node recovered', async () => {
  const client = new Cluster(c.seeds);
  let pipelines = 0;
  const pipeline = client.pipeline.bind(client);
  client.pipeline = (...args: Parameters<typeof pipeline>) => {
    pipelines++;
    return pipeline(...args);
  };
  const connected = RedisSessionStore.connect({ redis: client });
  // The caller's client is closed even when connecting fails.
  const store = await connected.catch((err: unknown) => {
    client.disconnect();
    throw err;
  });
  try {
    const made: CreatedSession[] = [];
    for (let u = 0; u < 45; u++) made.push(await store.createSession({ id: `batch-${u}`, username: 'b' }));
    const masters = new Set(await Promise.all(made.map(async (s) => (await masterOfKey(dataKey(s.token))).port)));
    assert.is(masters.size, 3);
    const tokens = [...made.map((s) => s.token)].reverse();
    tokens.splice(7, 0, 'not-a-token', made[0]!.token.slice(0, 23) + 'A'.repeat(43));

    pipelines = 0;
    const got = await store.getSessions(tokens);
    assert.is(pipelines, 3, 'one pipeline per master');
    assert.equal(
      got.map((s) => s?.id ?? null),
      tokens.map((t) => made.find((m) => m.token === t)?.id ?? null),
    );

    // One master loses its script cache (a restart or failover would do the same).
    const victim = await masterOfKey(dataKey(made[0]!.token));
    await victim.admin.script('FLUSH');
    const reloads: string[] = [];
    store.onScriptReload = (name) => reloads.push(name);
    const again = await store.getSessions(tokens);
    assert.equal(
      again.map((s) => s?.id ?? null),
      got.map((s) => s?.id ?? null),
    );
    assert.equal(reloads, [], 'reads run no script');
    // A write to a user on that master reloads its script there, once.
    assert.ok(await store.refreshSession(made[0]!.token));
    assert.equal(reloads, ['refreshSession']);
  } finally {
    await store.close();
    client.disconnect();
  }
});

test('connect: cluster seeds, or a comma-separated REDIS_URL in fromEnv', async () => {
  const fromEnv = await RedisSessionStore.fromEnv({ REDIS_URL: d.envUrl });
  const direct = await RedisSessionStore.connect({ cluster: [c.seeds[0]!] });
  try {
    assert.is(fromEnv.options.topology.kind, 'cluster');
    const s = await fromEnv.createSession({ id: 'env-user', username: 'e' });
    assert.is((await direct.getSession(s.token))?.id, s.id, 'a second store on one seed sees it');
    assert.ok(await direct.destroySession(s.token));
    assert.is(await fromEnv.getSession(s.token), null);
  } finally {
    await fromEnv.close();
    await direct.close();
  }
});

test('as an aclRules() user on every node: the cluster client and every operation work', async () => {
  // ACL users are per node in a cluster: the operator sets the same rules on each.
  await Promise.all(
    c.nodes.map((n) => n.admin.call('ACL', 'SETUSER', 'sessions', 'reset', 'on', '>cluster-pass', ...aclRules())),
  );
  const store = await d.open({ username: 'sessions', password: 'cluster-pass' }, 3);
  try {
    const made: CreatedSession[] = [];
    for (let u = 0; u < 30; u++) made.push(await store.createSession({ id: `acl-${u}`, username: 'a' }));
    assert.is((await store.getSessions(made.map((m) => m.token))).filter(Boolean).length, 30);
    assert.ok(await store.refreshSession(made[0]!.token, 60));
    assert.ok(await store.rotateSession(made[1]!.token));
    assert.is(await store.destroyUserSessions('acl-2'), 1);
    assert.is((await store.healthCheck()).healthy, true);
  } finally {
    await store.close();
  }
});

test('live reshard under a mixed load: sessions in moved slots stay readable, destroyed stay gone, callers see no errors', async () => {
  const store = await d.open({ commandTimeout: 1000 }, 3);
  try {
    // Sessions exist before the move, in slots of every master.
    const before: CreatedSession[] = [];
    for (let u = 0; u < 200; u++) before.push(await store.createSession({ id: `load-user-${u}`, username: 'load' }));
    const masters = await c.masters();
    const from = await masterOfKey(dataKey(before[0]!.token));
    const to = masters.find((m) => m !== from)!;
    const slots = new Set<number>();
    for (const s of before) {
      const slot = await keySlot(c.nodes[0]!.admin, dataKey(s.token));
      if ((await c.masterOf(slot)) === from) slots.add(slot);
    }
    let keysMoved = 0;
    let moveMs = 0;
    const moving = (async () => {
      await sleep(300);
      const started = performance.now();
      for (const slot of slots) keysMoved += await migrateSlot(c, slot, from, to);
      moveMs = performance.now() - started;
      await sleep(300);
    })();
    const rec = await mixedLoad({ store, workers: 16, users: 200, until: moving, batches: true });
    await moving;
    for (const s of before)
      if (!rec.destroyed.has(s.token) && !rec.uncertain.has(s.token)) rec.created.set(s.token, s.userId);
    const result = await audit(store, rec);
    console.log(
      `    reshard: ${slots.size} slots (${keysMoved} keys) moved in ${moveMs.toFixed(0)} ms under ${rec.ops} ops; ` +
        `checked ${result.checked}, lost ${result.lost}, resurrected ${result.resurrected}, unindexed ${result.unindexed}, ` +
        `false "not found" ${rec.falseAbsent}, errors ${errorSummary(rec.errors)}, max call ${rec.maxCallMs.toFixed(0)} ms`,
    );
    if (rec.samples.size > 0) console.log(`      ${[...rec.samples].join('\n      ')}`);
    for (const slot of slots) assert.is((await c.masterOf(slot)).port, to.port, `slot ${slot} now on the target`);
    assert.ok(keysMoved > 0 && slots.size > 10, `${slots.size} slots, ${keysMoved} keys`);
    assert.is(result.lost, 0);
    assert.is(result.resurrected, 0);
    assert.is(result.unindexed, 0);
    assert.is(rec.falseAbsent, 0);
    assert.is(errorSummary(rec.errors), 'none');
  } finally {
    await store.close();
  }
});

test('the session cache on a cluster: one link per master, hits send nothing, invalidations and a reshard reach it', async () => {
  const cached = await d.open({ cache: true, metrics: false }, 3);
  const writer = await d.open({ metrics: false }, 3);
  try {
    for (const m of await c.masters()) {
      const { subscribers, readers } = await cacheConnections(m.admin);
      assert.is(subscribers.length, 1, `one subscriber on ${m.port}`);
      assert.is(readers.length, 1, `one tracked reader on ${m.port}`);
    }
    const sessions = await Promise.all(
      Array.from({ length: 30 }, (_, u) => cached.createSession({ id: `cached-${u}`, username: 'c' })),
    );
    const masters = new Set((await Promise.all(sessions.map((s) => masterOfKey(dataKey(s.token))))).map((m) => m.port));
    assert.is(masters.size, 3, 'users on every master');
    for (const s of sessions) await cached.getSession(s.token);
    const before = await d.commandCount();
    for (const s of sessions) assert.is((await cached.getSession(s.token))?.id, s.id);
    assert.equal(
      (await cached.getSessions(sessions.map((s) => s.token))).map((x) => x?.id),
      sessions.map((s) => s.id),
    );
    assert.is(await d.commandCount(), before, 'no command on any master for 60 cached reads');

    // Writes by another store, on each master, reach the cache.
    await Promise.all(sessions.slice(0, 15).map((s) => writer.destroySession(s.token)));
    await waitFor(
      async () => (await cached.getSessions(sessions.slice(0, 15).map((s) => s.token))).every((x) => x === null),
      5000,
      5,
    );

    // A reshard: the slot of a cached user's key moves to another master, then the user's session changes there.
    const moving = sessions[20]!;
    const slot = await keySlot(c.nodes[0]!.admin, dataKey(moving.token));
    const from = await c.masterOf(slot);
    const to = (await c.masters()).find((m) => m !== from)!;
    assert.ok(await cached.getSession(moving.token));
    await migrateSlot(c, slot, from, to);
    await writer.updateSessionMetadata(moving.token, { moved: 'yes' });
    await waitFor(async () => (await cached.getSession(moving.token))?.metadata.moved === 'yes', 10_000, 10);
    // The cache serves from memory again once it has linked to the new slot owner.
    await waitFor(
      async () => {
        const n = await d.commandCount();
        await cached.getSession(moving.token);
        return (await d.commandCount()) === n;
      },
      10_000,
      20,
    );
    await writer.destroySession(moving.token);
    await waitFor(async () => (await cached.getSession(moving.token)) === null, 5000, 1);
  } finally {
    await cached.close();
    await writer.close();
  }
});

test("the adapter's cache on a cluster: hits send nothing on any master; another app's writes and a reshard reach it", async () => {
  const cachedClient = new Cluster(c.seeds);
  const writerClient = new Cluster(c.seeds);
  const cached = new ExpressSessionStore({ client: cachedClient, cache: true, metrics: false });
  const writer = new ExpressSessionStore({ client: writerClient, metrics: false });
  const day = 86_400_000;
  const sess = (n: number) =>
    ({ cookie: { originalMaxAge: day, expires: new Date(Date.now() + day), httpOnly: true, path: '/' }, n }) as never;
  const nOf = async (sid: string) => ((await cached.get(sid)) as { n?: number } | null)?.n;
  const fromMemory = async (sid: string) => {
    const n = await d.commandCount();
    await cached.get(sid);
    return (await d.commandCount()) === n;
  };
  try {
    await cached.ready();
    const sids = Array.from({ length: 30 }, (_, i) => `cached-sid-${i}`);
    for (const sid of sids) await writer.set(sid, sess(1));
    const masters = new Set((await Promise.all(sids.map((sid) => masterOfKey(`sess:${sid}`)))).map((m) => m.port));
    assert.is(masters.size, 3, 'sessions on every master');
    for (const sid of sids) await waitFor(() => fromMemory(sid), 5000, 5);
    const before = await d.commandCount();
    for (const sid of sids) assert.is(await nOf(sid), 1);
    assert.is(await d.commandCount(), before, 'no command on any master for 30 cached reads');

    await Promise.all(sids.slice(0, 15).map((sid) => writer.destroy(sid)));
    for (const sid of sids.slice(0, 15)) await waitFor(async () => (await cached.get(sid)) === null, 5000, 1);

    // A reshard: a cached session's slot moves to another master, then the session changes there.
    const moving = sids[20]!;
    const slot = await keySlot(c.nodes[0]!.admin, `sess:${moving}`);
    const from = await c.masterOf(slot);
    const to = (await c.masters()).find((m) => m !== from)!;
    assert.is(await nOf(moving), 1);
    await migrateSlot(c, slot, from, to);
    await writer.set(moving, sess(2));
    await waitFor(async () => (await nOf(moving)) === 2, 10_000, 10);
    await waitFor(() => fromMemory(moving), 10_000, 20);
    await writer.destroy(moving);
    await waitFor(async () => (await cached.get(moving)) === null, 5000, 1);
  } finally {
    cached.close();
    cachedClient.disconnect();
    writerClient.disconnect();
  }
});

test('express-session adapter on the cluster: clear() removes sessions and tombstones on every master, and only its own', async () => {
  const client = new Cluster(c.seeds);
  const sess = () => ({ cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' } }) as never;
  try {
    const mine = new ExpressSessionStore({ client, prefix: 'csess:' });
    const longer = new ExpressSessionStore({ client, prefix: 'csess:admin:' });
    const ids = Array.from({ length: 40 }, (_, i) => `id${i}`);
    for (const id of ids) {
      await mine.set(id, sess());
      await longer.set(id, sess());
    }
    for (const id of ids.slice(0, 20)) await mine.destroy(id);
    const byMaster = await Promise.all((await c.masters()).map((m) => m.admin.dbsize()));
    assert.ok(
      byMaster.every((n) => n > 0),
      `keys on every master: ${byMaster.join(',')}`,
    );
    await mine.clear();
    assert.is(await mine.length(), 0);
    for (const id of ids.slice(0, 20)) assert.is(await mine.set(id, sess()), undefined, `${id} accepted again`);
    assert.is(await longer.length(), 40, "the longer prefix's sessions are intact");
    await mine.clear();
    await longer.clear();
    const left = await Promise.all((await c.masters()).map((m) => m.admin.keys('*csess*')));
    assert.equal(left.flat(), []);
  } finally {
    client.disconnect();
  }
});

test('the command line on the cluster: check covers every master and the slots; stats and revoke span masters', async () => {
  const env = { REDIS_URL: c.seeds.map((n) => `redis://${n.host}:${n.port}`).join(','), SESSION_KEY_PREFIX: 'cli:' };
  const store = await d.open({ keyPrefix: 'cli:' }, 3);
  try {
    const made = await Promise.all(
      Array.from({ length: 30 }, (_, u) => store.createSession({ id: `cli-${u % 10}`, username: 'c' })),
    );
    const check = await cli(['check', '--json'], env);
    const names = (JSON.parse(check.stdout) as { checks: { name: string; verdict: string }[] }).checks;
    assert.is(names.filter((x) => x.name.startsWith('version (')).length, 3, 'each master checked');
    assert.ok(names.some((x) => x.name === 'cluster' && x.verdict === 'ok'));
    const stats = JSON.parse((await cli(['stats', '--json'], env)).stdout) as { sessions: number; users: number };
    assert.equal([stats.sessions, stats.users], [30, 10]);
    const listed = JSON.parse((await cli(['user', 'cli-3', '--json'], env)).stdout) as { id: string }[];
    assert.is(listed.length, 3);
    const revoked = await cli(['revoke', 'cli-3', '--yes', '--json'], env);
    assert.is(revoked.code, 0, revoked.stderr);
    assert.is((JSON.parse(revoked.stdout) as { destroyed: string[] }).destroyed.length, 3);
    assert.is(await store.countUserSessions('cli-3'), 0);
    assert.ok(await store.getSession(made[0]!.token));
  } finally {
    await store.close();
  }
});

test('master failover (kill -9) under load with waitForReplicas: recovers without a restart, 0 acknowledged lost', async () => {
  const store = await d.open({ commandTimeout: 1000, waitForReplicas: { replicas: 1, timeout: 500 } }, 3);
  try {
    const victim = (await c.masters())[0]!;
    await failoverUnderLoad('cluster', store, async (marks) => {
      await sleep(1000);
      marks.killedAt = performance.now();
      await victim.kill();
      // The victim's replica takes over its slots.
      const witness = c.nodes.find((n) => n !== victim)!;
      await waitFor(
        async () =>
          (await c.masters()).length === 3 &&
          String(await witness.admin.call('CLUSTER', 'INFO')).includes('cluster_state:ok'),
        15_000,
        50,
      );
      marks.promotedAt = performance.now();
      // The old master comes back (same nodes.conf) as a replica of the new one; writes are confirmed again.
      await victim.restart();
      await c.waitHealthy(20_000);
      marks.rejoinedAt = performance.now();
      await sleep(1000);
    });
    // Recovered without a restart: the same store serves every user again.
    const fresh = await Promise.all(
      Array.from({ length: 60 }, (_, u) => store.createSession({ id: `after-${u}`, username: 'a' })),
    );
    assert.is(
      (await store.getSessions(fresh.map((s) => s.token))).filter(Boolean).length,
      60,
      'every session created after the failover reads back',
    );
  } finally {
    await store.close();
  }
});

test.after(async () => {
  await c?.stop();
  console.log(`    cluster file: ${((performance.now() - fileStarted) / 1000).toFixed(1)} s`);
});

test.run();
