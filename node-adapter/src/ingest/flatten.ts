// One FHIR resource in, the rows the store keeps of it out: the rules of
// store/layout.ts and of the query-language page's "Which FHIR element each
// kind reads" table, as a pure function. Reasons never quote the resource,
// because a resource may hold patient data.
import type { EventKind } from '@tessera/schemas';
import { codingsOf, firstDate, isObject, periodStart, referencedId, stringOf } from './fhir.ts';
import type { BundleIndex, FlatCoding, JsonObject } from './fhir.ts';
import { flattenConsent } from './consent.ts';
import type { FlatConsent } from './consent.ts';

export type Gender = 'female' | 'male' | 'other' | 'unknown';

export interface FlatPatient {
  readonly type: 'patient';
  readonly id: string;
  readonly gender: Gender;
  readonly birthDate: string | null;
  readonly deceased: boolean;
  /** The date of deceasedDateTime (`YYYY-MM-DD`), or null. */
  readonly deceasedDate: string | null;
}

export interface FlatEvent {
  readonly type: 'event';
  readonly kind: EventKind;
  readonly resourceId: string;
  readonly patientId: string;
  /** `YYYY-MM-DD`, or null when the resource carries no event date. */
  readonly date: string | null;
  /** One stored row per coding; empty when the code is only resolved later. */
  readonly codings: readonly FlatCoding[];
  /** Observations: valueQuantity. */
  readonly value?: number | null;
  readonly unit?: string | null;
  /** Observations: valueCodeableConcept codings. */
  readonly valueCodings?: readonly FlatCoding[];
  /** Observations: each `component` with a usable coding, in order (absent when none). */
  readonly components?: readonly FlatComponent[];
  /** Medication events naming a Medication resource: its id, resolved after reading. */
  readonly medicationRef?: string;
}

/** What an Observation, or one of its components, observed. */
export interface ObservedValue {
  /** valueQuantity's value and unit (the UCUM code when the system is UCUM, else the unit text). */
  readonly value: number | null;
  readonly unit: string | null;
  /** valueCodeableConcept codings. */
  readonly valueCodings: readonly FlatCoding[];
}

/**
 * One `Observation.component`: its own code and value, matched like an
 * Observation of that code on the resource's date (blood pressure: systolic
 * 8480-6 and diastolic 8462-4 under the panel 85354-9).
 */
export interface FlatComponent extends ObservedValue {
  readonly codings: readonly FlatCoding[];
}

/** A Medication resource: the codes its references resolve to. */
export interface FlatMedication {
  readonly type: 'medication';
  readonly id: string;
  readonly codings: readonly FlatCoding[];
}

export interface Dropped {
  readonly type: 'dropped';
  readonly reason: 'entered-in-error' | 'refuted';
}

export interface Unused {
  readonly type: 'unused';
}

export interface Malformed {
  readonly type: 'malformed';
  /** A fixed phrase; never a value from the resource. */
  readonly reason: MalformedReason;
}

export type MalformedReason =
  | 'not a JSON object'
  | 'missing resourceType'
  | 'missing id'
  | 'missing subject'
  | 'unresolvable subject reference'
  | 'missing medication'
  | 'unresolvable medication reference';

export type Flattened =
  FlatPatient | FlatEvent | FlatMedication | FlatConsent | Dropped | Unused | Malformed;

/** Resource types that feed an event table. */
export const EVENT_RESOURCE_KINDS: Readonly<Record<string, EventKind>> = Object.freeze({
  Condition: 'condition',
  Observation: 'observation',
  Procedure: 'procedure',
  MedicationRequest: 'medication',
  MedicationStatement: 'medication',
  MedicationAdministration: 'medication',
  Immunization: 'immunization',
  Encounter: 'encounter',
});

/** Every resource type ingest reads; all others are counted and skipped. */
export const USED_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'Patient',
  'Medication',
  'Consent',
  ...Object.keys(EVENT_RESOURCE_KINDS),
]);

export interface FlattenContext {
  /** fullUrl -> target of the Bundle the resource came from. */
  readonly bundle?: BundleIndex;
  /** Id to use when the resource has none (a Bundle entry's `urn:uuid:` fullUrl). */
  readonly fallbackId?: string;
}

const MALFORMED = (reason: MalformedReason): Malformed => ({ type: 'malformed', reason });
const UNUSED: Unused = Object.freeze({ type: 'unused' });
const ENTERED_IN_ERROR: Dropped = Object.freeze({ type: 'dropped', reason: 'entered-in-error' });
const REFUTED: Dropped = Object.freeze({ type: 'dropped', reason: 'refuted' });

/**
 * Flattens one parsed FHIR resource.
 * @example flattenResource({ resourceType: 'Patient', id: 'p1', gender: 'female' })
 * // { type: 'patient', id: 'p1', gender: 'female', birthDate: null, deceased: false, deceasedDate: null }
 */
export function flattenResource(resource: unknown, context: FlattenContext = {}): Flattened {
  if (!isObject(resource)) return MALFORMED('not a JSON object');
  const resourceType = stringOf(resource.resourceType);
  if (resourceType === undefined) return MALFORMED('missing resourceType');
  if (!USED_RESOURCE_TYPES.has(resourceType)) return UNUSED;
  const id = stringOf(resource.id) ?? context.fallbackId;
  if (id === undefined) return MALFORMED('missing id');
  if (resourceType === 'Patient') return flattenPatient(resource, id);
  if (resource.status === 'entered-in-error') return ENTERED_IN_ERROR;
  if (resourceType === 'Medication') {
    const codings: FlatCoding[] = [];
    codingsOf(resource.code, codings);
    return { type: 'medication', id, codings };
  }
  if (resourceType === 'Consent') return flattenConsent(resource, id, context);
  const kind = EVENT_RESOURCE_KINDS[resourceType];
  if (kind === undefined) return UNUSED;

  const subject = resource.subject ?? resource.patient;
  if (subject === undefined || subject === null) return MALFORMED('missing subject');
  const patientId = referencedId(subject, 'Patient', context.bundle);
  if (patientId === undefined) return MALFORMED('unresolvable subject reference');

  const codings: FlatCoding[] = [];
  switch (kind) {
    case 'condition': {
      if (isRefuted(resource.verificationStatus)) return REFUTED;
      codingsOf(resource.code, codings);
      const date = firstDate(
        resource.onsetDateTime,
        periodStart(resource.onsetPeriod),
        resource.recordedDate,
      );
      return { type: 'event', kind, resourceId: id, patientId, date, codings };
    }
    case 'observation': {
      codingsOf(resource.code, codings);
      const date = firstDate(
        resource.effectiveDateTime,
        periodStart(resource.effectivePeriod),
        resource.effectiveInstant,
      );
      return observation(resource, id, patientId, date, codings);
    }
    case 'procedure': {
      codingsOf(resource.code, codings);
      const date = firstDate(
        resource.performedDateTime,
        periodStart(resource.performedPeriod),
        resource.occurrenceDateTime,
        periodStart(resource.occurrencePeriod),
      );
      return { type: 'event', kind, resourceId: id, patientId, date, codings };
    }
    case 'immunization': {
      codingsOf(resource.vaccineCode, codings);
      const date = firstDate(resource.occurrenceDateTime);
      return { type: 'event', kind, resourceId: id, patientId, date, codings };
    }
    case 'encounter': {
      if (Array.isArray(resource.type)) for (const type of resource.type) codingsOf(type, codings);
      // R4 `class` is a Coding; R5 made it a list of CodeableConcepts.
      if (Array.isArray(resource.class)) for (const cls of resource.class) codingsOf(cls, codings);
      else codingsOf(resource.class, codings);
      const date = firstDate(periodStart(resource.period), periodStart(resource.actualPeriod));
      return { type: 'event', kind, resourceId: id, patientId, date, codings };
    }
    case 'medication':
      return flattenMedicationUse(resource, id, patientId, context);
  }
}

function flattenPatient(resource: JsonObject, id: string): FlatPatient {
  const g = resource.gender;
  const gender: Gender = g === 'female' || g === 'male' || g === 'other' ? g : 'unknown';
  const deceased =
    resource.deceasedBoolean === true || stringOf(resource.deceasedDateTime) !== undefined;
  const birthDate = firstDate(resource.birthDate);
  const deceasedDate = firstDate(resource.deceasedDateTime);
  return { type: 'patient', id, gender, birthDate, deceased, deceasedDate };
}

function isRefuted(verificationStatus: unknown): boolean {
  if (!isObject(verificationStatus) || !Array.isArray(verificationStatus.coding)) return false;
  for (const coding of verificationStatus.coding) {
    if (!isObject(coding)) continue;
    if (coding.code === 'refuted' || coding.code === 'entered-in-error') return true;
  }
  return false;
}

const UCUM = 'http://unitsofmeasure.org';

function observation(
  resource: JsonObject,
  resourceId: string,
  patientId: string,
  date: string | null,
  codings: FlatCoding[],
): FlatEvent {
  const { value, unit, valueCodings } = observedValue(resource);
  const kind = 'observation';
  const event: FlatEvent = { type: 'event', kind, resourceId, patientId, date, codings };
  const components = componentsOf(resource.component);
  return components.length === 0
    ? { ...event, value, unit, valueCodings }
    : { ...event, value, unit, valueCodings, components };
}

/** The value of an Observation or of one of its components. */
function observedValue(element: JsonObject): ObservedValue {
  let value: number | null = null;
  let unit: string | null = null;
  const quantity = element.valueQuantity;
  if (isObject(quantity)) {
    if (typeof quantity.value === 'number' && Number.isFinite(quantity.value))
      value = quantity.value;
    const code = stringOf(quantity.code);
    unit =
      quantity.system === UCUM && code !== undefined ? code : (stringOf(quantity.unit) ?? null);
  }
  const valueCodings: FlatCoding[] = [];
  codingsOf(element.valueCodeableConcept, valueCodings);
  return { value, unit, valueCodings };
}

/** The components that carry a usable coding; others can match nothing. */
function componentsOf(list: unknown): FlatComponent[] {
  if (!Array.isArray(list)) return [];
  const components: FlatComponent[] = [];
  for (const component of list) {
    if (!isObject(component)) continue;
    const codings: FlatCoding[] = [];
    codingsOf(component.code, codings);
    if (codings.length > 0) components.push({ codings, ...observedValue(component) });
  }
  return components;
}

function flattenMedicationUse(
  resource: JsonObject,
  resourceId: string,
  patientId: string,
  context: FlattenContext,
): FlatEvent | Malformed {
  const date = firstDate(
    resource.authoredOn,
    resource.effectiveDateTime,
    periodStart(resource.effectivePeriod),
    resource.occurrenceDateTime,
    periodStart(resource.occurrencePeriod),
  );
  const base = { type: 'event', kind: 'medication', resourceId, patientId, date } as const;
  // R4 medication[x]; R5 made it a CodeableReference (`medication.concept` / `.reference`).
  const r5 = isObject(resource.medication) ? resource.medication : undefined;
  const concept = resource.medicationCodeableConcept ?? r5?.concept;
  const reference = resource.medicationReference ?? r5?.reference;
  if (isObject(concept)) {
    const codings: FlatCoding[] = [];
    codingsOf(concept, codings);
    return { ...base, codings };
  }
  if (!isObject(reference)) return MALFORMED('missing medication');
  const ref = stringOf(reference.reference);
  if (ref?.startsWith('#') === true) {
    const contained = containedResource(resource, ref.slice(1), 'Medication');
    if (contained === undefined) return MALFORMED('unresolvable medication reference');
    const codings: FlatCoding[] = [];
    codingsOf(contained.code, codings);
    return { ...base, codings };
  }
  const medicationRef = referencedId(reference, 'Medication', context.bundle);
  if (medicationRef === undefined) return MALFORMED('unresolvable medication reference');
  return { ...base, codings: [], medicationRef };
}

function containedResource(resource: JsonObject, id: string, type: string): JsonObject | undefined {
  if (!Array.isArray(resource.contained)) return undefined;
  for (const item of resource.contained) {
    if (isObject(item) && item.resourceType === type && item.id === id) return item;
  }
  return undefined;
}
