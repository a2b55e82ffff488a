#!/usr/bin/env node
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { aclRules, expressAclRules } from '../acl.js';
import { ConfigurationError, InvalidInputError, SessionStoreError, StoreUnavailableError } from '../errors.js';
import type { Session } from '../types.js';
import { renderChecks, runChecks } from './check.js';
import { EXIT, openAdmin, openStore, UsageError, type Io, type Target } from './context.js';
import { collectStats } from './stats.js';

const USAGE = `Usage: redis-session-store <command> [options]

Commands:
  check                                   is this Redis set up safely for sessions?
  stats [--sample N]                      sessions, users, expired entries, bytes per session
  user <userId>                           the user's live sessions (public ids, never tokens)
  revoke <userId> [--except <sessionId>]  end all of the user's sessions (but one)
  revoke <userId> --session <sessionId>   end one session
  acl [--prefix P ...] [--cache] [--express] [--user NAME]
                                          the ACL SETUSER line for a least-privilege user
                                          (--express: for the express-session adapter)

Options:
  --url URL      Redis URL (default REDIS_URL; comma-separated URLs: a Cluster)
  --prefix P     key prefix (default SESSION_KEY_PREFIX, else session:)
  --tls-ca F, --tls-cert F, --tls-key F
                 PEM files for TLS (with a rediss:// URL)
  --json         machine-readable output on stdout
  --yes          revoke without asking
  --help         this text

A user id that starts with '-' goes after '--': revoke -- -alice.

Exit codes: 0 ok, 1 not found or a failed check, 2 usage error, 3 Redis unreachable.`;

const OPTIONS = {
  url: { type: 'string' },
  prefix: { type: 'string', multiple: true },
  json: { type: 'boolean' },
  yes: { type: 'boolean' },
  help: { type: 'boolean' },
  sample: { type: 'string' },
  except: { type: 'string' },
  session: { type: 'string' },
  cache: { type: 'boolean' },
  express: { type: 'boolean' },
  user: { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

/**
 * Public session ids are base64url and start with '-' one time in 64, which parseArgs would
 * take for an option: a string option takes the next argument, whatever it starts with.
 */
function withValuesJoined(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...out, ...argv.slice(i)];
    const option = arg.startsWith('--') ? (OPTIONS as Record<string, { type: string }>)[arg.slice(2)] : undefined;
    if (option?.type === 'string' && i + 1 < argv.length) out.push(`${arg}=${argv[++i]!}`);
    else out.push(arg);
  }
  return out;
}

type Parsed = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>;

/** Runs one command line and returns its exit code. Nothing is sent to Redis before the arguments check out. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: withValuesJoined(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`redis-session-store: ${(err as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined) {
    (values.help === true ? io.out : io.err)(USAGE);
    return values.help === true ? EXIT.ok : EXIT.usage;
  }
  try {
    return await dispatch(command, rest, values, io);
  } catch (err) {
    return report(err, io);
  }
}

async function dispatch(command: string, rest: string[], values: Parsed['values'], io: Io): Promise<number> {
  const prefixes = values.prefix ?? [];
  if (command !== 'acl' && prefixes.length > 1) throw new UsageError('--prefix: give one prefix');
  const target: Target = {
    url: values.url,
    prefix: prefixes[0],
    tlsCa: values['tls-ca'],
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
  };
  const json = values.json === true;
  const print = (value: unknown, text: string) => io.out(json ? JSON.stringify(value, null, 2) : text);
  switch (command) {
    case 'acl': {
      noPositionals(rest, 'acl');
      const user = values.user ?? 'sessions';
      if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(user)) throw new UsageError('--user: letters, digits, _ . : - only');
      const cache = { cache: values.cache === true };
      const rules =
        values.express === true
          ? expressAclRules(prefixes.length === 0 ? ['sess:'] : prefixes, cache)
          : aclRules(prefixes.length === 0 ? ['session:'] : prefixes, cache);
      print({ user, rules }, `ACL SETUSER ${user} reset on ><password> ${rules.join(' ')}`);
      return EXIT.ok;
    }
    case 'check': {
      noPositionals(rest, 'check');
      const { client, options } = await openAdmin(target);
      try {
        const checks = await runChecks(client, options.keyPrefix);
        print({ checks }, renderChecks(checks));
        return checks.some((c) => c.verdict === 'fail') ? EXIT.notFound : EXIT.ok;
      } finally {
        await client.close();
      }
    }
    case 'stats': {
      noPositionals(rest, 'stats');
      const sample = values.sample === undefined ? undefined : Number(values.sample);
      if (sample !== undefined && (!Number.isSafeInteger(sample) || sample < 1)) {
        throw new UsageError('--sample: a whole number of keys, 1 or more');
      }
      const { client, options } = await openAdmin(target);
      try {
        const stats = await collectStats(client, options.keyPrefix, sample, (scanned, total) => {
          if (io.interactive && !json)
            io.err(`\rscanning: ${scanned.toLocaleString('en')} of ${total.toLocaleString('en')} keys`);
        });
        if (io.interactive && !json) io.err('\n');
        const about = stats.estimated ? `~` : '';
        print(
          { prefix: options.keyPrefix, ...stats },
          [
            `server ${stats.server}`,
            `prefix ${options.keyPrefix}${stats.estimated ? ` (estimated from ${(stats.scannedFraction * 100).toFixed(1)}% of the keys)` : ''}`,
            `sessions          ${about}${stats.sessions.toLocaleString('en')}`,
            `users             ${about}${stats.users.toLocaleString('en')}`,
            `expired, unpruned ${about}${stats.expiredUnpruned.toLocaleString('en')}`,
            `bytes per session ${stats.bytesPerSession === null ? '-' : stats.bytesPerSession.toLocaleString('en')}`,
          ].join('\n'),
        );
        return EXIT.ok;
      } finally {
        await client.close();
      }
    }
    case 'user': {
      const userId = onePositional(rest, 'user <userId>');
      const store = await openStore(target);
      try {
        const sessions = await store.listUserSessions(userId);
        print(sessions.map(publicView), sessions.length === 0 ? 'no live sessions' : table(sessions));
        return sessions.length === 0 ? EXIT.notFound : EXIT.ok;
      } finally {
        await store.close();
      }
    }
    case 'revoke':
      return revoke(onePositional(rest, 'revoke <userId>'), values, target, io, print);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command.slice(0, 40))}`);
  }
}

async function revoke(
  userId: string,
  values: Parsed['values'],
  target: Target,
  io: Io,
  print: (value: unknown, text: string) => void,
): Promise<number> {
  if (values.session !== undefined && values.except !== undefined) {
    throw new UsageError('give --session or --except, not both');
  }
  const store = await openStore(target);
  try {
    const live = await store.listUserSessions(userId);
    const ending =
      values.session !== undefined
        ? live.filter((s) => s.id === values.session)
        : live.filter((s) => s.id !== values.except);
    if (ending.length === 0) {
      print({ destroyed: [] }, 'no live session to end');
      return EXIT.notFound;
    }
    if (io.interactive && values.yes !== true) {
      const what = ending.length === 1 ? `session ${ending[0]!.id}` : `${ending.length} sessions`;
      if (!(await io.confirm(`End ${what} of this user? [y/N] `))) {
        print({ destroyed: [] }, 'nothing done');
        return EXIT.notFound;
      }
    }
    let destroyed: string[];
    if (values.session !== undefined) {
      destroyed = (await store.revokeSession(userId, values.session)) ? [values.session] : [];
    } else {
      const n = await store.destroyUserSessions(
        userId,
        values.except === undefined ? {} : { exceptSessionId: values.except },
      );
      destroyed = ending.slice(0, n).map((s) => s.id);
      // Sessions created meanwhile are ended too; the count is what the store destroyed.
      if (n > ending.length) destroyed.push(`(+${n - ending.length} created meanwhile)`);
    }
    print({ destroyed }, destroyed.length === 0 ? 'no live session to end' : `ended:\n${destroyed.join('\n')}`);
    return destroyed.length === 0 ? EXIT.notFound : EXIT.ok;
  } finally {
    await store.close();
  }
}

function publicView(s: Session) {
  return {
    id: s.id,
    createdAt: new Date(s.createdAt).toISOString(),
    lastAccessedAt: new Date(s.lastAccessedAt).toISOString(),
    expiresAt: new Date(s.expiresAt).toISOString(),
    metadata: s.metadata,
  };
}

function table(sessions: readonly Session[]): string {
  const rows = sessions.map((s) => {
    const v = publicView(s);
    return [v.id, v.createdAt, v.lastAccessedAt, v.expiresAt, JSON.stringify(v.metadata)];
  });
  const head = ['id', 'created', 'last access', 'expires', 'metadata'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function noPositionals(rest: readonly string[], command: string): void {
  if (rest.length > 0) throw new UsageError(`${command} takes no arguments`);
}

function onePositional(rest: readonly string[], usage: string): string {
  if (rest.length !== 1) throw new UsageError(`usage: redis-session-store ${usage}`);
  return rest[0]!;
}

/** One line per failure, never a stack trace; the exit code says which kind. */
function report(err: unknown, io: Io): number {
  if (err instanceof UsageError || err instanceof InvalidInputError || err instanceof ConfigurationError) {
    io.err(`redis-session-store: ${err.message}`);
    return EXIT.usage;
  }
  if (err instanceof StoreUnavailableError) {
    io.err(`redis-session-store: Redis unreachable: ${err.message}`);
    return EXIT.unreachable;
  }
  const message = err instanceof SessionStoreError ? `${err.code}: ${err.message}` : String(err);
  io.err(`redis-session-store: ${message.split('\n')[0]}`);
  return err instanceof SessionStoreError && err.code.startsWith('STORE_') ? EXIT.unreachable : EXIT.notFound;
}

const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(text.startsWith('\r') || text === '\n' ? text : `${text}\n`),
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
  async confirm(question) {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return /^y(es)?$/i.test((await rl.question(question)).trim());
    } finally {
      rl.close();
    }
  },
};

// Run when executed (the package's bin), not when imported.
if (process.argv[1] !== undefined && import.meta.filename === (await import('node:fs')).realpathSync(process.argv[1])) {
  process.exitCode = await run(process.argv.slice(2), processIo);
}
