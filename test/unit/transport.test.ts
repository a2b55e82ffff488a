import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CLOCK_RESAMPLE_MS, RedisClock } from '../../src/clock.js';
import { StoreTimeoutError, StoreUnavailableError, CorruptSessionError } from '../../src/errors.js';
import { Batches } from '../../src/transport/batch.js';
import type { Command, RedisClient } from '../../src/transport/client.js';
import { Deadlines } from '../../src/transport/deadlines.js';
import { Scripts } from '../../src/transport/scripts.js';
import { heapContains } from '../helpers/cache.js';

// The transport's pure parts without a server: the call budget, per-master batching and the
// Redis clock estimate. The client here is a stand-in that answers from a table and records
// what it was sent: what is under test is the grouping, ordering and timing around it.
const test = suite('transport (no server)');

interface Recorder extends RedisClient {
  readonly sent: { node: string; commands: Command[] }[];
}

/** A stand-in client: `owner` maps a key to its master's address; replies echo the command. */
function fakeClient(owner: (key: string) => string, reply: (node: string, c: Command) => unknown): Recorder {
  const sent: { node: string; commands: Command[] }[] = [];
  const node = (address: string): RedisClient => ({
    isCluster: true,
    address,
    send: (name, args) => Promise.resolve(reply(address, [name, ...args])),
    pipeline: (commands) => {
      sent.push({ node: address, commands: [...commands] });
      return Promise.resolve(commands.map((c) => reply(address, c)));
    },
    nodeOf: owner,
    masters: () => [],
    onLifecycle: () => () => undefined,
    close: () => Promise.resolve(),
    tracking: () => undefined,
  });
  const cluster = node('');
  // The cluster face pipelines to the node that owns the first command's key.
  return {
    ...cluster,
    sent,
    pipeline: (commands) => node(owner(commands[0]![1]!)).pipeline(commands),
  };
}

test('batches: one pipeline per master, replies back in input order, errors typed in place', async () => {
  const owner = (key: string) => (key < 'm' ? 'n1:1' : 'n2:2');
  const client = fakeClient(owner, (node, [, key]) => (key === 'bad' ? new Error('WRONGTYPE x') : `${node}/${key}`));
  const keys = ['z', 'a', 'q', 'b', 'bad', 'y'];
  const replies = await new Batches(new Scripts()).send(
    client,
    keys.map((k) => ({ command: 'GET', args: [k] as [string] })),
  );
  assert.equal(replies.slice(0, 4), ['n2:2/z', 'n1:1/a', 'n2:2/q', 'n1:1/b']);
  assert.instance(replies[4], CorruptSessionError);
  assert.is(replies[5], 'n2:2/y');
  assert.equal(
    client.sent.map((s) => [s.node, s.commands.map((c) => c[1])]).sort(),
    [
      ['n1:1', ['a', 'b', 'bad']],
      ['n2:2', ['z', 'q', 'y']],
    ],
    'each master got its keys in one write, in input order',
  );
  assert.equal(await new Batches(new Scripts()).send(client, []), []);
});

test('deadlines: the budget rejects a call that never settles with StoreTimeoutError, and reports Redis down', async () => {
  const seen: boolean[] = [];
  const reach = { reachable: (up: boolean) => seen.push(up), replyFailed: () => seen.push(false) };
  const deadlines = new Deadlines(30, reach);
  const started = performance.now();
  // The budget's timer does not keep a process alive (unref): this one does, for the test.
  const alive = setTimeout(() => undefined, 5000);
  const err = await deadlines.bounded(new Promise(() => undefined)).catch((e: unknown) => e);
  clearTimeout(alive);
  assert.instance(err, StoreTimeoutError);
  assert.ok(performance.now() - started >= 29, 'not before the budget');
  assert.equal(seen, [false]);
  assert.is(await deadlines.bounded(Promise.resolve(7)), 7);
  assert.equal(seen, [false, true], 'a reply means Redis answered');
  const down = await deadlines.bounded(Promise.reject(new Error('Connection is closed.'))).catch((e: unknown) => e);
  assert.instance(down, StoreUnavailableError);
  assert.is(await deadlines.boundedMap(Promise.resolve(2), (v) => v * 3), 6);
  const corrupt = await deadlines
    .boundedMap(Promise.resolve('x'), () => {
      throw new CorruptSessionError('bad');
    })
    .catch((e: unknown) => e);
  assert.instance(corrupt, CorruptSessionError);
});

test('deadlines: calls that settle in time are never timed out, whatever their order', async () => {
  const deadlines = new Deadlines(40);
  const delays = [30, 5, 20, 1, 35, 10];
  const results = await Promise.all(
    delays.map((ms, i) => deadlines.bounded(new Promise<number>((resolve) => setTimeout(() => resolve(i), ms)))),
  );
  assert.equal(results, [0, 1, 2, 3, 4, 5]);
});

test('deadlines: a settled call is let go before its budget runs out (nothing keeps its result alive)', async () => {
  const deadlines = new Deadlines(60_000);
  // The marker exists here only as bytes; each result gets a string that only it holds.
  const marker = Buffer.from(randomBytes(12).toString('hex'));
  const result = (tag: string) => ({ text: `${marker.toString()}-${tag}` });
  // The calls run in a function of their own: a suspended async frame keeps the registers that
  // held its last awaited values, so a result awaited here could be held by this test itself (a
  // clean-clone run once found the marker after these calls; 20 runs of the same code did not).
  const settled = async () => {
    for (let i = 0; i < 50; i++) await deadlines.bounded(Promise.resolve(result(String(i))));
    await deadlines.boundedMap(Promise.resolve('mapped'), result);
    await deadlines.bounded(Promise.reject(new Error(result('failed').text))).catch(() => undefined);
  };
  await settled();
  assert.not.ok(await heapContains(marker), 'no result is held for the 60 s budget');
  // A call behind one still pending stays in the queue (with its result) until that one settles.
  let release = (): void => undefined;
  const pending = deadlines.bounded(new Promise<void>((resolve) => (release = resolve)));
  await deadlines.bounded(Promise.resolve(result('behind')));
  assert.ok(await heapContains(marker), 'the check finds a result that is still held');
  release();
  await pending;
  assert.not.ok(await heapContains(marker), 'let go once the call before it settled');
});

/** A client whose TIME answers `offsetMs` ahead of this process, after `rttMs`. */
function clockClient(offsetMs: () => number, rttMs: number): RedisClient & { calls: number } {
  const c = fakeClient(
    () => '',
    () => undefined,
  );
  const out = {
    ...c,
    calls: 0,
    masters: () => [out],
    send: async (name: string) => {
      assert.is(name, 'TIME');
      out.calls++;
      await new Promise((r) => setTimeout(r, rttMs / 2));
      const ms = performance.now() + offsetMs();
      await new Promise((r) => setTimeout(r, rttMs / 2));
      return [String(Math.floor(ms / 1000)), String(Math.floor((ms % 1000) * 1000))];
    },
  };
  return out;
}

test('clock: before a sample it knows nothing; after one, bounds hold the server time and widen with drift', async () => {
  const clock = new RedisClock();
  assert.is(clock.uncertainty(), Number.POSITIVE_INFINITY);
  assert.ok(clock.stale());
  const offset = 3_600_000; // the server's clock one hour ahead of this process's
  const client = clockClient(() => offset, 20);
  await clock.sample(client, (p) => p);
  const at = performance.now();
  const truth = at + offset;
  assert.ok(clock.earliest(at) <= truth && truth <= clock.latest(at), 'the true time is within the bounds');
  assert.ok(clock.uncertainty(at) <= 20, `bound ${clock.uncertainty(at)} ms is at most the round trip`);
  assert.ok(Math.abs(clock.now() - (performance.now() + offset)) <= 20);
  assert.ok(clock.uncertainty(at + 10_000) > clock.uncertainty(at), 'drift widens the bound with time');
  assert.not.ok(clock.stale(at));
  assert.ok(clock.stale(at + CLOCK_RESAMPLE_MS + 1));
});

test('clock: a new sample with a narrower bound never moves latest() back (an expired session stays expired)', async () => {
  const clock = new RedisClock();
  // A slow first sample (a 40 ms round trip: a bound of ~20 ms), then a fast one (~1 ms).
  await clock.sample(
    clockClient(() => 0, 40),
    (p) => p,
  );
  const before = clock.latest();
  const wide = clock.uncertainty();
  await clock.sample(
    clockClient(() => 0, 2),
    (p) => p,
  );
  assert.ok(
    clock.uncertainty() < wide - 10,
    `the second sample narrowed the bound (${wide} -> ${clock.uncertainty()} ms)`,
  );
  const after = clock.latest();
  assert.ok(after >= before, `latest() went back by ${before - after} ms`);
  // It holds still until the new estimate catches up, then follows it again.
  const caughtUp = performance.now() + wide;
  assert.ok(clock.latest(caughtUp + 50) > after);
});

test('clock: when the server clock itself moves back (a failover), latest() follows the new clock', async () => {
  const clock = new RedisClock();
  let offset = 3_600_000; // the server an hour ahead of this process
  const client = clockClient(() => offset, 2);
  await clock.sample(client, (p) => p);
  const before = clock.latest();
  offset -= 10_000; // the new master's clock is 10 s behind the old one's
  await clock.sample(client, (p) => p);
  const after = clock.latest();
  assert.ok(after < before - 9_000, `latest() held ${before - after} ms back, not the new clock`);
  assert.ok(Math.abs(after - (performance.now() + offset)) < 20, 'latest() reads the new clock');
});

test('clock: concurrent samples share one TIME; refresh samples only when stale', async () => {
  const clock = new RedisClock();
  const client = clockClient(() => 0, 4);
  await Promise.all([clock.sample(client, (p) => p), clock.sample(client, (p) => p)]);
  assert.is(client.calls, 1);
  clock.refresh(client, (p) => p);
  assert.is(client.calls, 1, 'fresh: no sample');
  clock.refresh(client, (p) => p, performance.now() + CLOCK_RESAMPLE_MS + 1);
  assert.is(client.calls, 2, 'stale: one sample in the background');
});

test.run();
