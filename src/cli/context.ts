import { resolveOptions, type ResolvedOptions } from '../config/resolve.js';
import { RedisSessionStore } from '../store.js';
import { adapt, type RedisClient } from '../transport/client.js';
import { openClients } from '../transport/connection.js';

/** Exit codes of the command line. */
export const EXIT = { ok: 0, notFound: 1, usage: 2, unreachable: 3 } as const;

/** A usage error: a clear message, exit code 2, and nothing sent to Redis. */
export class UsageError extends Error {}

/** Where output goes; tests and the entry point pass process streams. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Whether a person is at a terminal (prompts and progress only then). */
  interactive: boolean;
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>;
}

/** The connection settings every subcommand shares: like fromEnv(), with --url and --prefix. */
export interface Target {
  url: string | undefined;
  prefix: string | undefined;
}

export function storeEnv(target: Target): { REDIS_URL?: string; SESSION_KEY_PREFIX?: string } {
  const env: { REDIS_URL?: string; SESSION_KEY_PREFIX?: string } = {};
  const url = target.url ?? process.env.REDIS_URL;
  const prefix = target.prefix ?? process.env.SESSION_KEY_PREFIX;
  if (url !== undefined) env.REDIS_URL = url;
  if (prefix !== undefined) env.SESSION_KEY_PREFIX = prefix;
  return env;
}

/** The store itself, for operations that must go through its atomic scripts. */
export function openStore(target: Target): Promise<RedisSessionStore> {
  return RedisSessionStore.fromEnv(storeEnv(target), { metrics: false, tracing: false });
}

/** A plain client on the same deployment, for INFO, SCAN and MEMORY USAGE (one per master on a Cluster). */
export async function openAdmin(target: Target): Promise<{ client: RedisClient; options: ResolvedOptions }> {
  const options = resolveOptions({}, storeEnv(target));
  const [driver] = await openClients(options, 1);
  return { client: adapt(driver!), options };
}
