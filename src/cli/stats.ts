import { decodeHeader } from '../codec.js';
import { isUserKey, META_FIELD } from '../keys.js';
import { serverLabel, serverOf } from '../server.js';
import type { RedisClient } from '../transport/client.js';

export interface Stats {
  /** The server of the first master, as it names itself ("Redis 7.0.15", "Valkey 8.0.1"). */
  server: string;
  /** Live sessions, users holding at least one, and expired entries not yet pruned. */
  sessions: number;
  users: number;
  expiredUnpruned: number;
  /** MEMORY USAGE of the sampled user keys divided by the sessions in them (null: none sampled). */
  bytesPerSession: number | null;
  /** Keys looked at, of the keys on the masters; below 1 with --sample, and the counts are then estimates. */
  scannedFraction: number;
  estimated: boolean;
}

const MEMORY_SAMPLE = 200;

/**
 * Sessions, users and bytes per session under `prefix`, by SCAN on every master (never KEYS).
 * With `sample`, stops after that many keys per master and scales the counts by the share of
 * keys looked at.
 */
export async function collectStats(
  client: RedisClient,
  prefix: string,
  sample: number | undefined,
  progress: (scanned: number, total: number) => void,
): Promise<Stats> {
  let sessions = 0;
  let users = 0;
  let expired = 0;
  let scanned = 0;
  let total = 0;
  let memory = 0;
  let memorySessions = 0;
  const server = serverLabel(serverOf(String(await client.masters()[0]!.send('INFO', ['server']))));
  const [s, us] = (await client.masters()[0]!.send('TIME', [])) as [string, string];
  const now = Number(s) * 1000 + Math.floor(Number(us) / 1000);
  for (const node of client.masters()) {
    const size = Number(await node.send('DBSIZE', []));
    total += size;
    let cursor = '0';
    let seen = 0;
    do {
      // No MATCH: the share of keys looked at must be known to scale a sample.
      const [next, keys] = (await node.send('SCAN', [cursor, 'COUNT', '1000'])) as [string, string[]];
      cursor = next;
      seen += keys.length;
      const mine = keys.filter((k) => isUserKey(k, prefix));
      const replies = await node.pipeline(mine.map((k) => ['HGETALL', k]));
      for (let i = 0; i < mine.length; i++) {
        const reply = replies[i];
        if (reply instanceof Error || reply === null || typeof reply !== 'object') continue;
        const entries = reply instanceof Map ? [...(reply as Map<string, string>)] : pairs(reply as string[]);
        let live = 0;
        for (const [id, value] of entries) {
          if (id === META_FIELD) continue;
          try {
            if (decodeHeader(value).expiresAt > now) live++;
            else expired++;
          } catch {
            expired++; // unreadable: the next write prunes it as it would an expired one
          }
        }
        sessions += live;
        if (live > 0) users++;
        if (memorySessions < MEMORY_SAMPLE && live > 0) {
          memory += Number(await node.send('MEMORY', ['USAGE', mine[i]!, 'SAMPLES', '0']));
          memorySessions += live;
        }
      }
      progress(scanned + seen, total);
    } while (cursor !== '0' && (sample === undefined || seen < sample));
    scanned += Math.min(seen, size);
  }
  const fraction = total === 0 ? 1 : Math.min(1, scanned / total);
  const scale = (n: number) => (fraction === 1 ? n : Math.round(n / fraction));
  return {
    server,
    sessions: scale(sessions),
    users: scale(users),
    expiredUnpruned: scale(expired),
    bytesPerSession: memorySessions === 0 ? null : Math.round(memory / memorySessions),
    scannedFraction: fraction,
    estimated: fraction < 1,
  };
}

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}
