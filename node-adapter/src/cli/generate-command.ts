// `tessera-node generate`: writes a synthetic region as Bulk Data NDJSON.
import { parseArgs } from 'node:util';
import { generateRegion } from '../generate/generate.ts';
import { isRegionId, REGION_IDS } from '../generate/regions.ts';
import { createProgressBar, formatBytes, formatCount } from '../ingest/progress-bar.ts';
import type { CommandIo } from './ingest-command.ts';

const HELP = `Usage: tessera-node generate --region <id> --patients <n> --seed <s> --out <dir> [options]

Writes a deterministic synthetic region as FHIR R4 Bulk Data NDJSON
(Patient.000.ndjson, Condition.000.ndjson, ...): the same arguments give the
same bytes. Earlier generated files in <dir> are replaced.

Options:
  --region <id>             one of ${REGION_IDS.join(', ')}
  --patients <n>            number of patients
  --seed <s>                integer seed, 0 to 4294967295
  --out <dir>               output directory (created if missing)
  --reference-date <date>   the data's "today", YYYY-MM-DD (default 2026-01-01)
  --lines-per-file <n>      start a new .NNN file after about n lines (default 1000000)
  -h, --help                show this help`;

const processIo: CommandIo = { stdout: process.stdout, stderr: process.stderr };

export async function runGenerate(argv: string[], io: CommandIo = processIo): Promise<number> {
  const usage = (message: string): number => {
    io.stderr.write(`tessera-node generate: ${message}\n\n${HELP}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        region: { type: 'string' },
        patients: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'reference-date': { type: 'string' },
        'lines-per-file': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return usage(err instanceof Error ? err.message : 'invalid arguments');
  }
  const { values } = parsed;
  if (values.help === true) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  const { region, out } = values;
  if (region === undefined || !isRegionId(region))
    return usage(`--region must be one of ${REGION_IDS.join(', ')}`);
  if (out === undefined) return usage('--out is required');
  const patients = integer(values.patients);
  if (patients === undefined) return usage('--patients must be a non-negative integer');
  const seed = integer(values.seed);
  if (seed === undefined || seed > 0xffffffff)
    return usage('--seed must be an integer from 0 to 4294967295');
  const referenceDate = values['reference-date'];
  if (referenceDate !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(referenceDate)) {
    return usage('--reference-date must be YYYY-MM-DD');
  }
  const linesPerFile =
    values['lines-per-file'] === undefined ? undefined : integer(values['lines-per-file']);
  if (
    linesPerFile === 0 ||
    (values['lines-per-file'] !== undefined && linesPerFile === undefined)
  ) {
    return usage('--lines-per-file must be a positive integer');
  }

  const bar = createProgressBar(io.stderr);
  let report;
  try {
    report = await generateRegion({
      region,
      patients,
      seed,
      outDir: out,
      ...(referenceDate === undefined ? {} : { referenceDate }),
      ...(linesPerFile === undefined ? {} : { linesPerFile }),
      onProgress: (done) =>
        bar.update(done, patients, `${formatCount(done)} / ${formatCount(patients)} patients`),
    });
  } catch (err) {
    bar.finish();
    io.stderr.write(`tessera-node generate: ${err instanceof Error ? err.message : 'failed'}\n`);
    return 1;
  }
  bar.finish();
  for (const [type, n] of Object.entries(report.resources))
    io.stdout.write(`${type}: ${formatCount(n)}\n`);
  io.stdout.write(
    `${formatCount(report.patients)} patients of ${region} in ${report.files.length} files ` +
      `(${formatBytes(report.bytes)}) in ${(report.elapsedMs / 1000).toFixed(1)} s\n`,
  );
  return 0;
}

function integer(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}
