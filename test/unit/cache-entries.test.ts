import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CacheEntries, sizeOf } from '../../src/cache/entries.js';
import { resolveOptions } from '../../src/config/resolve.js';
import { ConfigurationError } from '../../src/errors.js';
import type { Session } from '../../src/types.js';
import { throwsType } from '../helpers/assert.js';

const test = suite('cache entries (no server)');

const session = (id: string): Session => ({
  id,
  userId: 'u',
  user: { id: 'u', username: 'u' },
  createdAt: 1,
  lastAccessedAt: 1,
  expiresAt: 2,
  metadata: {},
});

function filled(limits = { maxEntries: 100, maxBytes: 1_000_000 }): CacheEntries {
  return new CacheEntries(limits);
}

function put(c: CacheEntries, key: string, id: string, bytes = 10): void {
  const t = c.begin(key);
  c.store(key, t, session(id), bytes);
  c.end(key, t);
}

test('a stored session is found by key and id; a miss and a hit are counted', () => {
  const c = filled();
  put(c, 'k1', 'a');
  assert.is(c.get('a')?.id, 'a');
  assert.is(c.get('b'), undefined);
  assert.equal([c.counts.hits, c.counts.misses], [1, 1]);
  assert.is(c.size, 1);
});

test('an invalidation drops every session of the key and kills the reads in flight', () => {
  const c = filled();
  put(c, 'k', 'a');
  put(c, 'k', 'b');
  const inFlight = c.begin('k');
  c.invalidate('k');
  assert.is(c.size, 0);
  c.store('k', inFlight, session('c'), 10);
  c.end('k', inFlight);
  assert.is(c.get('c'), undefined, 'a reply overtaken by an invalidation is not stored');
  // A read begun after the invalidation stores normally.
  put(c, 'k', 'c');
  assert.is(c.get('c')?.id, 'c');
});

test('concurrent reads of one key share a ticket; it is released after the last one', () => {
  const c = filled();
  const t1 = c.begin('k');
  const t2 = c.begin('k');
  assert.is(t1, t2);
  c.end('k', t1);
  c.invalidate('k');
  assert.not.ok(t2.alive, 'still registered while one read is in flight');
  const t3 = c.begin('k');
  assert.ok(t3.alive && t3 !== t2);
});

test('a flush empties everything and kills every read in flight', () => {
  const c = filled();
  put(c, 'k1', 'a');
  put(c, 'k2', 'b');
  const t = c.begin('k3');
  c.flush('disconnect');
  assert.is(c.size, 0);
  assert.is(c.bytes, 0);
  assert.not.ok(t.alive);
  assert.is(c.counts.flushes.disconnect, 1);
});

test('LRU: beyond maxEntries or maxBytes the least recently used keys go first', () => {
  const c = filled({ maxEntries: 3, maxBytes: 1_000_000 });
  put(c, 'k1', 'a');
  put(c, 'k2', 'b');
  put(c, 'k3', 'c');
  c.get('a'); // k1 was read: k2 is the oldest unread
  put(c, 'k4', 'd');
  assert.is(c.get('b'), undefined);
  assert.ok(c.get('a') && c.get('c') && c.get('d'));
  assert.is(c.counts.evictions, 1);

  const b = filled({ maxEntries: 100, maxBytes: 100 });
  put(b, 'k1', 'a', 40);
  put(b, 'k2', 'b', 40);
  put(b, 'k3', 'c', 40);
  assert.is(b.bytes, 80);
  assert.is(b.get('a'), undefined);
  put(b, 'k4', 'd', 101);
  assert.is(b.get('d'), undefined, 'larger than the whole cache: not stored');
  // Storing a session again replaces it and its size.
  put(b, 'k3', 'c', 10);
  assert.equal([b.size, b.bytes], [2, 50]);
});

test('sizes: the estimate is within 2x of the heap that cached sessions really take', () => {
  // A session as the cache holds it: decoded from a ~400-character value, user and metadata frozen.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const metaJson = JSON.stringify({ device: 'Firefox on Linux'.repeat(8), theme: 'dark' });
  const valueOf = (i: number) =>
    `1|9999999999999|1|1|60|0|${metaJson}\n${JSON.stringify({ id: `user-${i}`, username: 'someone'.repeat(20), roles: ['a', 'b'] })}`;
  const n = 20_000;
  const c = new CacheEntries({ maxEntries: n, maxBytes: Number.MAX_SAFE_INTEGER });
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < n; i++) {
    const text = valueOf(i);
    const [meta, user] = text.slice(text.indexOf('{')).split('\n') as [string, string];
    const s: Session = {
      id: `id-${String(i).padStart(19, '0')}`,
      userId: 'u',
      user: Object.freeze(JSON.parse(user) as Session['user']),
      createdAt: 1,
      lastAccessedAt: 1,
      expiresAt: 2,
      metadata: Object.freeze(JSON.parse(meta) as Record<string, string>),
    };
    const t = c.begin(`k${i}`);
    c.store(`k${i}`, t, s, sizeOf(text.length));
    c.end(`k${i}`, t);
  }
  gc();
  const measured = (process.memoryUsage().heapUsed - before) / n;
  const estimated = c.bytes / n;
  assert.is(c.size, n);
  assert.ok(estimated >= measured / 2 && estimated <= measured * 2, `estimated ${estimated} B, measured ${measured} B`);
});

test('the cache option: true, limits, or off; bad limits are ConfigurationErrors', () => {
  assert.is(resolveOptions({}, {}).cache, undefined);
  assert.is(resolveOptions({ cache: false }, {}).cache, undefined);
  assert.equal(resolveOptions({ cache: true }, {}).cache, {
    maxEntries: 100_000,
    maxBytes: 64 * 1024 * 1024,
    maxStalenessMs: 1000,
  });
  assert.is(resolveOptions({ cache: { maxStalenessMs: 250 } }, {}).cache?.maxStalenessMs, 250);
  for (const bad of [{ maxEntries: 0 }, { maxBytes: 10 }, { maxStalenessMs: 5 }, { maxEntries: 1.5 }]) {
    throwsType(() => resolveOptions({ cache: bad }, {}), ConfigurationError);
  }
  throwsType(() => resolveOptions({ cache: 'yes' as never }, {}), ConfigurationError);
});

test.run();
