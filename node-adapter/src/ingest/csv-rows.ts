// Flattened resources as CSV rows of the staging files DuckDB loads with its
// parallel CSV reader. Pure: the column lists here and the row encoders
// below are the two halves of one contract, kept side by side.
import type { EventKind } from '@tessera/schemas';
import { EVENT_TABLES } from '../store/layout.ts';
import type { FlatConsent } from './consent.ts';
import type { FlatCoding } from './fhir.ts';
import type { FlatEvent, FlatMedication, FlatPatient } from './flatten.ts';

/** Where a resource was read: file, segment of the file, line (or Bundle entry) in the segment. */
export interface SourcePosition {
  readonly fileIndex: number;
  readonly segment: number;
  readonly line: number;
}

// Where each row was read: with (system, code) it orders rows totally, so
// the sorted tables come out the same on every run, and integers sort far
// faster than the id strings would.
const POSITION_COLUMNS = [
  ['file_index', 'UINTEGER'],
  ['segment', 'UINTEGER'],
  ['line', 'UINTEGER'],
] as const;

const EVENT_COLUMNS = [
  ...POSITION_COLUMNS,
  ['resource_id', 'VARCHAR'],
  ['patient_id', 'VARCHAR'],
  ['event_date', 'DATE'],
  ['system', 'VARCHAR'],
  ['code', 'VARCHAR'],
] as const;

/** Staging files and their columns (name, DuckDB type), in row order. */
export const STAGING_COLUMNS = Object.freeze({
  patients: [
    ...POSITION_COLUMNS,
    ['patient_id', 'VARCHAR'],
    ['gender', 'VARCHAR'],
    ['birth_date', 'DATE'],
    ['deceased', 'BOOLEAN'],
    ['deceased_date', 'DATE'],
    ['record_key', 'UINTEGER'],
  ],
  // A Condition dated by onsetAge: the age, added to the birth date at
  // publishing, and the recordedDate for a patient without one.
  conditions: [
    ...EVENT_COLUMNS,
    ['onset_months', 'INTEGER'],
    ['onset_days', 'INTEGER'],
    ['recorded_date', 'DATE'],
  ],
  procedures: EVENT_COLUMNS,
  medications: EVENT_COLUMNS,
  immunizations: EVENT_COLUMNS,
  encounters: EVENT_COLUMNS,
  observations: [
    ...EVENT_COLUMNS,
    ['value', 'DOUBLE'],
    ['unit', 'VARCHAR'],
    ['component', 'INTEGER'],
  ],
  observation_value_codes: [
    ...POSITION_COLUMNS,
    ['resource_id', 'VARCHAR'],
    ['patient_id', 'VARCHAR'],
    ['component', 'INTEGER'],
    ['system', 'VARCHAR'],
    ['code', 'VARCHAR'],
  ],
  medication_refs: [
    ...POSITION_COLUMNS,
    ['resource_id', 'VARCHAR'],
    ['patient_id', 'VARCHAR'],
    ['event_date', 'DATE'],
    ['medication_id', 'VARCHAR'],
    ['resource_type', 'VARCHAR'],
  ],
  medication_codes: [
    ['medication_id', 'VARCHAR'],
    ['system', 'VARCHAR'],
    ['code', 'VARCHAR'],
  ],
  consents: [
    ...POSITION_COLUMNS,
    ['resource_id', 'VARCHAR'],
    ['patient_id', 'VARCHAR'],
    ['decision', 'VARCHAR'],
    ['period_start', 'DATE'],
    ['period_end', 'DATE'],
    ['system', 'VARCHAR'],
    ['code', 'VARCHAR'],
  ],
  // The displays an event's codings carry, once per patient, code and display.
  code_displays: [
    ['patient_id', 'VARCHAR'],
    ['system', 'VARCHAR'],
    ['code', 'VARCHAR'],
    ['display', 'VARCHAR'],
  ],
} satisfies Record<string, readonly (readonly [string, string])[]>);

export type StagingTable = keyof typeof STAGING_COLUMNS;

export const STAGING_TABLES = Object.keys(STAGING_COLUMNS) as StagingTable[];

/** Receives encoded rows (each ending in a newline). */
export interface RowSink {
  row(table: StagingTable, csvLine: string): void;
}

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV field: empty for null (the reader's NULL), quoted when it holds a
 * quote, comma or line break. Stored strings are never empty, so an empty
 * field is unambiguous.
 * @example csvField('a,b') // '"a,b"'
 */
export function csvField(value: string | null): string {
  if (value === null) return '';
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function position(at: SourcePosition): string {
  return `${at.fileIndex},${at.segment},${at.line}`;
}

export function patientRow(p: FlatPatient, recordKey: number, at: SourcePosition): string {
  return `${position(at)},${csvField(p.id)},${p.gender},${p.birthDate ?? ''},${p.deceased},${p.deceasedDate ?? ''},${recordKey}\n`;
}

const EVENT_TABLE_OF: Readonly<Record<EventKind, StagingTable>> = EVENT_TABLES as Record<
  EventKind,
  StagingTable
>;

/** Writes an event's rows: one per coding, plus value codings; a Medication reference waits for resolution. */
export function writeEvent(
  e: FlatEvent,
  resourceType: string,
  at: SourcePosition,
  sink: RowSink,
): void {
  // Medications come from several resource types whose ids may collide.
  const resourceId = e.kind === 'medication' ? `${resourceType}/${e.resourceId}` : e.resourceId;
  const ids = `${position(at)},${csvField(resourceId)},${csvField(e.patientId)}`;
  const head = `${ids},${e.date ?? ''}`;
  if (e.medicationRef !== undefined) {
    sink.row('medication_refs', `${head},${csvField(e.medicationRef)},${csvField(resourceType)}\n`);
    return;
  }
  if (e.kind === 'observation') {
    writeObserved(e, 0, head, ids, sink);
    e.components?.forEach((component, i) => writeObserved(component, i + 1, head, ids, sink));
    return;
  }
  const table = EVENT_TABLE_OF[e.kind];
  const tail =
    e.kind === 'condition'
      ? `,${e.onsetAge?.months ?? ''},${e.onsetAge?.days ?? ''},${e.recordedDate ?? ''}\n`
      : '\n';
  for (const c of e.codings)
    sink.row(table, `${head},${csvField(c.system)},${csvField(c.code)}${tail}`);
}

/** An Observation's rows (component 0) or one component's (1, 2, ...): codings and value codings. */
function writeObserved(
  part: {
    readonly codings: readonly FlatCoding[];
    readonly value?: number | null;
    readonly unit?: string | null;
    readonly valueCodings?: readonly FlatCoding[];
  },
  component: number,
  head: string,
  ids: string,
  sink: RowSink,
): void {
  const value = part.value === null || part.value === undefined ? '' : String(part.value);
  const tail = `,${value},${csvField(part.unit ?? null)},${component}\n`;
  for (const c of part.codings) {
    sink.row('observations', `${head},${csvField(c.system)},${csvField(c.code)}${tail}`);
  }
  for (const c of part.valueCodings ?? []) {
    sink.row(
      'observation_value_codes',
      `${ids},${component},${csvField(c.system)},${csvField(c.code)}\n`,
    );
  }
}

/**
 * Writes the displays of an event's codings, each (patient, code, display)
 * once per task: `seen` remembers what this task already wrote, so a
 * patient's yearly observation costs one row, not one per year.
 */
export function writeDisplays(e: FlatEvent, seen: Set<string>, sink: RowSink): void {
  for (const c of e.codings) {
    if (c.display === undefined) continue;
    const key = `${e.patientId}\0${c.system}\0${c.code}\0${c.display}`;
    if (seen.has(key)) continue;
    seen.add(key);
    sink.row(
      'code_displays',
      `${csvField(e.patientId)},${csvField(c.system)},${csvField(c.code)},${csvField(c.display)}\n`,
    );
  }
}

/** A Medication with no usable coding still answers references (with no rows). */
export function writeMedication(m: FlatMedication, sink: RowSink): void {
  const id = csvField(m.id);
  if (m.codings.length === 0) sink.row('medication_codes', `${id},,\n`);
  for (const c of m.codings)
    sink.row('medication_codes', `${id},${csvField(c.system)},${csvField(c.code)}\n`);
}

/** One row per code of each provision of a Consent. */
export function writeConsent(c: FlatConsent, at: SourcePosition, sink: RowSink): void {
  const ids = `${position(at)},${csvField(c.resourceId)},${csvField(c.patientId)}`;
  for (const p of c.provisions) {
    const head = `${ids},${p.decision},${p.start ?? ''},${p.end ?? ''}`;
    for (const coding of p.codings) {
      sink.row('consents', `${head},${csvField(coding.system)},${csvField(coding.code)}\n`);
    }
  }
}
