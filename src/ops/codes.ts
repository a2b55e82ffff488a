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
