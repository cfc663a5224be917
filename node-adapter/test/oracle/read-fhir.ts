// The oracle's own reading of FHIR resources, written from the query-language
// page ("Which FHIR element each kind reads") and not from ingest, so that the
// two can check each other. Conventions the page does not spell out follow the
// store's (store/layout.ts): a partial date stands for its first day, a date
// is the calendar date as written (no time-zone shift), gender other than the
// four FHIR codes is `unknown`.
import { normaliseCode, type EventKind } from '@tessera/schemas';
import { KNOWN_CODE_SYSTEM_ALIASES } from '../../src/ingest/reading.ts';

export type FhirResource = { readonly resourceType: string; readonly id?: string } & Readonly<
  Record<string, unknown>
>;

export interface OracleCoding {
  readonly system: string;
  /** Normalised (ICD-10 without dots). */
  readonly code: string;
}

export interface OraclePatient {
  readonly id: string;
  readonly gender: 'female' | 'male' | 'other' | 'unknown';
  /** `YYYY-MM-DD` or undefined. */
  readonly birthDate: string | undefined;
  readonly deceased: boolean;
  /** The calendar date of deceasedDateTime, `YYYY-MM-DD` or undefined. */
  readonly deceasedDate: string | undefined;
}

/** What an event, or one of an Observation's components, says: codes and value. */
export interface OraclePart {
  readonly codings: readonly OracleCoding[];
  readonly quantity?: { readonly value: number; readonly unit: string | undefined };
  readonly valueCodings: readonly OracleCoding[];
}

export interface OracleEvent extends OraclePart {
  readonly kind: EventKind;
  /** `ResourceType/id`: distinct resources are counted by it. */
  readonly resourceKey: string;
  readonly patientId: string;
  readonly date: string | undefined;
  /** An Observation's components, each matched as an observation of its own code. */
  readonly components: readonly OraclePart[];
}

/** One provision of an active Consent, with the dates it is in force. */
export interface OracleProvision {
  readonly patientId: string;
  readonly decision: 'permit' | 'deny';
  /** `YYYY-MM-DD`, undefined when open. */
  readonly start: string | undefined;
  readonly end: string | undefined;
  readonly codings: readonly OracleCoding[];
}

export interface OracleData {
  readonly patients: ReadonlyMap<string, OraclePatient>;
  readonly events: readonly OracleEvent[];
  readonly provisions: readonly OracleProvision[];
}

type Json = Readonly<Record<string, unknown>>;

function obj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Json)
    : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function list(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A FHIR date/dateTime/instant as its calendar date; partial dates at their first day. */
function calendarDate(value: unknown): string | undefined {
  const s = str(value);
  const m = s === undefined ? null : /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(s);
  if (!m) return undefined;
  const date = `${m[1]!}-${m[2] ?? '01'}-${m[3] ?? '01'}`;
  const parsed = new Date(`${date}T00:00:00Z`);
  // Rejects 2023-02-30 and friends (Date would roll them over).
  return !Number.isNaN(parsed.getTime()) &&
    parsed.toISOString().slice(0, 10) === date &&
    m[1] !== '0000'
    ? date
    : undefined;
}

function firstDefined<T>(...values: (T | undefined)[]): T | undefined {
  return values.find((v) => v !== undefined);
}

/**
 * The URL a code system is compared under: an alias (the dimdi URLs of the
 * German code systems) is the URL it stands for.
 */
export function canonicalSystem(system: string): string {
  return KNOWN_CODE_SYSTEM_ALIASES[system] ?? system;
}

function codingOf(value: unknown): OracleCoding | undefined {
  const c = obj(value);
  const written = str(c?.system);
  const code = str(c?.code);
  if (written === undefined || code === undefined) return undefined;
  const system = canonicalSystem(written);
  return { system, code: normaliseCode(system, code) };
}

function conceptCodings(concept: unknown): OracleCoding[] {
  const out: OracleCoding[] = [];
  for (const c of list(obj(concept)?.coding).map(codingOf)) {
    if (c !== undefined && !out.some((o) => o.system === c.system && o.code === c.code))
      out.push(c);
  }
  return out;
}

/** The id a reference names: `Patient/<id>` (for the given type) or `urn:uuid:<id>`. */
function referenceTarget(reference: unknown, type: string): string | undefined {
  const ref = str(obj(reference)?.reference);
  if (ref === undefined) return undefined;
  if (ref.startsWith('urn:uuid:')) return str(ref.slice('urn:uuid:'.length));
  const parts = ref.split('/');
  return parts.length === 2 && parts[0] === type ? str(parts[1]) : undefined;
}

const MEDICATION_USES = new Set([
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
]);

function eventKind(resourceType: string): EventKind | undefined {
  switch (resourceType) {
    case 'Condition':
      return 'condition';
    case 'Observation':
      return 'observation';
    case 'Procedure':
      return 'procedure';
    case 'Immunization':
      return 'immunization';
    case 'Encounter':
      return 'encounter';
    default:
      return MEDICATION_USES.has(resourceType) ? 'medication' : undefined;
  }
}

/**
 * The birth date plus an onsetAge in a, mo, wk or d: whole months (rounded)
 * first, a missing month end clamped to the month's last day, then whole
 * days (rounded).
 */
function dateAtAge(birthDate: string, age: unknown): string | undefined {
  const a = obj(age);
  const value = a?.value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return undefined;
  const perUnit: Record<string, [number, number]> = {
    a: [12, 0],
    mo: [1, 0],
    wk: [0, 7],
    d: [0, 1],
  };
  const factors = perUnit[str(a?.code) ?? ''];
  if (factors === undefined) return undefined;
  const months = Math.round(value * factors[0]);
  const days = Math.round(value * factors[1]);
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  const monthIndex = y * 12 + m - 1 + months;
  const year = Math.floor(monthIndex / 12);
  const month = monthIndex % 12;
  const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const date = new Date(Date.UTC(year, month, Math.min(d, lastDay)) + days * 86_400_000);
  return date.toISOString().slice(0, 10);
}

function eventDate(r: FhirResource, birthDate: string | undefined): string | undefined {
  switch (r.resourceType) {
    case 'Condition': {
      const onset = firstDefined(
        calendarDate(r.onsetDateTime),
        calendarDate(obj(r.onsetPeriod)?.start),
      );
      if (onset !== undefined) return onset;
      // An onsetAge counts from the birth date; without one, recordedDate dates it.
      const atAge = birthDate === undefined ? undefined : dateAtAge(birthDate, r.onsetAge);
      const readable = dateAtAge('2000-01-01', r.onsetAge) !== undefined;
      return readable && birthDate !== undefined ? atAge : calendarDate(r.recordedDate);
    }
    case 'Observation':
      return firstDefined(
        calendarDate(r.effectiveDateTime),
        calendarDate(obj(r.effectivePeriod)?.start),
        calendarDate(r.effectiveInstant),
        calendarDate(r.issued),
      );
    case 'Procedure':
      return firstDefined(
        calendarDate(r.performedDateTime),
        calendarDate(obj(r.performedPeriod)?.start),
      );
    case 'MedicationRequest':
      return calendarDate(r.authoredOn);
    case 'MedicationStatement':
    case 'MedicationAdministration':
      return firstDefined(
        calendarDate(r.effectiveDateTime),
        calendarDate(obj(r.effectivePeriod)?.start),
        // R5 MedicationAdministration: `occurence[x]`, as R5 spells it.
        calendarDate(r.occurenceDateTime),
        calendarDate(obj(r.occurencePeriod)?.start),
      );
    case 'Immunization':
      return calendarDate(r.occurrenceDateTime);
    case 'Encounter':
      return calendarDate(obj(r.period)?.start);
    default:
      return undefined;
  }
}

function medicationCodings(
  r: FhirResource,
  medications: ReadonlyMap<string, FhirResource>,
): OracleCoding[] {
  if (r.medicationCodeableConcept !== undefined) return conceptCodings(r.medicationCodeableConcept);
  const ref = str(obj(r.medicationReference)?.reference);
  let medication: unknown;
  if (ref?.startsWith('#')) {
    medication = list(r.contained).find((c) => {
      const o = obj(c);
      return o?.resourceType === 'Medication' && o.id === ref.slice(1);
    });
  } else {
    const id = referenceTarget(r.medicationReference, 'Medication');
    medication = id === undefined ? undefined : medications.get(id);
  }
  const m = obj(medication);
  if (m === undefined || m.status === 'entered-in-error') return [];
  // A compounded medication may be coded on its ingredients alone (R4 itemCodeableConcept, R5 item.concept).
  const ingredients = list(m.ingredient).flatMap((i) =>
    conceptCodings(obj(i)?.itemCodeableConcept ?? obj(obj(i)?.item)?.concept),
  );
  return [...conceptCodings(m.code), ...ingredients];
}

function eventCodings(
  r: FhirResource,
  medications: ReadonlyMap<string, FhirResource>,
): OracleCoding[] {
  switch (r.resourceType) {
    case 'Immunization':
      return conceptCodings(r.vaccineCode);
    case 'Encounter': {
      const codings = list(r.type).flatMap(conceptCodings);
      const cls = codingOf(r.class);
      return cls ? [...codings, cls] : codings;
    }
    default:
      return MEDICATION_USES.has(r.resourceType)
        ? medicationCodings(r, medications)
        : conceptCodings(r.code);
  }
}

function isExcluded(r: FhirResource): boolean {
  if (r.status === 'entered-in-error') return true;
  if (r.resourceType !== 'Condition') return false;
  // The status code decides, whatever system (if any) its coding names.
  return list(obj(r.verificationStatus)?.coding).some((c) => {
    const code = obj(c)?.code;
    return code === 'refuted' || code === 'entered-in-error';
  });
}

function finiteNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A Quantity's unit as the page says: the UCUM code, else the unit text. */
function unitOf(q: Json): string | undefined {
  return q.system === 'http://unitsofmeasure.org' && str(q.code) !== undefined
    ? str(q.code)
    : str(q.unit);
}

/**
 * The observation's value as a quantity: valueQuantity, valueInteger in
 * unit `1`, valueRatio as numerator over denominator (no unit is `1`); a
 * valueRange is no value.
 */
function observationQuantity(r: FhirResource): OracleEvent['quantity'] {
  const q = obj(r.valueQuantity);
  if (q !== undefined) {
    const value = finiteNumber(q.value);
    return value === undefined ? undefined : { value, unit: unitOf(q) };
  }
  const integer = finiteNumber(r.valueInteger);
  if (integer !== undefined && Number.isInteger(integer)) return { value: integer, unit: '1' };
  const numerator = obj(obj(r.valueRatio)?.numerator);
  const denominator = obj(obj(r.valueRatio)?.denominator);
  const n = finiteNumber(numerator?.value);
  const d = finiteNumber(denominator?.value);
  if (numerator === undefined || denominator === undefined) return undefined;
  if (n === undefined || d === undefined || d === 0) return undefined;
  const top = unitOf(numerator) ?? '1';
  const bottom = unitOf(denominator) ?? '1';
  return { value: n / d, unit: bottom === '1' ? top : `${top}/${bottom}` };
}

const CODE_CHARACTERS = /^[\p{L}\p{N}+\-.,:/<>=%*^()#]+$/u;

/**
 * The coded values of an observation: valueCodeableConcept, valueBoolean
 * as special-values `true`/`false`, and a valueString that reads as a code
 * (trimmed, up to 40 characters, one to three words of code characters).
 */
function observationValueCodings(r: FhirResource): OracleCoding[] {
  const out = conceptCodings(r.valueCodeableConcept);
  if (typeof r.valueBoolean === 'boolean') {
    out.push({
      system: 'http://terminology.hl7.org/CodeSystem/special-values',
      code: String(r.valueBoolean),
    });
  }
  const text = typeof r.valueString === 'string' ? r.valueString.trim() : '';
  const words = text.split(' ');
  if (
    text.length > 0 &&
    text.length <= 40 &&
    words.length <= 3 &&
    words.every((w) => CODE_CHARACTERS.test(w))
  ) {
    out.push({ system: 'https://tessera.eu/fhir/CodeSystem/value-string', code: text });
  }
  return out;
}

/**
 * The provisions of an active Consent, at every depth, in force on their own
 * period's dates or else on those of the nearest enclosing provision with one
 * (the query-language page, "Consent criterion").
 */
function consentProvisions(r: FhirResource, patientId: string): OracleProvision[] {
  if (r.status !== 'active') return [];
  const out: OracleProvision[] = [];
  const visit = (p: Json | undefined, start: string | undefined, end: string | undefined) => {
    if (p === undefined) return;
    const period = obj(p.period);
    const from = period === undefined ? start : calendarDate(period.start);
    const to = period === undefined ? end : calendarDate(period.end);
    const decision = p.type;
    const codings = list(p.code).flatMap(conceptCodings);
    if ((decision === 'permit' || decision === 'deny') && codings.length > 0) {
      out.push({ patientId, decision, start: from, end: to, codings });
    }
    for (const inner of list(p.provision)) visit(obj(inner), from, to);
  };
  visit(obj(r.provision), undefined, undefined);
  return out;
}

/**
 * Reads parsed FHIR resources (any order, any mix of types) into the
 * oracle's patients and events; events of unknown patients are dropped.
 * @example readFhir([{ resourceType: 'Patient', id: 'p1', gender: 'female' }]).patients.size // 1
 */
export function readFhir(resources: readonly FhirResource[]): OracleData {
  const patients = new Map<string, OraclePatient>();
  const medications = new Map<string, FhirResource>();
  for (const r of resources) {
    const id = str(r.id);
    if (id === undefined) continue;
    if (r.resourceType === 'Medication') medications.set(id, r);
    if (r.resourceType === 'Patient' && !patients.has(id)) {
      const g = r.gender;
      patients.set(id, {
        id,
        gender: g === 'female' || g === 'male' || g === 'other' ? g : 'unknown',
        birthDate: calendarDate(r.birthDate),
        deceased: r.deceasedBoolean === true || str(r.deceasedDateTime) !== undefined,
        deceasedDate: calendarDate(r.deceasedDateTime),
      });
    }
  }
  const events: OracleEvent[] = [];
  const provisions: OracleProvision[] = [];
  for (const r of resources) {
    if (r.resourceType === 'Consent') {
      const patientId = referenceTarget(r.patient ?? r.subject, 'Patient');
      if (patientId !== undefined && patients.has(patientId)) {
        provisions.push(...consentProvisions(r, patientId));
      }
      continue;
    }
    const kind = eventKind(r.resourceType);
    const id = str(r.id);
    if (kind === undefined || id === undefined || isExcluded(r)) continue;
    const patientId = referenceTarget(
      r.resourceType === 'Immunization' ? r.patient : r.subject,
      'Patient',
    );
    if (patientId === undefined || !patients.has(patientId)) continue;
    const observation = r.resourceType === 'Observation';
    events.push({
      kind,
      resourceKey: `${r.resourceType}/${id}`,
      patientId,
      date: eventDate(r, patients.get(patientId)?.birthDate),
      ...(observation ? observedPart(r) : { valueCodings: [] }),
      codings: eventCodings(r, medications),
      components: observation ? list(r.component).map((c) => observedPart(obj(c) ?? {})) : [],
    });
  }
  return { patients, events, provisions };
}

/** The code, valueQuantity and valueCodeableConcept of an Observation or a component. */
function observedPart(element: Json): OraclePart {
  const quantity = observationQuantity(element as FhirResource);
  return {
    codings: conceptCodings(element.code),
    ...(quantity === undefined ? {} : { quantity }),
    valueCodings: observationValueCodings(element as FhirResource),
  };
}
