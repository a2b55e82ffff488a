import { hash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { Deadlines } from './deadlines.js';
import { classifyError } from './errors.js';
import { luaScripts, type ScriptName } from './lua.generated.js';

export type Client = Redis | Cluster;

/** One script invocation: the script, its KEYS and its ARGV (strings only, built by the store). */
export interface ScriptCall {
  script: ScriptName;
  keys: readonly string[];
  args: readonly string[];
}

const SHAS = Object.fromEntries(
  Object.entries(luaScripts).map(([name, s]) => [name, hash('sha1', s.body, 'hex')]),
) as Record<ScriptName, string>;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * The one funnel through which the store talks to Redis. Scripts go out as EVALSHA by a SHA
 * computed here; a NOSCRIPT reply (restart, failover, SCRIPT FLUSH) is answered by EVAL with
 * the body, which also reloads the cache. Never inside MULTI, where ioredis cannot recover.
 * Every call is bounded by the time budget; errors leave here as typed store errors.
 */
export class ScriptRunner {
  /** Called once per script reload after NOSCRIPT (for metrics). */
  onReload: ((script: ScriptName) => void) | undefined;

  private readonly deadlines: Deadlines;

  constructor(timeoutMs: number) {
    this.deadlines = new Deadlines(timeoutMs);
  }

  run(client: Client, call: ScriptCall): Promise<unknown> {
    // The hot path: one promise per call, the NOSCRIPT fallback inside its rejection handler.
    return new Promise((resolve, reject) => {
      const budget = this.deadlines.add(reject);
      const done = (value: unknown) => {
        budget.settled = true;
        resolve(value);
      };
      const fail = (err: unknown) => {
        budget.settled = true;
        reject(classifyError(err));
      };
      const script = luaScripts[call.script];
      client.evalsha(SHAS[call.script], script.numberOfKeys, ...call.keys, ...call.args).then(done, (err: unknown) => {
        if (!isNoScript(err)) return fail(err);
        this.reload(client, call).then(done, fail);
      });
    });
  }

  /**
   * Runs many calls in one pipelined round trip and returns each result or error in order.
   * On a Cluster the calls go out individually (ioredis pipelines cannot span nodes).
   */
  runBatch(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    return this.bounded(this.sendBatch(client, calls));
  }

  private send(client: Client, call: ScriptCall): Promise<unknown> {
    const script = luaScripts[call.script];
    return client.evalsha(SHAS[call.script], script.numberOfKeys, ...call.keys, ...call.args).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return this.reload(client, call);
    });
  }

  /** After NOSCRIPT: EVAL with the body, which also puts the script back in Redis's cache. */
  private reload(client: Client, call: ScriptCall): Promise<unknown> {
    const script = luaScripts[call.script];
    this.onReload?.(call.script);
    return client.eval(script.body, script.numberOfKeys, ...call.keys, ...call.args);
  }

  private async sendBatch(client: Client, calls: readonly ScriptCall[]): Promise<unknown[]> {
    if (calls.length === 0) return [];
    if (client.isCluster) {
      return Promise.all(calls.map((c) => this.send(client, c).catch((err: unknown) => classifyError(err))));
    }
    const pipeline = client.pipeline();
    for (const call of calls) pipeline.evalsha(SHAS[call.script], luaScripts[call.script].numberOfKeys, ...call.keys, ...call.args);
    const replies = (await pipeline.exec()) ?? [];
    return Promise.all(
      replies.map(([err, result], i) => {
        if (!err) return result;
        // Re-sent on its own after the pipeline; order does not matter for these reads.
        if (isNoScript(err)) return this.send(client, calls[i]!).catch((e: unknown) => classifyError(e));
        return classifyError(err);
      }),
    );
  }

  /**
   * Loads every script into the script cache of each master the client talks to, so first calls
   * go out as EVALSHA and a reload counts only real cache losses. Best effort: a refused
   * SCRIPT LOAD (an ACL without it) leaves the EVAL fallback to do the job.
   */
  async preload(client: Client): Promise<void> {
    const nodes: Redis[] = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
    await this.bounded(
      Promise.all(
        nodes.map((node) => {
          const pipeline = node.pipeline();
          for (const script of Object.values(luaScripts)) pipeline.script('LOAD', script.body);
          return pipeline.exec();
        }),
      ),
    );
  }

  /** Bounds any Redis promise by the time budget and types its errors. */
  bounded<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const budget = this.deadlines.add(reject);
      work.then(
        (value) => {
          budget.settled = true;
          resolve(value);
        },
        (err: unknown) => {
          budget.settled = true;
          reject(classifyError(err));
        },
      );
    });
  }
}
