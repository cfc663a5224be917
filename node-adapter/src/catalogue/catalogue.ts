// The node's self-description for the federated catalogue. Every figure is
// disclosure-safe: counts rounded to a base no smaller than the threshold,
// codes listed only when at least `threshold` patients have them, ages and
// dates as percentiles so no single patient's extreme value is published.
import { normaliseCode } from '@tessera/schemas';
import type { CatalogueEntry, EventKind, LoadedConfig } from '@tessera/schemas';
import type { SqlRunner } from '../engine/runner.ts';
import type { OptOutCodes } from '../evaluate/opt-out.ts';
import { CODE_PATIENT_TABLES, EVENT_TABLES } from '../store/layout.ts';

/** The configuration's `catalogue` (its defaults filled in), with the node id and the policy's threshold. */
export type CatalogueSettings = LoadedConfig<'node-config'>['catalogue'] & {
  readonly nodeId: string;
  readonly threshold: number;
  /** The policy's opt-out codes, when the node leaves opted-out patients out of every answer. */
  readonly optOut?: OptOutCodes;
};

/** The entry's descriptive fields, from the node's settings (whatever the source). */
export function catalogueHeader(
  settings: CatalogueSettings,
): Pick<
  CatalogueEntry,
  'node' | 'title' | 'description' | 'publisher' | 'spatial' | 'appliesOptOut'
> {
  return {
    node: settings.nodeId,
    title: settings.title ?? `Tessera node ${settings.nodeId}`,
    description: settings.description,
    publisher: settings.publisher ?? { name: settings.nodeId },
    spatial: settings.spatial ?? settings.nodeId,
    appliesOptOut: settings.optOut !== undefined,
  };
}

/**
 * Rounds a count to the nearest multiple of `base` (at least the threshold's
 * order), never to a value that reveals a small count: 1..base-1 become base.
 * @example roundCount(1234, 10) // 1230
 */
export function roundCount(count: number, base: number): number {
  if (count <= 0) return 0;
  return Math.max(base, Math.round(count / base) * base);
}

function num(value: unknown): number {
  return typeof value === 'bigint' ? Number(value) : Number(value ?? 0);
}

/** Reads the store and describes it; `dataVersion` ties the entry to the data it describes. */
export async function buildCatalogue(
  runner: SqlRunner,
  settings: CatalogueSettings,
  dataVersion: string,
  asOf: string,
): Promise<CatalogueEntry> {
  const base = Math.max(10, settings.threshold);
  const kinds = Object.entries(EVENT_TABLES) as [EventKind, string][];
  // The opted-out are described no more than they are counted (evaluate/opt-out.ts).
  const optedOut = optedOutPatients(settings.optOut, asOf);
  const kept = (alias: string) =>
    optedOut === undefined ? 'TRUE' : `${alias}.patient_key NOT IN (${optedOut.sql})`;
  const keptParams = optedOut?.params ?? [];

  const [people] = await runner.all(
    `SELECT count(*) AS patients,
            quantile_disc(date_diff('year', birth_date, CAST(? AS DATE)), 0.05) AS min_age,
            quantile_disc(date_diff('year', birth_date, CAST(? AS DATE)), 0.95) AS max_age
       FROM patients p WHERE ${kept('p')}`,
    [asOf, asOf, ...keptParams],
  );
  const records = await runner.all(
    kinds
      .map(
        ([, table]) => `SELECT count(DISTINCT resource_id) AS n FROM ${table} e WHERE ${kept('e')}`,
      )
      .join(' UNION ALL '),
    kinds.flatMap(() => keptParams),
  );
  const [span] = await runner.all(
    `SELECT quantile_disc(event_date, 0.01) AS start, quantile_disc(event_date, 0.99) AS finish
       FROM (${kinds.map(([, t]) => `SELECT event_date FROM ${t} e WHERE ${kept('e')}`).join(' UNION ALL ')})
      WHERE event_date IS NOT NULL`,
    kinds.flatMap(() => keptParams),
  );
  const codeRows = await runner.all(
    kinds
      .map(
        ([kind]) =>
          `SELECT '${kind}' AS kind, system, code, count(*) AS patients
             FROM ${CODE_PATIENT_TABLES[kind]} e WHERE ${kept('e')} GROUP BY system, code HAVING count(*) >= ?`,
      )
      .join(' UNION ALL ') + ' ORDER BY patients DESC, kind, system, code LIMIT 5000',
    kinds.flatMap(() => [...keptParams, settings.threshold]),
  );

  // A code's name is the display most of its patients' records give it, and
  // only one that at least threshold patients' records carry: a name written
  // for one patient is never published.
  const displayRows = await runner.all(
    `SELECT system, code, display FROM code_displays WHERE patients >= ?
     QUALIFY row_number() OVER (PARTITION BY system, code ORDER BY patients DESC, display) = 1`,
    [settings.threshold],
  );
  const displays = new Map(
    displayRows.map((row) => [`${String(row.system)}|${String(row.code)}`, String(row.display)]),
  );
  const codes = codeRows.map((row) => {
    const display = displays.get(`${String(row.system)}|${String(row.code)}`);
    return {
      kind: row.kind as EventKind,
      system: String(row.system),
      code: String(row.code),
      ...(display === undefined ? {} : { display }),
      patients: roundCount(num(row.patients), base),
    };
  });
  // Dates come back as 'YYYY-MM-DD' strings; only the year is published.
  const year = (value: unknown): string | undefined =>
    typeof value === 'string' ? value.slice(0, 4) : undefined;
  const start = year(span?.start);
  const end = year(span?.finish);

  return {
    ...catalogueHeader(settings),
    ...(start && end ? { temporalCoverage: { start, end } } : {}),
    numberOfRecords: roundCount(
      records.reduce((sum, r) => sum + num(r.n), 0),
      base,
    ),
    numberOfUniqueIndividuals: roundCount(num(people?.patients), base),
    ...(num(people?.patients) >= settings.threshold && people?.min_age != null
      ? { minTypicalAge: num(people.min_age), maxTypicalAge: num(people.max_age) }
      : {}),
    hasCodingSystem: [...new Set(codes.map((c) => c.system))].sort(),
    healthTheme: [...settings.healthTheme],
    accessRights: settings.accessRights,
    ...(settings.contactPoint ? { contactPoint: { ...settings.contactPoint } } : {}),
    dataVersion,
    codes,
  };
}

/**
 * The patients whose active Consent denies one of the opt-out codes on
 * `asOf`, as a subquery and its parameters (the engine's consent rule,
 * engine/compile.ts).
 */
function optedOutPatients(
  codes: OptOutCodes | undefined,
  asOf: string,
): { readonly sql: string; readonly params: readonly (string | number)[] } | undefined {
  if (codes === undefined) return undefined;
  const pairs = codes.map(() => '(c.system = ? AND c.code = ?)').join(' OR ');
  return {
    sql:
      `SELECT c.patient_key FROM consents c WHERE c.decision = 'deny' AND (${pairs}) ` +
      `AND (c.period_start IS NULL OR c.period_start <= CAST(? AS DATE)) ` +
      `AND (c.period_end IS NULL OR c.period_end >= CAST(? AS DATE))`,
    params: [...codes.flatMap((c) => [c.system, normaliseCode(c.system, c.code)]), asOf, asOf],
  };
}
