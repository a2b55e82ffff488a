export { RedisSessionStore } from './store.js';
export { MAX_BATCH } from './reader.js';
export { aclRules, expressAclRules, type AclRuleOptions } from './acl.js';
export { DEFAULT_METRICS_PREFIX, type MetricsOptions } from './metrics.js';
export {
  DEFAULTS,
  MAX_TTL_SECONDS,
  type CacheOptions,
  type NodeAddress,
  type StoreOptions,
  type StoreEnv,
  type WaitForReplicas,
} from './config/options.js';
export type { StoreSettings } from './settings.js';
export {
  type ErrorCode,
  SessionStoreError,
  InvalidInputError,
  ConfigurationError,
  StoreUnavailableError,
  StoreTimeoutError,
  StoreOutOfMemoryError,
  StoreAuthError,
  StoreTlsError,
  StoreReplicationError,
  CorruptSessionError,
  StoreClosedError,
} from './errors.js';
export type {
  AuthUser,
  JsonValue,
  Session,
  CreatedSession,
  RotatedSession,
  CreateSessionOptions,
  DestroyUserSessionsOptions,
  MetadataPatch,
  HealthReport,
  Logger,
} from './types.js';
