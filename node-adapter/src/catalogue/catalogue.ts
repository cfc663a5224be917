// The node's self-description for the federated catalogue. Every figure is
// disclosure-safe: counts rounded to a base no smaller than the threshold,
// codes listed only when at least `threshold` patients have them, ages and
// dates as percentiles so no single patient's extreme value is published.
import type { CatalogueEntry, EventKind, LoadedConfig } from '@tessera/schemas';
import type { SqlRunner } from '../engine/runner.ts';
import { CODE_PATIENT_TABLES, EVENT_TABLES } from '../store/layout.ts';

/** The configuration's `catalogue` (its defaults filled in), with the node id and the policy's threshold. */
export type CatalogueSettings = LoadedConfig<'node-config'>['catalogue'] & {
  readonly nodeId: string;
  readonly threshold: number;
  /** Whether the node's policy leaves opted-out patients out of every answer. */
  readonly appliesOptOut: boolean;
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
    appliesOptOut: settings.appliesOptOut,
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

  const [people] = await runner.all(
    `SELECT count(*) AS patients,
            quantile_disc(date_diff('year', birth_date, CAST(? AS DATE)), 0.05) AS min_age,
            quantile_disc(date_diff('year', birth_date, CAST(? AS DATE)), 0.95) AS max_age
       FROM patients`,
    [asOf, asOf],
  );
  const records = await runner.all(
    kinds
      .map(([, table]) => `SELECT count(DISTINCT resource_id) AS n FROM ${table}`)
      .join(' UNION ALL '),
    [],
  );
  const [span] = await runner.all(
    `SELECT quantile_disc(event_date, 0.01) AS start, quantile_disc(event_date, 0.99) AS finish
       FROM (${kinds.map(([, t]) => `SELECT event_date FROM ${t}`).join(' UNION ALL ')})
      WHERE event_date IS NOT NULL`,
    [],
  );
  const codeRows = await runner.all(
    kinds
      .map(
        ([kind]) =>
          `SELECT '${kind}' AS kind, system, code, count(*) AS patients
             FROM ${CODE_PATIENT_TABLES[kind]} GROUP BY system, code HAVING count(*) >= ?`,
      )
      .join(' UNION ALL ') + ' ORDER BY patients DESC, kind, system, code LIMIT 5000',
    kinds.map(() => settings.threshold),
  );

  const codes = codeRows.map((row) => ({
    kind: row.kind as EventKind,
    system: String(row.system),
    code: String(row.code),
    patients: roundCount(num(row.patients), base),
  }));
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
