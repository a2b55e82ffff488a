import { InvalidInputError, StoreUnavailableError } from './errors.js';

/**
 * The one list of operations and outcomes: the metrics' `operation` and `outcome` labels, the
 * spans' names and attributes, and what the store and the express adapter record, all come from
 * here. Both are fixed sets, so label cardinality stays fixed whatever the traffic.
 */

/** The store's public operations. */
export const STORE_OPERATIONS = [
  'createSession',
  'getSession',
  'getSessions',
  'refreshSession',
  'destroySession',
  'updateSessionMetadata',
  'getSessionTtl',
  'rotateSession',
  'countUserSessions',
  'listUserSessions',
  'destroyUserSessions',
  'revokeSession',
] as const;
export type StoreOperation = (typeof STORE_OPERATIONS)[number];

/** The express-session store's operations. */
export const EXPRESS_OPERATIONS = [
  'express.get',
  'express.set',
  'express.touch',
  'express.destroy',
  'express.clear',
  'express.length',
  'express.ids',
  'express.all',
  'express.countUserSessions',
  'express.listUserSessions',
  'express.destroyUserSessions',
] as const;
export type ExpressOperation = (typeof EXPRESS_OPERATIONS)[number];

/** Every value the `operation` label can take. */
export type Operation = StoreOperation | ExpressOperation;
export const OPERATIONS: readonly Operation[] = [...STORE_OPERATIONS, ...EXPRESS_OPERATIONS];

const INDEX = new Map<Operation, number>(OPERATIONS.map((o, i) => [o, i]));

/** An operation's position in OPERATIONS (the metrics' arrays are laid out in that order). */
export function operationIndex(operation: Operation): number {
  return INDEX.get(operation)!;
}

/** The only values of the `outcome` label. */
export const OUTCOMES = ['ok', 'not_found', 'invalid_input', 'unavailable', 'error'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export const OK = 0;
export const NOT_FOUND = 1;
export const INVALID_INPUT = 2;
export const UNAVAILABLE = 3;
export const ERROR = 4;

/** The outcome of a call that resolved: `null` and `false` are not_found; counts and empty lists are ok. */
export function resultOutcome(result: unknown): number {
  return result === null || result === false ? NOT_FOUND : OK;
}

/** The outcome of a failed call, by error class: every kind of "Redis could not answer" is unavailable. */
export function outcomeOf(err: unknown): number {
  if (err instanceof InvalidInputError) return INVALID_INPUT;
  if (err instanceof StoreUnavailableError) return UNAVAILABLE;
  return ERROR;
}
