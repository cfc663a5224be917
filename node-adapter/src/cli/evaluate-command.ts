// `tessera-node evaluate`: answers one query from a store on the command
// line, through the same validation and disclosure control as the API.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  ConfigError,
  ProblemError,
  canonicalQuery,
  parseJsonBody,
  parseQuery,
  pinAsOf,
  queryHash,
  toCsv,
  toMeasureReport,
} from '@tessera/schemas';
import { assertReleasable } from '../disclosure/output-check.ts';
import { resolvePolicy } from '../app/config.ts';
import { createDisclosureControl } from '../disclosure/control.ts';
import { toNodeResult } from '../evaluate/evaluator.ts';
import { openDuckDbSource } from '../sources/duckdb-source.ts';

const HELP = `Usage: tessera-node evaluate --db <file.duckdb> --query <q.json> [options]

  --policy <file>|open   disclosure policy (default: the default policy, threshold 10;
                         noise is drawn with a one-off key and no budget is kept);
                         "open" releases true counts and needs --allow-open-policy
  --allow-open-policy    accept the open policy (local testing only)
  --format json|measure-report|csv   output (default json: the NodeResult)
  --node <id>            node id to report (default "local")`;

export async function runEvaluate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      query: { type: 'string' },
      policy: { type: 'string' },
      'allow-open-policy': { type: 'boolean' },
      format: { type: 'string', default: 'json' },
      node: { type: 'string', default: 'local' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || values.db === undefined || values.query === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  const allowOpen = values['allow-open-policy'] === true;
  try {
    // Read as the service reads its own: a name twice in one object is refused (threat 50).
    const policy = await resolvePolicy(values.policy ?? {}, process.cwd(), allowOpen);
    // A one-off noise key: the operator's own look at their data, outside any budget.
    const control = createDisclosureControl(policy, randomBytes(32));
    const query = parseQuery(parseJsonBody(await readFile(values.query)), control.limits);
    const evaluable = pinAsOf(canonicalQuery(query), new Date());
    control.check(evaluable, '');
    const sourceQuery = { ...evaluable, summaryBounds: control.summaryBounds(evaluable) };
    const source = await openDuckDbSource(values.db);
    try {
      const started = performance.now();
      const hash = queryHash(evaluable);
      const released = control.protect(
        await source.evaluate(sourceQuery, new AbortController().signal),
        sourceQuery,
        { queryHash: hash, dataVersion: source.version },
      );
      const result = toNodeResult(
        {
          node: values.node ?? 'local',
          queryHash: hash,
          dataVersion: source.version,
          evaluatedAt: new Date().toISOString(),
          elapsedMs: Math.round((performance.now() - started) * 100) / 100,
        },
        released,
      );
      assertReleasable(result);
      switch (values.format) {
        case 'csv':
          process.stdout.write(toCsv(result));
          break;
        case 'measure-report':
          console.log(
            JSON.stringify(
              toMeasureReport(result, {
                date: result.evaluatedAt,
                reporter: result.node,
                asOf: evaluable.asOf,
              }),
              null,
              2,
            ),
          );
          break;
        default:
          console.log(JSON.stringify(result, null, 2));
      }
      return 0;
    } finally {
      source.close();
    }
  } catch (err) {
    if (err instanceof ProblemError) {
      console.error(
        `tessera-node: ${err.code}${err.pointer === undefined ? '' : ` at ${err.pointer || '/'}`}: ${err.detail ?? err.title}`,
      );
      return 1;
    }
    if (err instanceof ConfigError || err instanceof SyntaxError) {
      console.error(`tessera-node: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
