import { CorruptSessionError, InvalidInputError } from '../errors.js';

/**
 * The return codes the write scripts share: one table, the same number for the same outcome in
 * every script. Each script's header lists the ones it returns ("Codes:"), and a contract test
 * checks those lines against this table.
 */
export const ReplyCode = {
  /** No live session under that id. */
  NOT_FOUND: 0,
  /** The stored value does not parse as a session. */
  MALFORMED: -1,
  /** The result would exceed a size limit; nothing was written. */
  TOO_LARGE: -2,
} as const;

export type ReplyCodeName = keyof typeof ReplyCode;

/** The error a failure code stands for (what: the part that was malformed or too large). */
export function codeError(code: number, what: string): Error {
  if (code === ReplyCode.MALFORMED) return new CorruptSessionError(what);
  if (code === ReplyCode.TOO_LARGE)
    return new InvalidInputError('patch', `the session's ${what} would exceed its limit`);
  return new CorruptSessionError(`unexpected script reply ${code}`);
}
