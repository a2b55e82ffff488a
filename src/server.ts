/**
 * What differs between the servers the store runs on (Redis 7.0-7.4+, Valkey 7.2-8+), in one
 * place, each with a test per server (test/integration/server.test.ts, run by the server matrix).
 *
 * - Identity: Valkey reports `redis_version:7.2.4` for compatibility and its own version as
 *   `valkey_version`; `server_name:valkey` since 7.2.5 (older Valkey only has valkey_version).
 * - A script's command refused by ACL: Redis 7.0 answers "ERR The user executing the script
 *   can't run this command or subcommand ..."; Redis 7.2+ and Valkey answer "ERR ACL failure
 *   in script: User ... has no permissions to run the '...' command ...".
 */

/** The oldest server the scripts run on (by its Redis-compatible version): `#!lua` shebangs and script flags arrived in 7.0. */
export const MIN_REDIS_VERSION = [7, 0, 0] as const;

export interface ServerIdentity {
  /** 'redis' or 'valkey'. */
  readonly name: 'redis' | 'valkey';
  /** The server's own version ("8.0.1" for Valkey 8.0.1). */
  readonly version: string;
  /** The Redis version it is compatible with ("7.2.4" for Valkey 8.0.1). */
  readonly redisVersion: string;
}

/** One field of an INFO reply. */
export function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** The server an `INFO server` reply describes. */
export function serverOf(info: string): ServerIdentity {
  const redisVersion = infoField(info, 'redis_version') ?? 'unknown';
  const valkey = infoField(info, 'valkey_version');
  if (valkey !== undefined || infoField(info, 'server_name') === 'valkey') {
    return { name: 'valkey', version: valkey ?? redisVersion, redisVersion };
  }
  return { name: 'redis', version: redisVersion, redisVersion };
}

/** "Redis 7.0.15", "Valkey 8.0.1". */
export function serverLabel(server: ServerIdentity): string {
  return `${server.name === 'valkey' ? 'Valkey' : 'Redis'} ${server.version}`;
}

/** Whether the server is older than the scripts need (judged by its Redis-compatible version). */
export function isTooOld(server: ServerIdentity | string): boolean {
  const version = typeof server === 'string' ? server : server.redisVersion;
  const v = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < MIN_REDIS_VERSION.length; i++) {
    const a = v[i] ?? 0;
    const b = MIN_REDIS_VERSION[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

// The ERR replies of a script whose command the user's ACL refuses, as each server words them.
const SCRIPT_ACL_REFUSALS = [
  /^ERR The user executing the script can't run this command/, // Redis 7.0
  /^ERR The user executing the script can't access/, // Redis 7.0, a key outside the user's patterns
  /^ERR ACL failure in script/, // Redis 7.2+, Valkey
];

/** Whether an error reply says a script's command or key was refused by ACL. */
export function isScriptAclRefusal(message: string): boolean {
  return SCRIPT_ACL_REFUSALS.some((p) => p.test(message));
}
