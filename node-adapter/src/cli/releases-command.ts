// `tessera-node releases --state-dir <dir>`: what left this site. Prints the
// release ledger as JSON lines: every answer's time, project, researcher,
// query hash, data version, cost and released cells (never a true count).
import { parseArgs } from 'node:util';
import { exportReleases } from '../ledger/file-ledger.ts';

const HELP = `Usage: tessera-node releases --state-dir <dir> [--since <ISO date>] [--project <id>]

Prints every answer this node released, one JSON line each: time, project,
researcher, query hash, data version, privacy budget charged (epsilon) and the
released cells exactly as they left. True counts are never recorded.`;

export async function runReleases(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'state-dir': { type: 'string' },
      since: { type: 'string' },
      project: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values['state-dir'] === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const since = values.since === undefined ? undefined : new Date(values.since);
  if (since !== undefined && !Number.isFinite(since.getTime())) {
    console.error(`--since: not a date: ${values.since}`);
    return 2;
  }
  try {
    for await (const line of exportReleases(values['state-dir'], {
      ...(since === undefined ? {} : { since }),
      ...(values.project === undefined ? {} : { project: values.project }),
    })) {
      process.stdout.write(`${line}\n`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`no release ledger in ${values['state-dir']}`);
      return 1;
    }
    throw err;
  }
  return 0;
}
