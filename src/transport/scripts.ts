import { hash } from 'node:crypto';
import { luaScripts, type ScriptName } from '../lua.generated.js';
import type { Command, RedisClient } from './client.js';

/** One script invocation: the script, its KEYS and its ARGV (strings only, built by src/ops). */
export interface ScriptCall {
  readonly script: ScriptName;
  readonly keys: readonly string[];
  readonly args: readonly string[];
}

/** One plain command; its first argument is the key it routes by. */
export interface CommandCall {
  readonly command: string;
  readonly args: readonly [key: string, ...rest: string[]];
}

/** Anything the store sends: a script or a plain command. */
export type Request = ScriptCall | CommandCall;

export function isScriptCall(r: Request): r is ScriptCall {
  return (r as ScriptCall).script !== undefined;
}

/** The key a request routes by on a Cluster (all of a request's keys share its slot). */
export function routeKey(r: Request): string {
  return isScriptCall(r) ? r.keys[0]! : r.args[0];
}

const SHAS = Object.fromEntries(
  Object.entries(luaScripts).map(([name, s]) => [name, hash('sha1', s.body, 'hex')]),
) as Record<ScriptName, string>;
// A script named <name>-n.lua (numberOfKeys -1) takes as many keys as each call gives.
const KEY_COUNTS = Object.fromEntries(
  Object.entries(luaScripts).map(([name, s]) => [name, s.numberOfKeys < 0 ? undefined : String(s.numberOfKeys)]),
) as Record<ScriptName, string | undefined>;

function keyCount(r: ScriptCall): string {
  return KEY_COUNTS[r.script] ?? String(r.keys.length);
}

export function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

// Replies a cluster node gives for a slot it does not (or not yet, or no longer) serve. A
// pipeline sent to one node gets them raw; the same request sent on its own is redirected and
// retried by ioredis.
const CLUSTER_REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

export function isRedirect(err: unknown): boolean {
  return err instanceof Error && CLUSTER_REDIRECT.test(err.message);
}

/** The request as one command: EVALSHA by SHA, or EVAL with the body (which also reloads the cache). */
export function toCommand(r: Request, withBody = false): Command {
  if (!isScriptCall(r)) return [r.command, ...r.args];
  return [withBody ? 'EVAL' : 'EVALSHA', scriptRef(r, withBody), keyCount(r), ...r.keys, ...r.args];
}

/** The arguments after EVALSHA (or EVAL): one array per call. */
function scriptArgs(r: ScriptCall, withBody: boolean): string[] {
  return [scriptRef(r, withBody), keyCount(r), ...r.keys, ...r.args];
}

function scriptRef(r: ScriptCall, withBody: boolean): string {
  return withBody ? luaScripts[r.script].body : SHAS[r.script];
}

/**
 * Scripts go out as EVALSHA by a SHA computed here. A NOSCRIPT reply (restart, failover, SCRIPT
 * FLUSH) is answered by EVAL with the body, which also puts the script back in Redis's cache.
 * Never inside MULTI, where ioredis cannot recover (REDIS-FACTS 5).
 */
export class Scripts {
  /** Called once per script reload after NOSCRIPT (for metrics). */
  onReload: ((script: ScriptName) => void) | undefined;

  /** Sends one request; a script that Redis lost is re-sent with its body. */
  send(client: RedisClient, r: Request): Promise<unknown> {
    // Called on every operation: one argument array, no command array to take apart.
    if (!isScriptCall(r)) return client.send(r.command, r.args);
    return client.send('EVALSHA', scriptArgs(r, false)).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return this.reload(client, r);
    });
  }

  /** After NOSCRIPT: EVAL with the body. */
  reload(client: RedisClient, call: ScriptCall): Promise<unknown> {
    this.onReload?.(call.script);
    return client.send('EVAL', scriptArgs(call, true));
  }

  /** After NOSCRIPT, for a pipeline: the EVAL command that reloads the script (counted as a reload). */
  reloadCommand(call: ScriptCall): Command {
    this.onReload?.(call.script);
    return toCommand(call, true);
  }

  /**
   * The one place a failed reply is recovered from: a script Redis lost is reloaded, and a
   * request a cluster node redirected (a pipeline gets MOVED, ASK, TRYAGAIN raw) is sent again
   * on its own, which ioredis routes and retries. Undefined when `err` is not recoverable.
   */
  recover(client: RedisClient, r: Request, err: unknown): Promise<unknown> | undefined {
    if (isScriptCall(r) && isNoScript(err)) return this.reload(client, r);
    if (isRedirect(err) && client.isCluster) return this.send(client, r);
    return undefined;
  }

  /**
   * Loads every script into the script cache of each master, so first calls go out as EVALSHA
   * and a reload counts only real cache losses. A refused SCRIPT LOAD (an ACL without it) leaves
   * the EVAL fallback to do the job.
   */
  async preload(client: RedisClient): Promise<void> {
    const bodies = Object.values(luaScripts).map((s): Command => ['SCRIPT', 'LOAD', s.body]);
    const replies = await Promise.all(client.masters().map((node) => node.pipeline(bodies)));
    const failed = replies.flat().find((r) => r instanceof Error);
    if (failed !== undefined) throw failed;
  }
}
