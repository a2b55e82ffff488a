/** A JSON value as the store accepts it inside `AuthUser`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The signed-in user a session belongs to: a JSON-serialisable plain object with a non-empty
 * string `id` and a string `username`. Other fields are stored and returned as given.
 */
export interface AuthUser {
  id: string;
  username: string;
  [key: string]: JsonValue;
}

/** A session as read back from the store. It never contains the token. */
export interface Session {
  /** Public, non-secret id (a hash of the token): safe to log, list, show and revoke by. */
  id: string;
  userId: string;
  user: AuthUser;
  /** Epoch ms on the Redis server clock. */
  createdAt: number;
  /** Epoch ms on the Redis server clock; with `rolling`, updated at most every `touchAfter` seconds. */
  lastAccessedAt: number;
  /** Epoch ms on the Redis server clock: the earlier of the idle expiry and the absolute deadline. */
  expiresAt: number;
  metadata: Record<string, string>;
}

/** What `createSession` returns: the session, its secret token, and who the per-user cap evicted. */
export interface CreatedSession extends Session {
  /** The bearer secret. Give it to the client; the store keeps only a hash of it. */
  token: string;
  /** Public ids of the user's sessions evicted by `maxSessionsPerUser` in the same step. */
  evictedSessionIds: string[];
}

/** What `rotateSession` returns: the same session under a new id and token. */
export interface RotatedSession extends Session {
  token: string;
}

export interface CreateSessionOptions {
  /** Idle TTL in seconds (default: the store's `defaultTtl`). */
  ttl?: number;
  /** Initial metadata: string values, at most `maxMetadataBytes` in all. */
  metadata?: Record<string, string>;
}

export interface DestroyUserSessionsOptions {
  /** A token of this user's to keep alive (log out everywhere else). */
  except?: string;
  /** Or the public id of the session to keep (as listed; for operators, who hold no token). */
  exceptSessionId?: string;
}

/** A metadata patch: a string sets a key, `null` removes it; keys not named are left alone. */
export type MetadataPatch = Record<string, string | null>;

export interface HealthReport {
  healthy: boolean;
  /** Round-trip time of the probe in ms (time until failure when unhealthy). */
  latencyMs: number;
  /** Epoch ms on this process's clock when the check ended. */
  checkedAt: number;
  /** The error code when unhealthy (see `SessionStoreError.code`). */
  error?: string;
}

/** Where the store reports warnings. It never receives tokens or session payloads. */
export interface Logger {
  warn(message: string): void;
}
