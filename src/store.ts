import { StoreClosedError, CorruptSessionError, InvalidInputError, classifyError } from './errors.js';
import { decodeHeader, decodeSession } from './codec.js';
import { checkCallerClient, openClients, preflight } from './connection.js';
import { keysForTag, newToken, SESSION_ID_PATTERN, sessionIdOf, tagOfToken, userTag, type UserKeys } from './keys.js';
import type { ScriptName } from './lua.generated.js';
import { instrument, StoreMetrics } from './metrics.js';
import { MAX_TTL_SECONDS, resolveOptions, type ResolvedOptions, type StoreEnv, type StoreOptions } from './options.js';
import { ScriptRunner, type Client, type ScriptCall } from './scripts.js';
import type {
  AuthUser,
  CreatedSession,
  CreateSessionOptions,
  DestroyUserSessionsOptions,
  HealthReport,
  MetadataPatch,
  RotatedSession,
  Session,
} from './types.js';
import { encodeMetadata, encodePatch, encodeUser, requireString, validateTtl, validateUserId } from './validate.js';

/** Most tokens one `getSessions` call takes. */
export const MAX_BATCH = 10_000;

/** A token's session: its keys and public id; null when the string is not a token. */
interface TokenRef {
  keys: UserKeys;
  id: string;
}

/**
 * Server-side sessions in Redis. Every method is one Lua script in one round trip on keys of
 * one hash slot. Bad input throws `InvalidInputError` before any I/O; Redis being down or hung
 * rejects with `StoreUnavailableError` (or its subclass `StoreTimeoutError`), never with a
 * "not found" answer.
 */
export class RedisSessionStore {
  private readonly runner: ScriptRunner;
  private readonly metrics: StoreMetrics | undefined;
  private reloadListener: ((script: ScriptName) => void) | undefined;
  private next = 0;
  private closed = false;

  private constructor(
    private readonly clients: readonly Client[],
    /** With waitForReplicas, writes go on their own connection: WAIT blocks the one it is sent on. */
    private readonly writer: Client | undefined,
    private readonly ownsClients: boolean,
    readonly options: Readonly<ResolvedOptions>,
  ) {
    this.runner = new ScriptRunner(options.commandTimeout);
    this.metrics = options.metrics === false ? undefined : StoreMetrics.for(options.metrics);
    this.runner.onReload = (script) => {
      this.metrics?.scriptReloads.inc({ script });
      this.reloadListener?.(script);
    };
    if (this.metrics !== undefined) instrument(this, this.metrics);
  }

  /**
   * Connects (or adopts `options.redis`), checks the server, and returns a ready store.
   * Options fall back to REDIS_URL, SESSION_TTL, SESSION_KEY_PREFIX and MAX_CONNECTIONS.
   */
  static async connect(options: StoreOptions = {}): Promise<RedisSessionStore> {
    return RedisSessionStore.open(options, process.env);
  }

  /** Like `connect`, configured from exactly REDIS_URL, SESSION_TTL, SESSION_KEY_PREFIX and MAX_CONNECTIONS. */
  static async fromEnv(
    env: StoreEnv = process.env,
    options: Omit<StoreOptions, 'url' | 'defaultTtl' | 'keyPrefix' | 'maxConnections'> = {},
  ): Promise<RedisSessionStore> {
    return RedisSessionStore.open(options, env);
  }

  private static async open(options: StoreOptions, env: StoreEnv): Promise<RedisSessionStore> {
    const resolved = resolveOptions(options, env);
    const given = options.redis;
    if (given !== undefined) checkCallerClient(given);
    const confirmed = resolved.waitForReplicas !== undefined;
    const clients: Client[] =
      given !== undefined ? [given] : await openClients(resolved, resolved.maxConnections + (confirmed ? 1 : 0));
    const writer = !confirmed ? undefined : given !== undefined ? given : clients.pop()!;
    const store = new RedisSessionStore(clients, writer, given === undefined, resolved);
    try {
      await preflight(clients[0]!, resolved.logger, (p) => store.runner.bounded(p));
      await Promise.all(store.connections().map((c) => store.runner.preload(c)));
    } catch (err) {
      await store.close();
      throw classifyError(err);
    }
    return store;
  }

  /** Called with the script name after each NOSCRIPT reload (also counted in the metrics). */
  set onScriptReload(fn: ((script: ScriptName) => void) | undefined) {
    this.reloadListener = fn;
  }

  /**
   * Creates a session for `user` and returns it with its token. With `maxSessionsPerUser`, the
   * user's least recently used sessions beyond the cap are evicted in the same step
   * (`evictedSessionIds`).
   */
  async createSession(user: AuthUser, options: CreateSessionOptions = {}): Promise<CreatedSession> {
    const o = this.options;
    const encodedUser = encodeUser(user, o.maxUserBytes);
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
    const ttl = options.ttl === undefined ? o.defaultTtl : validateTtl(options.ttl, o.absoluteTtl || MAX_TTL_SECONDS);
    const metadataJson = encodeMetadata(options.metadata, o.maxMetadataBytes);

    const tag = userTag(encodedUser.id);
    const keys = keysForTag(o.keyPrefix, tag);
    const token = newToken(tag);
    const id = sessionIdOf(token);
    const reply = (await this.write({
      script: 'createSession',
      keys: [keys.data, keys.index],
      args: [id, String(ttl), String(o.absoluteTtl), String(o.maxSessionsPerUser), metadataJson, encodedUser.json],
    })) as unknown[];
    // The stored data is what was just validated: only the header (server times) is read back.
    const [expiresAt, createdAt, lastAccessedAt] = decodeHeader(reply[0]);
    return {
      id,
      userId: encodedUser.id,
      user: JSON.parse(encodedUser.json) as AuthUser,
      createdAt,
      lastAccessedAt,
      expiresAt,
      metadata: options.metadata === undefined ? {} : { ...options.metadata },
      token,
      evictedSessionIds: reply.slice(1) as string[],
    };
  }

  /** The live session a token opens, or null (unknown, expired, destroyed, or not a token). */
  getSession(token: string): Promise<Session | null> {
    // Not async: the hottest call skips the async frame; input errors still reject, not throw.
    let ref: TokenRef | null;
    try {
      ref = this.tokenRef(token);
      if (ref !== null) this.assertOpen();
    } catch (err) {
      return Promise.reject(err);
    }
    if (ref === null) return Promise.resolve(null);
    const id = ref.id;
    return this.runner
      .run(this.client(), this.getCall(ref))
      .then((reply) => (reply === null ? null : decodeSession(id, reply)));
  }

  /** Many sessions in one pipelined round trip; results in input order, null where absent. */
  async getSessions(tokens: readonly string[]): Promise<(Session | null)[]> {
    if (!Array.isArray(tokens)) throw new InvalidInputError('tokens', 'expected an array of strings');
    if (tokens.length > MAX_BATCH) throw new InvalidInputError('tokens', `at most ${MAX_BATCH} per call`);
    const refs = tokens.map((t, i) => this.tokenRef(t, `tokens[${i}]`));
    this.assertOpen();
    const calls: ScriptCall[] = [];
    for (const ref of refs) if (ref !== null) calls.push(this.getCall(ref));
    const replies = await this.runner.runBatch(this.client(), calls);
    let k = 0;
    return refs.map((ref) => {
      if (ref === null) return null;
      const reply = replies[k++];
      if (reply instanceof Error) throw reply;
      return this.decodeReply(ref.id, reply);
    });
  }

  /**
   * Extends a live session: expires `ttl` seconds from now (default: its own idle TTL, which
   * `ttl` also replaces), never past the absolute deadline. False when there is no live session.
   */
  async refreshSession(token: string, ttl?: number): Promise<boolean> {
    const seconds = ttl === undefined ? 0 : validateTtl(ttl, this.options.absoluteTtl || MAX_TTL_SECONDS);
    const ref = this.tokenRef(token);
    if (ref === null) return false;
    const reply = await this.write({
      script: 'refreshSession',
      keys: [ref.keys.data, ref.keys.index],
      args: [ref.id, String(seconds)],
    });
    if (reply === -1) throw new CorruptSessionError('session header');
    return reply !== 0;
  }

  /** Destroys the session a token opens (logout). False when there was no live session. */
  async destroySession(token: string): Promise<boolean> {
    const ref = this.tokenRef(token);
    if (ref === null) return false;
    return (
      (await this.write({ script: 'destroySession', keys: [ref.keys.data, ref.keys.index], args: [ref.id] })) === 1
    );
  }

  /**
   * Sets (string) or removes (null) metadata keys of a live session, atomically and key by key.
   * False when there is no live session. Throws InvalidInputError when the result would exceed
   * `maxMetadataBytes` (nothing is written).
   */
  async updateSessionMetadata(token: string, patch: MetadataPatch): Promise<boolean> {
    const max = this.options.maxMetadataBytes;
    const json = encodePatch(patch, max);
    const ref = this.tokenRef(token);
    if (ref === null) return false;
    const reply = await this.write({
      script: 'updateSessionMetadata',
      keys: [ref.keys.data, ref.keys.index],
      args: [ref.id, json, String(max)],
    });
    if (reply === -1) throw new InvalidInputError('patch', `the session's metadata would exceed ${max} bytes`);
    if (reply === -2) throw new CorruptSessionError('session metadata');
    return reply === 1;
  }

  /** Whole seconds until the session expires (rounded up), or null when there is no live session. */
  async getSessionTtl(token: string): Promise<number | null> {
    const ref = this.tokenRef(token);
    if (ref === null) return null;
    const ms = Number(
      await this.run({ script: 'getSessionTtl', keys: [ref.keys.data, ref.keys.index], args: [ref.id] }),
    );
    if (ms === -3) throw new CorruptSessionError('session header');
    return ms > 0 ? Math.ceil(ms / 1000) : null;
  }

  /**
   * Moves a live session to a new token (do it after login or privilege change). The old token
   * stops working in the same step. Null when there is no live session.
   */
  async rotateSession(token: string): Promise<RotatedSession | null> {
    const ref = this.tokenRef(token);
    if (ref === null) return null;
    const next = newToken(token.slice(0, token.indexOf('.')));
    const id = sessionIdOf(next);
    const reply = await this.write({
      script: 'rotateSession',
      keys: [ref.keys.data, ref.keys.index],
      args: [ref.id, id],
    });
    const session = this.decodeReply(id, reply);
    return session === null ? null : { ...session, token: next };
  }

  /** Exact number of the user's live sessions. */
  async countUserSessions(userId: string): Promise<number> {
    const keys = this.userKeys(userId);
    return Number(await this.run({ script: 'countUserSessions', keys: [keys.index], args: [] }));
  }

  /** The user's live sessions (without tokens), soonest expiry first. */
  async listUserSessions(userId: string): Promise<Session[]> {
    const keys = this.userKeys(userId);
    const flat = (await this.run({ script: 'listUserSessions', keys: [keys.data, keys.index], args: [] })) as unknown[];
    const sessions: Session[] = [];
    for (let i = 0; i < flat.length; i += 2) sessions.push(decodeSession(String(flat[i]), flat[i + 1]));
    return sessions;
  }

  /**
   * Log out everywhere: destroys all of the user's sessions, except the one `except` opens (a
   * token of this user's). Returns how many live sessions were destroyed.
   */
  async destroyUserSessions(userId: string, options: DestroyUserSessionsOptions = {}): Promise<number> {
    const keys = this.userKeys(userId);
    if (options === null || typeof options !== 'object') throw new InvalidInputError('options', 'expected an object');
    let keep = '';
    if (options.except !== undefined) {
      const except = requireString('options.except', options.except);
      // Keeping a session the caller cannot name would destroy everything: refuse instead.
      if (tagOfToken(except) !== userTag(userId))
        throw new InvalidInputError('options.except', "is not a token of this user's");
      keep = sessionIdOf(except);
    }
    return Number(await this.write({ script: 'destroyUserSessions', keys: [keys.data, keys.index], args: [keep] }));
  }

  /** Revokes one of the user's sessions by its public id (as listed). False when it is not live. */
  async revokeSession(userId: string, sessionId: string): Promise<boolean> {
    const keys = this.userKeys(userId);
    const id = requireString('sessionId', sessionId);
    if (!SESSION_ID_PATTERN.test(id)) return false;
    return (await this.write({ script: 'destroySession', keys: [keys.data, keys.index], args: [id] })) === 1;
  }

  /** Pings Redis within the time budget. Never throws. */
  async healthCheck(): Promise<HealthReport> {
    const started = performance.now();
    let report: HealthReport;
    try {
      this.assertOpen();
      await this.runner.bounded(this.client().ping());
      report = { healthy: true, latencyMs: performance.now() - started, checkedAt: Date.now() };
    } catch (err) {
      report = {
        healthy: false,
        latencyMs: performance.now() - started,
        checkedAt: Date.now(),
        error: classifyError(err).code,
      };
    }
    this.metrics?.reachable(report.healthy);
    this.metrics?.healthCheckSeconds.set(report.latencyMs / 1000);
    return report;
  }

  /** Closes the connections the store opened (not a client passed as `redis`). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.ownsClients) return;
    await Promise.all(
      this.connections().map((c) =>
        c.quit().then(
          () => undefined,
          () => c.disconnect(),
        ),
      ),
    );
  }

  /** Every client the store uses, each once (a caller's client may be both reader and writer). */
  private connections(): Client[] {
    return this.writer === undefined || this.clients.includes(this.writer)
      ? [...this.clients]
      : [...this.clients, this.writer];
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreClosedError();
  }

  private client(): Client {
    const clients = this.clients;
    if (clients.length === 1) return clients[0]!;
    this.next = (this.next + 1) % clients.length;
    return clients[this.next]!;
  }

  private run(call: ScriptCall): Promise<unknown> {
    this.assertOpen();
    return this.runner.run(this.client(), call);
  }

  /** A call that writes: with `waitForReplicas`, it resolves only once replicas confirm it. */
  private write(call: ScriptCall): Promise<unknown> {
    const wait = this.options.waitForReplicas;
    if (wait === undefined) return this.run(call);
    this.assertOpen();
    return this.runner.runConfirmed(this.writer!, call, wait, this.client());
  }

  private tokenRef(token: unknown, name = 'token'): TokenRef | null {
    const tag = tagOfToken(requireString(name, token));
    if (tag === null) return null;
    return { keys: keysForTag(this.options.keyPrefix, tag), id: sessionIdOf(token as string) };
  }

  private userKeys(userId: unknown): UserKeys {
    return keysForTag(this.options.keyPrefix, userTag(validateUserId(userId)));
  }

  private getCall(ref: TokenRef): ScriptCall {
    const touchAfter = this.options.rolling ? String(this.options.touchAfterMs) : '-1';
    return { script: 'getSession', keys: [ref.keys.data, ref.keys.index], args: [ref.id, touchAfter] };
  }

  private decodeReply(id: string, reply: unknown): Session | null {
    return reply === null ? null : decodeSession(id, reply);
  }
}
