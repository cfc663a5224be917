// `tessera-node sync --config <file>`: refreshes the node's DuckDB store from
// its FHIR server, as the configuration's `sync` block says: Bulk Data
// `$export` when the server declares it (mode auto or bulk), incrementally
// (`_since`) when configured, paged search otherwise (mode search). The new
// data goes into a new file that replaces the store only when complete and
// changed (sync/harvest.ts).
import { readingFromConfig } from '../ingest/reading.ts';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, ProblemError } from '@tessera/schemas';
import { refreshStore } from '../sync/harvest.ts';
import type { SyncMode } from '../sync/harvest.ts';
import { resolveFhirAuth } from '../fhir-client/auth-config.ts';
import { loadOrCreateKeyFile } from '../store/key-file.ts';
import { readNodeConfig } from '../app/config.ts';

const HELP = `Usage: tessera-node sync --config <file> [--mode auto|bulk|search] [--full]

Refreshes the store named in the configuration's "sync" block (storePath)
from its FHIR server (baseUrl, auth). mode auto (the default) uses Bulk Data
$export when the server's CapabilityStatement declares it, paged search
otherwise. The new data is loaded into a new file next to the store and
renamed over it only when complete; a failed sync leaves the store and its
data version unchanged, and unchanged data keeps its data version.

By default every sync reads everything. With "incremental": true (Bulk Data
only) the last export is kept next to the store (<storePath>.export/,
owner-only) and the next export asks only for what changed _since it; the
changes and the deletions the server lists are merged into the kept export,
which is loaded as a whole. Servers need not list deletions, so use it only
with one that does; a full export still runs every "fullEveryHours" (24).

  --mode <mode>   overrides sync.mode
  --full          a full export even when sync.incremental is set
  -h, --help      show this help

Exit codes: 0 synced (or unchanged), 1 failed (store unchanged), 2 usage error.`;

export interface SyncIo {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

const processIo: SyncIo = { stdout: process.stdout, stderr: process.stderr };

function isMode(value: string): value is SyncMode {
  return value === 'auto' || value === 'bulk' || value === 'search';
}

export async function runSync(argv: string[], io: SyncIo = processIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`tessera-node sync: ${message}\n\n${HELP}\n`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        mode: { type: 'string' },
        full: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usage(err instanceof Error ? err.message : 'invalid arguments');
  }
  if (values.help === true) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (values.config === undefined) return usage('--config is required');
  if (values.mode !== undefined && !isMode(values.mode)) {
    return usage('--mode must be auto, bulk or search');
  }
  const configPath = resolve(values.config);
  const baseDir = dirname(configPath);
  const at = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  try {
    const config = await readNodeConfig(configPath);
    const sync = config.sync;
    if (sync === undefined) {
      io.stderr.write('tessera-node sync: the configuration has no "sync" block\n');
      return 1;
    }
    const recordKeySecret = await loadOrCreateKeyFile(
      at(config.recordKeyFile ?? `${sync.storePath}.key`),
    );
    const report = await refreshStore({
      baseUrl: sync.baseUrl,
      auth: await resolveFhirAuth(sync.auth, baseDir),
      storePath: at(sync.storePath),
      recordKeySecret,
      mode: values.mode ?? sync.mode,
      // Without incremental the kept export is removed, so --full keeps it and starts it afresh.
      incremental: sync.incremental,
      fullEveryMs: values.full === true ? 0 : sync.fullEveryHours * 3_600_000,
      reading: readingFromConfig(config.reading),
    });
    const rate =
      report.elapsedMs > 0 ? Math.round((report.resources / report.elapsedMs) * 1000) : 0;
    io.stdout.write(
      `${report.resources} resources by ${report.method === 'search' ? 'paged search' : report.since === undefined ? 'Bulk Data export' : `Bulk Data export of the changes since ${report.since}`} ` +
        `in ${(report.elapsedMs / 1000).toFixed(1)} s (${rate}/s); ` +
        (report.changed
          ? `store replaced, data version ${report.dataVersion}\n`
          : `data unchanged, data version ${report.dataVersion} kept\n`),
    );
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`tessera-node sync: ${err.message}\n`);
      return 1;
    }
    if (err instanceof ProblemError) {
      io.stderr.write(
        `tessera-node sync: ${err.title}${err.detail === undefined ? '' : `: ${err.detail}`}; the store is unchanged\n`,
      );
      return 1;
    }
    // Messages from lower layers may quote data; show them only when asked.
    const shown =
      process.env.TESSERA_DEBUG === '1' && err instanceof Error
        ? `: ${err.message}`
        : ' (set TESSERA_DEBUG=1 for details)';
    io.stderr.write(`tessera-node sync: sync failed, the store is unchanged${shown}\n`);
    return 1;
  }
}
