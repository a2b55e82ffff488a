import { CLIENT_COMMANDS, SCRIPT_COMMANDS } from '../acl.js';
import { luaScripts } from '../lua.generated.js';
import type { RedisClient } from '../transport/client.js';
import { infoField, isTooOld, MIN_REDIS_VERSION, serverLabel, serverOf } from '../server.js';

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  verdict: Verdict;
  detail: string;
  /** One line on what to do (absent when ok). */
  fix?: string;
}

const field = infoField;

async function attempt<T>(work: Promise<T>): Promise<T | Error> {
  try {
    return await work;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The deployment checks of `redis-session-store check`, on every master. */
export async function runChecks(client: RedisClient, prefix: string): Promise<Check[]> {
  const checks: Check[] = [];
  const masters = client.masters();
  for (const node of masters) {
    const where = node.address === '' ? '' : ` (${node.address})`;
    const info = String(await node.send('INFO', ['server', 'memory', 'persistence']));
    const server = serverOf(info);
    const detail =
      server.name === 'redis'
        ? serverLabel(server)
        : `${serverLabel(server)} (Redis ${server.redisVersion} compatible)`;
    checks.push(
      isTooOld(server)
        ? {
            name: `version${where}`,
            verdict: 'fail',
            detail,
            fix: `upgrade to Redis ${MIN_REDIS_VERSION.join('.')} (or a compatible server) or newer (the scripts use #!lua flags)`,
          }
        : { name: `version${where}`, verdict: 'ok', detail },
    );
    const policy = field(info, 'maxmemory_policy') ?? 'unknown';
    const maxmemory = Number(field(info, 'maxmemory') ?? 0);
    if (policy === 'noeviction') {
      checks.push({
        name: `eviction${where}`,
        verdict: maxmemory === 0 ? 'warn' : 'ok',
        detail:
          maxmemory === 0
            ? 'noeviction, but no maxmemory: Redis grows until the OS stops it'
            : `noeviction, maxmemory ${maxmemory} bytes: when full, new sessions fail, logout still works`,
        ...(maxmemory === 0 ? { fix: 'set maxmemory below the machine memory' } : {}),
      });
    } else {
      checks.push({
        name: `eviction${where}`,
        verdict: 'fail',
        detail: `${policy}: every session key carries a TTL, so under memory pressure Redis evicts whole users' sessions (they are logged out); with any other key layout allkeys-* also orphans sessions from their index`,
        fix: 'CONFIG SET maxmemory-policy noeviction (and in redis.conf)',
      });
    }
    const aof = field(info, 'aof_enabled') === '1';
    const fsync = await attempt(node.send('CONFIG', ['GET', 'appendfsync']));
    const mode = fsync instanceof Error ? 'unknown' : String((fsync as string[])[1] ?? 'unknown');
    if (!aof) {
      checks.push({
        name: `persistence${where}`,
        verdict: 'warn',
        detail: 'no AOF: a restart loses every session written since the last snapshot (or all of them)',
        fix: 'appendonly yes, appendfsync everysec',
      });
    } else {
      const loses: Record<string, string> = {
        always: 'AOF always: loses no acknowledged write',
        everysec: 'AOF everysec: an OS crash or power loss loses about 1 s (2 s worst case)',
        no: 'AOF with appendfsync no: an OS crash loses what the OS had not flushed (often ~30 s)',
      };
      checks.push({
        name: `persistence${where}`,
        verdict: mode === 'no' ? 'warn' : 'ok',
        detail: loses[mode] ?? `AOF on, appendfsync ${mode}`,
        ...(mode === 'no' ? { fix: 'appendfsync everysec' } : {}),
      });
    }
    const loaded = await attempt(node.pipeline(Object.values(luaScripts).map((s) => ['SCRIPT', 'LOAD', s.body])));
    const failed = loaded instanceof Error ? loaded : loaded.find((r) => r instanceof Error);
    checks.push(
      failed instanceof Error
        ? {
            name: `scripts${where}`,
            verdict: 'warn',
            detail: `SCRIPT LOAD refused: ${failed.message.split('\n')[0]}`,
            fix: 'grant script|load (aclRules does); the store then falls back to EVAL',
          }
        : { name: `scripts${where}`, verdict: 'ok', detail: `${Object.keys(luaScripts).length} scripts load` },
    );
  }
  if (client.isCluster) {
    const info = String(await masters[0]!.send('CLUSTER', ['INFO']));
    const state = field(info, 'cluster_state');
    const slots = Number(field(info, 'cluster_slots_assigned') ?? 0);
    checks.push(
      state === 'ok' && slots === 16384
        ? { name: 'cluster', verdict: 'ok', detail: `state ok, 16384 slots assigned, ${masters.length} masters` }
        : {
            name: 'cluster',
            verdict: 'fail',
            detail: `state ${state}, ${slots} of 16384 slots assigned`,
            fix: 'assign every slot (redis-cli --cluster fix)',
          },
    );
  }
  checks.push(await aclCheck(masters[0]!, prefix));
  return checks;
}

// Commands no session store needs; a user that has them can do more harm than it must.
const DANGEROUS = ['flushall', 'flushdb', 'config', 'keys', 'shutdown', 'debug', 'acl', 'script|flush'];

/** The connected user's rules against aclRules(), where the user may read them (ACL GETUSER). */
async function aclCheck(node: RedisClient, prefix: string): Promise<Check> {
  const who = await attempt(node.send('ACL', ['WHOAMI']));
  const user = who instanceof Error ? 'unknown' : String(who);
  if (user === 'default') {
    return {
      name: 'acl',
      verdict: 'warn',
      detail: 'connected as the default user (all commands, all keys)',
      fix: 'create a least-privilege user: redis-session-store acl',
    };
  }
  const reply = await attempt(node.send('ACL', ['GETUSER', user]));
  if (reply instanceof Error || reply === null) {
    return {
      name: 'acl',
      verdict: 'ok',
      detail: `connected as ${user} (it may not read its own rules, as a least-privilege user should not)`,
    };
  }
  const fields =
    reply instanceof Map
      ? (reply as Map<string, unknown>)
      : Array.isArray(reply)
        ? new Map(pairsOf(reply as unknown[]))
        : new Map(Object.entries(reply as object));
  const commands = words(fields.get('commands'));
  const keys = words(fields.get('keys'));
  const all = commands.includes('+@all');
  const granted = (c: string) => all || commands.includes(`+${c}`) || commands.includes(`+${c.split('|')[0]}`);
  const missing = [...new Set([...CLIENT_COMMANDS, ...SCRIPT_COMMANDS])].filter((c) => !granted(c));
  const keysOk = keys.some((k) => k === '~*' || k === 'allkeys' || k === `~${prefix}*`);
  if (missing.length > 0 || !keysOk) {
    return {
      name: 'acl',
      verdict: 'fail',
      detail: `user ${user} lacks ${[...missing.map((c) => `+${c}`), ...(keysOk ? [] : [`~${prefix}*`])].join(' ')}`,
      fix: `grant them, or recreate the user from: redis-session-store acl --prefix ${prefix}`,
    };
  }
  const extra = all ? ['+@all'] : DANGEROUS.filter((c) => granted(c)).map((c) => `+${c}`);
  if (extra.length > 0) {
    return {
      name: 'acl',
      verdict: 'warn',
      detail: `user ${user} may also run ${extra.join(' ')}, which the store never needs`,
      fix: `narrow it to: redis-session-store acl --prefix ${prefix}`,
    };
  }
  return { name: 'acl', verdict: 'ok', detail: `user ${user} has what aclRules() grants` };
}

function words(value: unknown): string[] {
  if (typeof value === 'string') return value.split(' ');
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' ? v : ''));
  return [];
}

function pairsOf(flat: unknown[]): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([String(flat[i]), flat[i + 1]]);
  return out;
}

export function renderChecks(checks: readonly Check[]): string {
  const label = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  return checks
    .map((c) => `${label[c.verdict]}  ${c.name}: ${c.detail}${c.fix === undefined ? '' : `\n      fix: ${c.fix}`}`)
    .join('\n');
}
