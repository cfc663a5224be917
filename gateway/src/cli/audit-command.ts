// `tessera-gateway audit verify`: checks the gateway's hash-chained audit log
// (threat 36) and names the first entry that was edited, deleted, moved or
// cut off. It opens the store without migrating, so pointing it at the wrong
// database reports an error instead of creating an empty, "valid" log.
import { parseArgs } from 'node:util';
import type { AuditBreak } from '@tessera/schemas';
import type { StoreTarget } from '../store/index.ts';
import {
  type CommandIo,
  consoleIo,
  describeError,
  openExistingStore,
  usageError as printUsageError,
} from './store-command.ts';

const USAGE = `Usage: tessera-gateway audit verify [--data-dir <dir> | --database-url <url>]

Verifies the gateway's audit log against its stored head. Prints "ok" and the
number of entries, or the first bad entry and why (edited, deleted, reordered,
truncated, broken-link), and then exits 1.

Options:
  --data-dir <dir>       the gateway's PGlite data directory (the gateway must be stopped)
  --database-url <url>   a PostgreSQL URL (default: $DATABASE_URL)
  -h, --help             show this help`;

const EXPLAIN: Readonly<Record<AuditBreak, string>> = {
  edited: 'its content does not match its hash',
  deleted: 'an entry is missing here',
  reordered: 'an entry from another position is here',
  truncated: 'entries up to the stored head are missing from here on',
  'broken-link': 'it does not chain from the entry before it, or lies past the stored head',
};

export type AuditCommandIo = CommandIo;

/**
 * Runs `audit <argv…>` (argv starts after `audit`) and returns the exit code:
 * 0 sound, 1 broken or unreadable, 2 usage error.
 */
export async function runAudit(
  argv: readonly string[],
  io: AuditCommandIo = consoleIo,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    return usageError(io, err instanceof Error ? err.message : 'invalid arguments');
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.out(USAGE);
    return 0;
  }
  const [subcommand, ...rest] = positionals;
  if (subcommand !== 'verify' || rest.length > 0) {
    return usageError(
      io,
      subcommand === undefined
        ? 'missing subcommand'
        : `unknown subcommand "${positionals.join(' ')}"`,
    );
  }

  const dataDir = values['data-dir'];
  const databaseUrl =
    values['database-url'] ?? (dataDir === undefined ? io.env.DATABASE_URL : undefined);
  if (dataDir !== undefined && values['database-url'] !== undefined) {
    return usageError(io, 'give --data-dir or --database-url, not both');
  }
  let target: StoreTarget;
  if (dataDir !== undefined) {
    target = { dataDir };
  } else if (databaseUrl !== undefined && databaseUrl !== '') {
    target = { databaseUrl };
  } else {
    return usageError(io, 'give --data-dir or --database-url (or set DATABASE_URL)');
  }

  let store;
  try {
    store = await openExistingStore(target, 'stop it first');
  } catch (err) {
    io.err(`audit: ${describeError(err)}`);
    return 1;
  }
  try {
    const result = await store.verifyAudit();
    if (result.ok) {
      io.out(`ok: ${result.count} audit ${result.count === 1 ? 'entry' : 'entries'} verified`);
      return 0;
    }
    io.err(`audit: broken at entry ${result.index}: ${result.reason} (${EXPLAIN[result.reason]})`);
    return 1;
  } catch (err) {
    io.err(`audit: cannot read the audit log: ${describeError(err)}`);
    return 1;
  } finally {
    await store.close();
  }
}

function usageError(io: AuditCommandIo, message: string): number {
  return printUsageError(io, 'audit', message, USAGE);
}
