import type { TestCluster } from './cluster.js';
import type { TestRedis } from './redis.js';

/**
 * Moves `slot` from master `from` to master `to` the way redis-cli --cluster reshard does it:
 * IMPORTING on the target, MIGRATING on the source, MIGRATE the keys in batches, then assign
 * the slot to the target on every master. Clients see ASK, TRYAGAIN and MOVED meanwhile.
 * Returns the number of keys moved.
 */
export async function migrateSlot(c: TestCluster, slot: number, from: TestRedis, to: TestRedis): Promise<number> {
  const [fromId, toId] = await Promise.all([c.idOf(from), c.idOf(to)]);
  await to.admin.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
  await from.admin.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
  let moved = 0;
  for (;;) {
    const keys = (await from.admin.call('CLUSTER', 'GETKEYSINSLOT', slot, 50)) as string[];
    if (keys.length === 0) break;
    await from.admin.call('MIGRATE', to.host, to.port, '', 0, 5000, 'KEYS', ...keys);
    moved += keys.length;
  }
  // The target first, so it never answers MOVED back to the source (the redis-cli order).
  await to.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  await from.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  for (const m of await c.masters())
    if (m !== to && m !== from) await m.admin.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  return moved;
}
