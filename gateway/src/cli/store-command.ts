// What the operators' commands on the gateway's store (`audit`, `keys`)
// share: where their lines go, usage errors, and opening a store that must
// already exist. Every failure is one line, never a stack trace or a
// connection string.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirInUseError, openStore, type Store, type StoreTarget } from '../store/index.ts';

export interface CommandIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export const consoleIo: CommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: process.env,
};

/** A failure whose message is the whole story for the operator. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Prints `<command>: <message>` and the usage; returns the misuse exit code, 2. */
export function usageError(io: CommandIo, command: string, message: string, usage: string): number {
  io.err(`${command}: ${message}\n\n${usage}`);
  return 2;
}

/** The message only: connection strings and stack traces stay out of the output. */
export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : 'unknown error';
}

/**
 * Opens the store at `target` without migrating, so a tool pointed at the
 * wrong place never creates or changes a schema there. A directory with no
 * database in it is refused before opening, which would create one.
 * `whenInUse` tells what to do when a running gateway holds a PGlite data
 * directory (one process at a time can open it).
 * @throws CommandError with one line to print.
 * @example const store = await openExistingStore({ dataDir }, 'stop the gateway first');
 */
export async function openExistingStore(target: StoreTarget, whenInUse: string): Promise<Store> {
  if ('dataDir' in target && !existsSync(join(target.dataDir, 'PG_VERSION'))) {
    throw new CommandError(`no gateway database in ${target.dataDir}`);
  }
  try {
    return await openStore(target, { migrate: false });
  } catch (err) {
    if (err instanceof DataDirInUseError) {
      throw new CommandError(
        `cannot open the store: the data directory ${err.dataDir} is in use by process ${err.pid} (a running gateway); ${whenInUse}`,
      );
    }
    throw new CommandError(`cannot open the store: ${describeError(err)}`);
  }
}
