import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sentinel, type Deployment } from '../helpers/deployment.js';
import { functionalTests } from '../helpers/functional-suite.js';
import { audit, errorSummary, mixedLoad } from '../helpers/mixed-load.js';
import { waitFor } from '../helpers/redis.js';
import { startSentinel, type TestSentinel } from '../helpers/sentinel.js';

// One master, one replica, three Sentinels (down-after 1 s) for the whole file: the functional
// suite through Sentinel discovery, then a master failover under load.
const test = suite('sentinel (1 master, 1 replica, 3 sentinels)');
let s: TestSentinel;
let d: Deployment;
const fileStarted = performance.now();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

test.before(async () => {
  s = await startSentinel(1000);
  d = sentinel(s);
});

if (!process.env.SKIP_FUNCTIONAL) functionalTests(test, () => d);

test('connect({ sentinels, name }) finds the master; a wrong group name is a typed error', async () => {
  const store = await d.open({}, 3);
  try {
    const created = await store.createSession({ id: 'via-sentinel', username: 's' });
    assert.is(await s.master.admin.exists(`session:{${created.token.slice(0, 22)}}:d`), 1, 'written on the master');
    assert.equal(await s.currentMaster(), { host: s.master.host, port: s.master.port });
  } finally {
    await store.close();
  }
  const err = await d.open({ name: 'no-such-group', commandTimeout: 500 }, 3).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof Error && (err as { code?: string }).code === 'STORE_UNAVAILABLE', String(err));
});

test('master failover (kill -9) under load with waitForReplicas: the store follows the new master, 0 acknowledged lost', async () => {
  const store = await d.open({ commandTimeout: 1000, waitForReplicas: { replicas: 1, timeout: 500 } }, 3);
  const calls: { ended: number; ok: boolean; code?: string }[] = [];
  let killedAt = 0;
  let promotedAt = 0;
  let rejoinedAt = 0;
  try {
    const old = s.master;
    const fault = (async () => {
      await sleep(1000);
      killedAt = performance.now();
      await old.kill();
      await waitFor(async () => (await s.currentMaster()).port === s.replica.port, 20_000, 50);
      promotedAt = performance.now();
      // The old master comes back; the Sentinels turn it into a replica of the new one, and
      // writes can be confirmed again.
      await old.restart();
      // Sentinel would do this itself within ~10 s (its INFO period); the test does not wait for it.
      await old.admin.call('REPLICAOF', s.replica.host, String(s.replica.port));
      await waitFor(async () => (await old.admin.info('replication')).includes('master_link_status:up'), 20_000, 50);
      rejoinedAt = performance.now();
      await sleep(1000);
    })();
    const rec = await mixedLoad({ store, workers: 16, users: 200, until: fault, onCall: (_s, ended, ok, _v, err) => calls.push({ ended, ok, code: (err as { code?: string } | undefined)?.code }) });
    await fault;
    const result = await audit(store, rec);
    const after = calls.filter((x) => x.ended >= killedAt && x.ok).map((x) => x.ended);
    let stall = after.length > 0 ? after[0]! - killedAt : Infinity;
    for (let i = 1; i < after.length; i++) stall = Math.max(stall, after[i]! - after[i - 1]!);
    console.log(
      `    sentinel failover: promoted ${(promotedAt - killedAt).toFixed(0)} ms after kill -9, old master back as replica at ` +
        `${(rejoinedAt - killedAt).toFixed(0)} ms; ${rec.ops} ops, ${calls.filter((x) => !x.ok).length} failed calls (${errorSummary(rec.errors)}), ` +
        `longest stall without any success ${stall.toFixed(0)} ms, max call ${rec.maxCallMs.toFixed(0)} ms; ` +
        `checked ${result.checked}, lost ${result.lost}, resurrected ${result.resurrected}, unindexed ${result.unindexed}, false "not found" ${rec.falseAbsent}`,
    );
    const phase = (from: number, to: number) => errorSummary(calls.filter((x) => !x.ok && x.ended >= from && x.ended < to).reduce((m, x) => m.set(x.code!, (m.get(x.code!) ?? 0) + 1), new Map<string, number>()));
    console.log(`      failures until promotion: ${phase(killedAt, promotedAt)}; until the old master is a replica: ${phase(promotedAt, rejoinedAt)}; after: ${phase(rejoinedAt, Infinity)}`);
    if (rec.samples.size > 0) console.log(`      ${[...rec.samples].join('\n      ')}`);
    for (const code of rec.errors.keys()) assert.ok(code.startsWith('STORE_'), `typed errors only, got ${code}`);
    assert.ok(result.checked > 100, `checked ${result.checked}`);
    assert.is(result.lost, 0, 'every write confirmed by a replica survived the failover');
    assert.is(result.resurrected, 0);
    assert.is(result.unindexed, 0);
    assert.is(rec.falseAbsent, 0);
    // The same store, never restarted, writes to the new master (and has it confirmed).
    const fresh = await Promise.all(Array.from({ length: 50 }, (_, u) => store.createSession({ id: `after-${u}`, username: 'a' })));
    assert.is((await store.getSessions(fresh.map((x) => x.token))).filter(Boolean).length, 50);
    assert.is(await s.replica.admin.exists(`session:{${fresh[0]!.token.slice(0, 22)}}:d`), 1, 'written on the promoted replica');
  } finally {
    await store.close();
  }
});

test.after(async () => {
  await s?.stop();
  console.log(`    sentinel file: ${((performance.now() - fileStarted) / 1000).toFixed(1)} s`);
});

test.run();
