import { getHeapSnapshot } from 'node:v8';
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { RedisSessionStore } from '../../src/index.js';
import { commandCount, waitFor } from './redis.js';
import { alice } from './store.js';

/** One line of CLIENT LIST as fields. */
export type ClientInfo = Record<string, string>;

export async function clientList(admin: Redis): Promise<ClientInfo[]> {
  const text = String(await admin.call('CLIENT', 'LIST'));
  return text
    .trim()
    .split('\n')
    .map((line) =>
      Object.fromEntries(line.split(' ').map((f) => [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)])),
    );
}

/** The cache's connections on this server: the subscribers and the tracked readers. */
export async function cacheConnections(admin: Redis): Promise<{ subscribers: ClientInfo[]; readers: ClientInfo[] }> {
  const clients = await clientList(admin);
  return {
    subscribers: clients.filter((c) => c.sub !== '0' && c.sub !== undefined),
    readers: clients.filter((c) => c.flags?.includes('t')),
  };
}

/** Whether reading `token` sent no command at all to this server (a cache hit). */
export async function servedFromMemory(store: RedisSessionStore, token: string, admin: Redis): Promise<boolean> {
  const before = await commandCount(admin);
  await store.getSession(token);
  return (await commandCount(admin)) === before;
}

/** Waits until the cache serves `token` from memory again (after a reconnect or a flush). */
export async function cacheReady(store: RedisSessionStore, token: string, admin: Redis): Promise<void> {
  await waitFor(
    async () => (await store.getSession(token)) !== null && servedFromMemory(store, token, admin),
    10_000,
    10,
  );
}

/**
 * Waits until every invalidation Redis sent to `reader` so far has arrived: a fresh session is
 * cached by `reader`, destroyed by `writer`, and awaited until `reader` no longer serves it.
 * Invalidations of one server arrive in order on one connection, so the earlier ones are in.
 */
export async function invalidationsDelivered(reader: RedisSessionStore, writer: RedisSessionStore): Promise<void> {
  const marker = await writer.createSession(alice);
  await waitFor(async () => (await reader.getSession(marker.token)) !== null, 5000, 5);
  await writer.destroySession(marker.token);
  await waitFor(async () => (await reader.getSession(marker.token)) === null, 5000, 1);
}

/** The value of a counter or gauge in `registry`, summed over samples matching `labels`. */
export async function metricValue(
  registry: Registry,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  if (metric === undefined) throw new Error(`no metric ${name}`);
  return (metric.values as { labels: Record<string, string | number>; value: number }[])
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0);
}

/**
 * Whether `needle` occurs among the heap's strings (a snapshot runs a full GC first: only live
 * strings remain). The search stays in bytes: a string copy of the needle would be found itself.
 */
export async function heapContains(needle: Buffer): Promise<boolean> {
  const stream = getHeapSnapshot();
  let tail = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const bytes = Buffer.concat([tail, chunk]);
    if (bytes.includes(needle)) {
      stream.destroy();
      return true;
    }
    tail = bytes.subarray(Math.max(0, bytes.length - needle.length));
  }
  return false;
}
