// From staging CSV files to the store: DuckDB reads the files with its
// parallel CSV reader, resolves Medication references, and one transaction
// replaces the store's tables with sorted contents. Until that transaction
// commits, readers see the previous data; a rejected run never reaches it.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { EventKind } from '@tessera/schemas';
import { CODE_PATIENT_TABLES, DDL, EVENT_TABLES, META } from '../store/layout.ts';
import { STAGING_COLUMNS } from './csv-rows.ts';
import type { SourcePosition, StagingTable } from './csv-rows.ts';

const KINDS = Object.keys(EVENT_TABLES) as EventKind[];

/** Every store table ingest replaces. */
export const DATA_TABLES: readonly string[] = [
  'patients',
  ...KINDS.map((kind) => EVENT_TABLES[kind]),
  'observation_value_codes',
  'consents',
  ...KINDS.map((kind) => CODE_PATIENT_TABLES[kind]),
  'code_displays',
];

export type StagingFiles = Readonly<Partial<Record<StagingTable, readonly string[]>>>;

export interface PublishMeta {
  readonly contentHash: string;
  readonly dataVersion: string;
  readonly ingestedAt: string;
  /** The code-system alias table the rows were read with (JSON). */
  readonly codeSystemAliases: string;
}

/** A medication event whose Medication was never found, and where it was read. */
export interface UnresolvedReference extends SourcePosition {
  readonly resourceType: string;
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** `read_csv(...)` over staging files of one table, with the table's fixed columns. */
export function readCsv(table: StagingTable, files: readonly string[]): string {
  const columns = STAGING_COLUMNS[table].map(([name, type]) => `${sqlString(name)}: '${type}'`);
  return (
    `read_csv([${files.map(sqlString).join(', ')}], columns = {${columns.join(', ')}}, ` +
    `header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', ` +
    `allow_quoted_nulls = false)`
  );
}

/**
 * Loads Medication references and codes into connection-local tables and
 * returns the references no Medication answered, in source order.
 */
export async function stageMedications(
  c: DuckDBConnection,
  files: StagingFiles,
): Promise<UnresolvedReference[]> {
  const refs = files.medication_refs ?? [];
  const codes = files.medication_codes ?? [];
  await c.run(
    refs.length > 0
      ? `CREATE OR REPLACE TEMP TABLE stage_medication_refs AS SELECT * FROM ${readCsv('medication_refs', refs)}`
      : `CREATE OR REPLACE TEMP TABLE stage_medication_refs (${columnDefs('medication_refs')})`,
  );
  // The same Medication may arrive twice (two Bundles, say): one row per code.
  await c.run(
    codes.length > 0
      ? `CREATE OR REPLACE TEMP TABLE stage_medication_codes AS SELECT DISTINCT * FROM ${readCsv('medication_codes', codes)}`
      : `CREATE OR REPLACE TEMP TABLE stage_medication_codes (${columnDefs('medication_codes')})`,
  );
  const unresolved = await c.runAndReadAll(`
    SELECT file_index, segment, line, resource_type FROM stage_medication_refs r
     WHERE NOT EXISTS (SELECT 1 FROM stage_medication_codes m WHERE m.medication_id = r.medication_id)
     ORDER BY file_index, segment, line`);
  return unresolved.getRowObjects().map((row) => ({
    fileIndex: Number(row.file_index),
    segment: Number(row.segment),
    line: Number(row.line),
    resourceType: String(row.resource_type),
  }));
}

const RESOLVED_MEDICATIONS = `(
  SELECT r.file_index, r.segment, r.line, r.resource_id, r.patient_id, r.event_date, m.system, m.code
    FROM stage_medication_refs r JOIN stage_medication_codes m USING (medication_id)
   WHERE m.system IS NOT NULL AND m.code IS NOT NULL)`;

// A Condition dated by onsetAge: the birth date plus the age (months first,
// clamped to the month's end, then days: ingest/fhir.ts addAgeSpan), else
// its recordedDate.
const CONDITION_DATE = `COALESCE(s.event_date, CASE WHEN s.onset_months IS NOT NULL AND p.birth_date IS NOT NULL
  THEN CAST(p.birth_date + to_months(s.onset_months) + to_days(s.onset_days) AS DATE) END, s.recorded_date)`;

function columnDefs(table: StagingTable): string {
  return STAGING_COLUMNS[table].map(([name, type]) => `${name} ${type}`).join(', ');
}

/** Staged rows per staging table, as the CSV writers counted them. */
export type StagedRows = Readonly<Partial<Record<StagingTable, number>>>;

/** What a load would store, checked before it commits. */
export interface LoadOutcome {
  readonly patients: number;
  /** Event rows kept: their patient is in the load. */
  readonly eventRows: number;
  /** Event rows dropped for want of their patient. */
  readonly droppedRows: number;
  /**
   * Events kept: distinct resources, whatever number of codes (rows) each
   * has. Counted only when an event was dropped (a scan of every event
   * table); 0 otherwise, when nothing compares with it.
   */
  readonly events: number;
  /** Events and Consents dropped for want of their patient, as resources. */
  readonly droppedEvents: number;
}

/**
 * Replaces the store's tables with the staged rows in one transaction: one
 * row per patient (the first read wins) numbered by patient_id, events of
 * unknown patients dropped by the join that gives events their patient key,
 * event tables sorted by (system, code, patient_key) so zone maps prune, each
 * with its code index, then a checkpoint. Call stageMedications first.
 * `check` sees what the load would store before it commits; what it throws
 * rolls the load back.
 * @returns rows per store table, and the event rows and resources dropped for want of their patient.
 */
export async function publish(
  c: DuckDBConnection,
  files: StagingFiles,
  stagedRows: StagedRows,
  meta: PublishMeta,
  check: (outcome: LoadOutcome) => void = () => undefined,
): Promise<{ rows: Record<string, number>; droppedRows: number; droppedEvents: number }> {
  const source = (table: StagingTable): string | undefined => {
    const list = files[table] ?? [];
    return list.length > 0 ? readCsv(table, list) : undefined;
  };
  // Resources, not rows, weigh a loss: an event has one row per code, so a
  // Medication with four codes would otherwise outweigh four events of one code.
  const orphans = (staged: string) =>
    countRows(
      c,
      `SELECT count(DISTINCT s.resource_id) FROM (${staged}) s ` +
        `WHERE NOT EXISTS (SELECT 1 FROM patients p WHERE p.patient_id = s.patient_id)`,
    );
  let droppedRows = 0;
  let eventRows = 0;
  let droppedEvents = 0;
  await c.run('BEGIN TRANSACTION');
  try {
    for (const table of DATA_TABLES) await c.run(`DROP TABLE IF EXISTS ${table}`);
    await c.run(DDL);
    const patients = source('patients');
    if (patients !== undefined) {
      await c.run(`
        INSERT INTO patients
        SELECT CAST(row_number() OVER (ORDER BY patient_id) - 1 AS INTEGER),
               patient_id, gender, birth_date, deceased, deceased_date, record_key
          FROM ${patients}
        QUALIFY row_number() OVER (PARTITION BY patient_id ORDER BY file_index, segment, line) = 1
         ORDER BY patient_id`);
    }
    // (system, code) first so zone maps prune; then the patient, and where
    // each row was read, which makes the order total and the same on every run.
    const order = 'ORDER BY s.system, s.code, p.patient_key, s.file_index, s.segment, s.line';
    for (const kind of KINDS) {
      const table = EVENT_TABLES[kind];
      const columns = `p.patient_key, s.resource_id, ${kind === 'condition' ? CONDITION_DATE : 's.event_date'}, s.system, s.code${kind === 'observation' ? ', s.value, s.unit, s.component' : ''}`;
      const parts: string[] = [];
      let staged = stagedRows[table as StagingTable] ?? 0;
      const csv = source(table as StagingTable);
      if (csv !== undefined) parts.push(`SELECT * FROM ${csv}`);
      if (kind === 'medication') {
        parts.push(`SELECT * FROM ${RESOLVED_MEDICATIONS}`);
        staged += await countRows(c, `SELECT count(*) FROM ${RESOLVED_MEDICATIONS}`);
      }
      if (parts.length === 0) continue;
      const inserted = await countRows(
        c,
        `INSERT INTO ${table} SELECT ${columns} FROM (${parts.join(' UNION ALL ')}) s ` +
          `JOIN patients p ON p.patient_id = s.patient_id ${order}`,
      );
      droppedRows += staged - inserted;
      eventRows += inserted;
      if (staged > inserted) droppedEvents += await orphans(parts.join(' UNION ALL '));
      await c.run(
        `INSERT INTO ${CODE_PATIENT_TABLES[kind]} SELECT e.system, e.code, e.patient_key, p.record_key ` +
          `FROM (SELECT DISTINCT system, code, patient_key FROM ${table}) e ` +
          `JOIN patients p ON p.patient_key = e.patient_key ORDER BY e.system, e.code, e.patient_key`,
      );
    }
    const consents = source('consents');
    if (consents !== undefined) {
      // Consents of unknown patients are dropped by the join, like events.
      const inserted = await countRows(
        c,
        `INSERT INTO consents SELECT p.patient_key, s.resource_id, s.decision, s.period_start, ` +
          `s.period_end, s.system, s.code FROM ${consents} s JOIN patients p ON p.patient_id = s.patient_id ${order}`,
      );
      droppedRows += (stagedRows.consents ?? 0) - inserted;
      if ((stagedRows.consents ?? 0) > inserted)
        droppedEvents += await orphans(`SELECT * FROM ${consents}`);
    }
    const valueCodes = source('observation_value_codes');
    if (valueCodes !== undefined) {
      await c.run(`
        INSERT INTO observation_value_codes
        SELECT resource_id, component, system, code FROM ${valueCodes}
         WHERE patient_id IN (SELECT patient_id FROM patients)
         ORDER BY system, code, file_index, segment, line`);
    }
    let events = 0;
    if (droppedEvents > 0) {
      for (const kind of KINDS) {
        events += await countRows(
          c,
          `SELECT count(DISTINCT resource_id) FROM ${EVENT_TABLES[kind]}`,
        );
      }
    }
    check({
      patients: await countRows(c, 'SELECT count(*) FROM patients'),
      eventRows,
      droppedRows,
      events,
      droppedEvents,
    });
    const displays = source('code_displays');
    if (displays !== undefined) {
      await c.run(`
        INSERT INTO code_displays
        SELECT system, code, display, CAST(count(DISTINCT patient_id) AS INTEGER)
          FROM ${displays}
         WHERE patient_id IN (SELECT patient_id FROM patients)
         GROUP BY system, code, display
         ORDER BY system, code, display`);
    }
    for (const [key, value] of [
      [META.contentHash, meta.contentHash],
      [META.dataVersion, meta.dataVersion],
      [META.ingestedAt, meta.ingestedAt],
      [META.codeSystemAliases, meta.codeSystemAliases],
    ] as const) {
      await c.run('INSERT OR REPLACE INTO meta VALUES (?, ?)', [key, value]);
    }
    await c.run('COMMIT');
  } catch (err) {
    await c.run('ROLLBACK');
    throw err;
  }
  await c.run('CHECKPOINT');
  const counts = await c.runAndReadAll(
    DATA_TABLES.map((t) => `SELECT '${t}' AS t, count(*) AS n FROM ${t}`).join(' UNION ALL '),
  );
  const rows: Record<string, number> = {};
  for (const row of counts.getRowObjects()) rows[String(row.t)] = Number(row.n);
  return { rows, droppedRows, droppedEvents };
}

/** The single number a count query (or an INSERT's row count) returns. */
async function countRows(c: DuckDBConnection, sql: string): Promise<number> {
  const result = await c.runAndReadAll(sql);
  return Number(result.getRows()[0]?.[0] ?? 0);
}

/** Drops the connection-local staging tables. */
export async function dropStaging(c: DuckDBConnection): Promise<void> {
  await c.run('DROP TABLE IF EXISTS stage_medication_refs');
  await c.run('DROP TABLE IF EXISTS stage_medication_codes');
}

/** The meta table's current values. */
export async function readMeta(c: DuckDBConnection): Promise<Map<string, string>> {
  const reader = await c.runAndReadAll('SELECT key, value FROM meta');
  return new Map(reader.getRowObjects().map((row) => [String(row.key), String(row.value)]));
}
