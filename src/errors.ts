import { isScriptAclRefusal } from './server.js';
/**
 * Every error the store raises is a `SessionStoreError` with a stable `code`; the driver's
 * error, if any, is kept as `cause`. Match on the class or on `code`, never on the message.
 */
/** Every `code` a store error can carry. */
export type ErrorCode =
  | 'STORE_ERROR'
  | 'INVALID_INPUT'
  | 'INVALID_CONFIG'
  | 'STORE_UNAVAILABLE'
  | 'STORE_TIMEOUT'
  | 'STORE_NOT_REPLICATED'
  | 'STORE_OOM'
  | 'STORE_AUTH'
  | 'STORE_TLS'
  | 'CORRUPT_SESSION'
  | 'STORE_CLOSED';

export class SessionStoreError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Bad input from the caller, rejected before any I/O: nothing was written. */
export class InvalidInputError extends SessionStoreError {
  /** The parameter or option at fault, e.g. `ttl` or `metadata.theme`. */
  readonly parameter: string;

  constructor(parameter: string, problem: string) {
    super('INVALID_INPUT', `${parameter}: ${problem}`);
    this.parameter = parameter;
  }
}

/** A malformed option or environment variable; `parameter` names it. */
export class ConfigurationError extends SessionStoreError {
  readonly parameter: string;

  constructor(parameter: string, problem: string, options?: { cause?: unknown }) {
    super('INVALID_CONFIG', `${parameter}: ${problem}`, options);
    this.parameter = parameter;
  }
}

/**
 * Redis could not be reached or did not answer: the operation's outcome is unknown for writes
 * and nothing can be said about the session. Never a reason to treat a session as absent.
 */
export class StoreUnavailableError extends SessionStoreError {
  constructor(message: string, options?: { cause?: unknown; code?: 'STORE_TIMEOUT' | 'STORE_NOT_REPLICATED' }) {
    super(options?.code ?? 'STORE_UNAVAILABLE', message, options);
  }
}

/**
 * The call did not settle within the per-command budget (`commandTimeout`). A write may still
 * be applied later by Redis: treat the outcome as unknown.
 */
export class StoreTimeoutError extends StoreUnavailableError {
  constructor(timeoutMs?: number, options?: { cause?: unknown }) {
    const budget = timeoutMs === undefined ? 'commandTimeout' : `commandTimeout (${timeoutMs} ms)`;
    super(`no reply from Redis within ${budget}; the outcome is unknown`, {
      ...options,
      code: 'STORE_TIMEOUT',
    });
  }
}

/**
 * `waitForReplicas` is set and fewer replicas than asked confirmed the write within its timeout.
 * The master applied the write; a failover before the replicas catch up could still undo it.
 */
export class StoreReplicationError extends StoreUnavailableError {
  readonly wanted: number;
  readonly acknowledged: number;

  constructor(wanted: number, acknowledged: number) {
    super(`the write reached ${acknowledged} of ${wanted} required replicas within waitForReplicas.timeout`, {
      code: 'STORE_NOT_REPLICATED',
    });
    this.wanted = wanted;
    this.acknowledged = acknowledged;
  }
}

/** Redis refused a write because it is at `maxmemory` (with a non-evicting policy). */
export class StoreOutOfMemoryError extends SessionStoreError {
  constructor(options?: { cause?: unknown }) {
    super('STORE_OOM', 'Redis is out of memory (maxmemory reached) and refused the write', options);
  }
}

/** Redis rejected the credentials or the ACL user lacks a needed permission. */
export class StoreAuthError extends SessionStoreError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_AUTH', message, options);
  }
}

/**
 * The TLS handshake with Redis failed: an untrusted or wrong CA, a certificate that does not
 * name the host, or a client certificate the server requires and did not get. No command was
 * sent. Check the `tls` options (`ca`, `servername`, `cert`, `key`).
 */
export class StoreTlsError extends SessionStoreError {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(
      'STORE_TLS',
      `TLS handshake with Redis failed (${reason}); check tls.ca, tls.servername, tls.cert and tls.key`,
      options,
    );
  }
}

/** Data under a store key is not what the store writes (wrong type, bad JSON, missing fields). */
export class CorruptSessionError extends SessionStoreError {
  constructor(problem: string, options?: { cause?: unknown }) {
    super('CORRUPT_SESSION', `stored session data is malformed: ${problem}`, options);
  }
}

/** The store was closed; create a new one. */
export class StoreClosedError extends SessionStoreError {
  constructor() {
    super('STORE_CLOSED', 'the store is closed');
  }
}

// Redis and ioredis signal failure kinds by the first word of the error (Redis error codes)
// or by Node's errno codes; these sets are the one place that classifies them.
const UNAVAILABLE_REDIS_CODES = new Set([
  'LOADING',
  'CLUSTERDOWN',
  'TRYAGAIN',
  'MASTERDOWN',
  'READONLY',
  'BUSY',
  'MOVED',
  'ASK',
]);
const AUTH_REDIS_CODES = new Set(['NOAUTH', 'WRONGPASS', 'NOPERM']);
const UNAVAILABLE_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError']);

/** Maps an error from ioredis or Redis to the store's typed errors. */
export function classifyError(err: unknown): SessionStoreError {
  if (err instanceof SessionStoreError) return err;
  if (!(err instanceof Error)) return new SessionStoreError('STORE_ERROR', 'unexpected failure', { cause: err });
  const redisCode = /^[A-Z]+/.exec(err.message)?.[0] ?? '';
  const errno = (err as NodeJS.ErrnoException).code;
  // ioredis's own commandTimeout fired (the store sets it to the same budget as its timer).
  if (err.message === 'Command timed out') return new StoreTimeoutError(undefined, { cause: err });
  if (errno !== undefined && isTlsCode(errno)) return new StoreTlsError(errno, { cause: err });
  if (redisCode === 'OOM') return new StoreOutOfMemoryError({ cause: err });
  if (AUTH_REDIS_CODES.has(redisCode) || isScriptAclRefusal(err.message))
    return new StoreAuthError(err.message, { cause: err });
  if (redisCode === 'WRONGTYPE') return new CorruptSessionError('a store key holds another Redis type', { cause: err });
  if (
    UNAVAILABLE_REDIS_CODES.has(redisCode) ||
    UNAVAILABLE_NAMES.has(err.name) ||
    (errno !== undefined && errno.startsWith('E')) ||
    isConnectionMessage(err.message)
  ) {
    return new StoreUnavailableError(`Redis is unavailable: ${err.message}`, { cause: err });
  }
  return new SessionStoreError('STORE_ERROR', `Redis error: ${err.message}`, { cause: err });
}

// Node's TLS errors carry OpenSSL's verification codes (e.g. SELF_SIGNED_CERT_IN_CHAIN) or
// ERR_TLS_* / ERR_SSL_* codes (a wrong host name; the server's alert for a missing client cert).
const TLS_VERIFY_CODES = /^(ERR_TLS_|ERR_SSL_|.*CERT|UNABLE_TO_|HOSTNAME_MISMATCH)/;

function isTlsCode(code: string): boolean {
  return TLS_VERIFY_CODES.test(code);
}

// ioredis raises these as plain Errors without a code.
function isConnectionMessage(message: string): boolean {
  return (
    message === 'Connection is closed.' ||
    message.startsWith("Stream isn't writeable") ||
    message.startsWith('Reached the max retries per request limit') ||
    message === 'None of startup nodes is available' ||
    // A cluster client gave up: retries (failover, CLUSTERDOWN, MOVED between nodes that do not
    // yet agree) ran out, or the connection closed with the command in flight.
    message.startsWith('Too many Cluster redirections') ||
    message === 'Command aborted due to connection close' ||
    message.startsWith('connect ')
  );
}
