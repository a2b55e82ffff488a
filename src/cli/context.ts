import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
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
  /** PEM files for TLS (`rediss://` alone uses the system CAs). */
  tlsCa?: string | undefined;
  tlsCert?: string | undefined;
  tlsKey?: string | undefined;
}

/** TLS options from the --tls-* files, or undefined when none is given. */
function tlsOf(target: Target): ConnectionOptions | undefined {
  const read = (file: string | undefined, flag: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch {
      throw new UsageError(`${flag}: cannot read ${file}`);
    }
  };
  const ca = read(target.tlsCa, '--tls-ca');
  const cert = read(target.tlsCert, '--tls-cert');
  const key = read(target.tlsKey, '--tls-key');
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
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
  const tls = tlsOf(target);
  return RedisSessionStore.fromEnv(storeEnv(target), { metrics: false, tracing: false, ...(tls ? { tls } : {}) });
}

/** A plain client on the same deployment, for INFO, SCAN and MEMORY USAGE (one per master on a Cluster). */
export async function openAdmin(target: Target): Promise<{ client: RedisClient; options: ResolvedOptions }> {
  const tls = tlsOf(target);
  const options = resolveOptions(tls ? { tls } : {}, storeEnv(target));
  const [driver] = await openClients(options, 1);
  return { client: adapt(driver!), options };
}
