// `tessera-node ingest`: loads FHIR NDJSON / Bundles into the node's store.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigError, ProblemError } from '@tessera/schemas';
import { readNodeConfig } from '../app/config.ts';
import { readingFromConfig } from '../ingest/reading.ts';
import { TooManyBadLinesError } from '../ingest/bad-lines-error.ts';
import { ingest } from '../ingest/ingest.ts';
import type { IngestReport } from '../ingest/ingest.ts';
import { createProgressBar, formatBytes, formatCount } from '../ingest/progress-bar.ts';
import type { TextOutput } from '../ingest/progress-bar.ts';

const HELP = `Usage: tessera-node ingest --source <dir or file>... --db <file.duckdb> [options]

Loads FHIR R4 Bulk Data NDJSON (Type.NNN.ndjson, optionally .gz) and FHIR
Bundles (.json) into the node's DuckDB store, replacing its data in one
transaction. Directories are searched recursively.

Options:
  --source <path>...       files or directories to read (repeatable)
  --db <file>              the DuckDB store to write
  --record-key <file>      the node's record key secret (default <db>.key;
                           32 random bytes are created, mode 0600, if absent)
  --config <file>          the node configuration, for its \`reading\` settings
                           (code-system aliases, unconfirmed Conditions)
  --max-bad-share <share>  largest tolerated share of malformed resources (default 0.01)
  --workers <n>            parser threads (default: one per core, at most 4)
  -h, --help               show this help

Exit codes: 0 loaded, 1 failed (store unchanged), 2 usage error.`;

export interface CommandIo {
  readonly stdout: TextOutput;
  readonly stderr: TextOutput;
}

const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };
const MAX_PRINTED_BAD_LINES = 20;

export async function runIngest(argv: string[], io: CommandIo = processIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`tessera-node ingest: ${message}\n\n${HELP}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        source: { type: 'string', multiple: true },
        db: { type: 'string' },
        'record-key': { type: 'string' },
        config: { type: 'string' },
        'max-bad-share': { type: 'string' },
        workers: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : 'invalid arguments');
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  // `--source a b c`: the values after the first are positionals.
  const sources = [...(values.source ?? []), ...positionals];
  if (sources.length === 0) return usage('--source is required');
  if (values.db === undefined) return usage('--db is required');
  const maxBadShare =
    values['max-bad-share'] === undefined ? 0.01 : Number(values['max-bad-share']);
  if (!(maxBadShare >= 0 && maxBadShare <= 1))
    return usage('--max-bad-share must be a number from 0 to 1');
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (workers !== undefined && !(Number.isInteger(workers) && workers >= 0 && workers <= 64)) {
    return usage('--workers must be an integer from 0 to 64');
  }

  const bar = createProgressBar(io.stderr);
  try {
    const secret = await loadOrCreateRecordKey(values['record-key'] ?? `${values.db}.key`);
    const reading =
      values.config === undefined
        ? undefined
        : readingFromConfig((await readNodeConfig(values.config)).reading);
    const report = await ingest({
      sources,
      dbPath: values.db,
      recordKeySecret: secret,
      ...(reading === undefined ? {} : { reading }),
      maxBadShare,
      ...(workers === undefined ? {} : { workers }),
      onProgress: (p) =>
        bar.update(
          p.bytes,
          p.totalBytes,
          `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}, ${formatCount(p.lines)} lines`,
        ),
    });
    bar.finish();
    printReport(report, io);
    return 0;
  } catch (err) {
    bar.finish();
    if (err instanceof TooManyBadLinesError) {
      io.stderr.write(`tessera-node ingest: ${err.title}: ${err.detail ?? ''}\n`);
      printBadLines(err.badLines, err.badLineCount, io);
      return 1;
    }
    if (err instanceof ConfigError) {
      io.stderr.write(`tessera-node ingest: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ProblemError) {
      io.stderr.write(
        `tessera-node ingest: ${err.title}${err.detail === undefined ? '' : `: ${err.detail}`}\n`,
      );
      return 1;
    }
    // Messages from lower layers may quote data; show them only when asked.
    const shown =
      process.env.TESSERA_DEBUG === '1' && err instanceof Error
        ? `: ${err.message}`
        : ' (set TESSERA_DEBUG=1 for details)';
    io.stderr.write(`tessera-node ingest: ingest failed, the store is unchanged${shown}\n`);
    return 1;
  }
}

/**
 * Reads the node's record key secret, creating 32 random bytes (mode 0600)
 * when the file does not exist. Refuses a key shorter than 16 bytes.
 */
export async function loadOrCreateRecordKey(path: string): Promise<Uint8Array> {
  try {
    await writeFile(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
  return new Uint8Array(await readFile(path));
}

function printReport(report: IngestReport, io: CommandIo): void {
  const out = io.stdout;
  for (const [type, c] of Object.entries(report.resources)) {
    const why = Object.entries(report.skippedReasons[type] ?? {})
      .map(([reason, n]) => `${formatCount(n)} ${reason}`)
      .join(', ');
    out.write(
      `${type}: ${formatCount(c.loaded)} loaded, ${formatCount(c.skipped)} skipped${why === '' ? '' : ` (${why})`}, ${formatCount(c.malformed)} malformed\n`,
    );
  }
  const rows = Object.entries(report.rows)
    .map(([table, n]) => `${table} ${formatCount(n)}`)
    .join(', ');
  out.write(`rows: ${rows}\n`);
  if (report.droppedEvents > 0)
    out.write(
      `dropped ${formatCount(report.droppedEvents)} ${report.droppedEvents === 1 ? 'resource' : 'resources'} ` +
        `(${formatCount(report.droppedRows)} event rows) of patients not in the sources\n`,
    );
  const rate =
    report.elapsedMs > 0 ? Math.round((report.total / report.elapsedMs) * 1000) : report.total;
  out.write(
    `${formatCount(report.total)} resources from ${report.files} files in ${(report.elapsedMs / 1000).toFixed(1)} s ` +
      `(${formatCount(rate)}/s); data version ${report.dataVersion}${report.changed ? '' : ' (unchanged)'}\n`,
  );
  printBadLines(report.badLines, report.badLineCount, io);
}

function printBadLines(lines: readonly string[], count: number, io: CommandIo): void {
  if (count === 0) return;
  io.stderr.write(`${formatCount(count)} malformed resources skipped:\n`);
  for (const line of lines.slice(0, MAX_PRINTED_BAD_LINES)) io.stderr.write(`  ${line}\n`);
  if (count > MAX_PRINTED_BAD_LINES)
    io.stderr.write(`  ... and ${formatCount(count - MAX_PRINTED_BAD_LINES)} more\n`);
}
