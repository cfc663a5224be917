// One FHIR resource in, the rows the store keeps of it out: the rules of
// store/layout.ts and of the query-language page's "Which FHIR element each
// kind reads" table, as a pure function. Reasons never quote the resource,
// because a resource may hold patient data.
import type { EventKind } from '@tessera/schemas';
import {
  addAgeSpan,
  ageSpan,
  codingsOf,
  firstDate,
  isObject,
  periodStart,
  referencedId,
  referencedType,
  stringOf,
} from './fhir.ts';
import type { AgeSpan, FlatCoding, JsonObject, ReferenceContext } from './fhir.ts';
import { canonicalCodings, createCodeSystemAliases } from './reading.ts';
import type { CodeSystemAliases } from './reading.ts';
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
  /** Observations: valueQuantity, valueInteger or valueRatio (observationValue). */
  readonly value?: number | null;
  readonly unit?: string | null;
  /** Observations: valueCodeableConcept codings, valueBoolean, a code-like valueString. */
  readonly valueCodings?: readonly FlatCoding[];
  /** Observations: each `component` with a usable coding, in order (absent when none). */
  readonly components?: readonly FlatComponent[];
  /**
   * Conditions dated by `onsetAge` (then `date` is null): the age, which
   * dates the event from the patient's birth date (eventDateOf), and the
   * recordedDate that dates it when there is no birth date.
   */
  readonly onsetAge?: AgeSpan;
  readonly recordedDate?: string | null;
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

/**
 * A valid resource the store does not keep, and why: counted by reason in
 * the ingest report, never as malformed.
 */
export interface Skipped {
  readonly type: 'skipped';
  readonly reason: SkipReason;
}

export type SkipReason =
  | 'resource type not read'
  /** A Consent not `active`: it decides nothing now. */
  | 'consent not active'
  | 'entered-in-error'
  | 'refuted'
  /** An unconfirmed, provisional or differential Condition, where the node's policy leaves them out. */
  | 'unconfirmed (node policy)'
  /** An event with no subject: nothing ties it to a patient. */
  | 'no subject'
  /** The subject is a Group, Location, Device, ...: not one patient. */
  | 'subject not a Patient'
  /** A subject given by display text or identifier alone, which no reference resolves. */
  | 'subject without reference';

export interface Malformed {
  readonly type: 'malformed';
  /** A fixed phrase; never a value from the resource. */
  readonly reason: MalformedReason;
}

export type MalformedReason =
  | 'not a JSON object'
  | 'missing resourceType'
  | 'missing id'
  | 'unresolvable subject reference'
  | 'missing medication'
  | 'unresolvable medication reference';

export type Flattened =
  FlatPatient | FlatEvent | FlatMedication | FlatConsent | Skipped | Malformed;

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

/** Where the resource was read: its Bundle (fullUrl -> target) and its entry's server base. */
export interface FlattenContext extends ReferenceContext {
  /** Id to use when the resource has none (from its Bundle entry's fullUrl). */
  readonly fallbackId?: string;
  /** The code-system aliases; default: the known ones. */
  readonly aliases?: CodeSystemAliases;
  /** Node policy: leave out unconfirmed, provisional and differential Conditions. */
  readonly excludeUnconfirmedConditions?: boolean;
}

const KNOWN_ALIASES = createCodeSystemAliases();

const MALFORMED = (reason: MalformedReason): Malformed => ({ type: 'malformed', reason });
const SKIPPED = (reason: SkipReason): Skipped => Object.freeze({ type: 'skipped', reason });
const UNUSED = SKIPPED('resource type not read');
const ENTERED_IN_ERROR = SKIPPED('entered-in-error');
const REFUTED = SKIPPED('refuted');
const UNCONFIRMED = SKIPPED('unconfirmed (node policy)');

/**
 * Flattens one parsed FHIR resource, its codings under their canonical
 * code-system URLs (reading.ts).
 * @example flattenResource({ resourceType: 'Patient', id: 'p1', gender: 'female' })
 * // { type: 'patient', id: 'p1', gender: 'female', birthDate: null, deceased: false, deceasedDate: null }
 */
export function flattenResource(resource: unknown, context: FlattenContext = {}): Flattened {
  const flat = readResource(resource, context);
  const aliases = context.aliases ?? KNOWN_ALIASES;
  switch (flat.type) {
    case 'medication':
      return { ...flat, codings: canonicalCodings(flat.codings, aliases) };
    case 'event': {
      const codings = canonicalCodings(flat.codings, aliases);
      const valueCodings =
        flat.valueCodings === undefined ? undefined : canonicalCodings(flat.valueCodings, aliases);
      return valueCodings === undefined ? { ...flat, codings } : { ...flat, codings, valueCodings };
    }
    default:
      return flat;
  }
}

function readResource(resource: unknown, context: FlattenContext): Flattened {
  if (!isObject(resource)) return MALFORMED('not a JSON object');
  const resourceType = stringOf(resource.resourceType);
  if (resourceType === undefined) return MALFORMED('missing resourceType');
  if (!USED_RESOURCE_TYPES.has(resourceType)) return UNUSED;
  const id = stringOf(resource.id) ?? context.fallbackId;
  if (id === undefined) return MALFORMED('missing id');
  if (resourceType === 'Patient') return flattenPatient(resource, id);
  if (resource.status === 'entered-in-error') return ENTERED_IN_ERROR;
  if (resourceType === 'Medication') {
    return { type: 'medication', id, codings: medicationCodings(resource) };
  }
  if (resourceType === 'Consent') return flattenConsent(resource, id, context);
  const kind = EVENT_RESOURCE_KINDS[resourceType];
  if (kind === undefined) return UNUSED;

  const patientId = subjectPatient(resource.subject ?? resource.patient, context);
  if (typeof patientId !== 'string') return patientId;

  const codings: FlatCoding[] = [];
  switch (kind) {
    case 'condition': {
      const verification = verificationOf(resource.verificationStatus);
      if (verification === 'refuted') return REFUTED;
      if (verification === 'unconfirmed' && context.excludeUnconfirmedConditions === true) {
        return UNCONFIRMED;
      }
      codingsOf(resource.code, codings);
      const onset = firstDate(resource.onsetDateTime, periodStart(resource.onsetPeriod));
      const onsetAge = onset === null ? ageSpan(resource.onsetAge) : undefined;
      const recorded = firstDate(resource.recordedDate);
      if (onsetAge === undefined) {
        return { type: 'event', kind, resourceId: id, patientId, date: onset ?? recorded, codings };
      }
      // Dated from the patient's birth date once it is known; recordedDate without one.
      const event = {
        type: 'event',
        kind,
        resourceId: id,
        patientId,
        date: null,
        codings,
      } as const;
      return { ...event, onsetAge, recordedDate: recorded };
    }
    case 'observation': {
      codingsOf(resource.code, codings);
      // `issued` (when the result was made available) stands in for a missing effective time.
      const date = firstDate(
        resource.effectiveDateTime,
        periodStart(resource.effectivePeriod),
        resource.effectiveInstant,
        resource.issued,
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

/**
 * An event's date once its patient's birth date is known: the onsetAge of
 * a Condition counts from the birth date, else its recordedDate stands in.
 * @example eventDateOf(flat, '1961-04-12')
 */
export function eventDateOf(event: FlatEvent, birthDate: string | null): string | null {
  if (event.onsetAge === undefined) return event.date;
  if (birthDate === null) return event.recordedDate ?? null;
  return addAgeSpan(birthDate, event.onsetAge);
}

/**
 * The patient an event belongs to, or why it belongs to none. Valid FHIR
 * whose subject is no patient is skipped; only a reference that cannot be
 * read at all is malformed.
 */
/** The patient a resource's subject names, or why it names none. */
export function subjectPatient(
  subject: unknown,
  context: FlattenContext,
): string | Skipped | Malformed {
  if (subject === undefined || subject === null) return SKIPPED('no subject');
  if (!isObject(subject)) return MALFORMED('unresolvable subject reference');
  const patientId = referencedId(subject, 'Patient', context);
  if (patientId !== undefined) return patientId;
  if (stringOf(subject.reference) === undefined) return SKIPPED('subject without reference');
  const type = referencedType(subject, context);
  return type !== undefined && type !== 'Patient'
    ? SKIPPED('subject not a Patient')
    : MALFORMED('unresolvable subject reference');
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

const UNCONFIRMED_CODES = new Set(['unconfirmed', 'provisional', 'differential']);

/** A Condition's verification status as the store's rules see it; the code decides, whatever its system. */
function verificationOf(verificationStatus: unknown): 'refuted' | 'unconfirmed' | undefined {
  if (!isObject(verificationStatus) || !Array.isArray(verificationStatus.coding)) return undefined;
  let found: 'unconfirmed' | undefined;
  for (const coding of verificationStatus.coding) {
    if (!isObject(coding)) continue;
    if (coding.code === 'refuted' || coding.code === 'entered-in-error') return 'refuted';
    if (typeof coding.code === 'string' && UNCONFIRMED_CODES.has(coding.code))
      found = 'unconfirmed';
  }
  return found;
}

const UCUM = 'http://unitsofmeasure.org';
/** FHIR's code system for special values, whose `true` and `false` stand for valueBoolean. */
export const SPECIAL_VALUES = 'http://terminology.hl7.org/CodeSystem/special-values';
/** The code system under which a code-like valueString is stored (valueStringCode). */
export const VALUE_STRING = 'https://tessera.eu/fhir/CodeSystem/value-string';
/** UCUM's unity, the unit of a count or score (valueInteger). */
export const UNITY = '1';

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
  const { value, unit } = observationValue(element);
  const valueCodings: FlatCoding[] = [];
  codingsOf(element.valueCodeableConcept, valueCodings);
  if (typeof element.valueBoolean === 'boolean') {
    valueCodings.push({ system: SPECIAL_VALUES, code: String(element.valueBoolean) });
  }
  const text = valueStringCode(element.valueString);
  if (text !== undefined) valueCodings.push({ system: VALUE_STRING, code: text });
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

/** A number when it is a finite one. */
function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A Quantity's unit: its UCUM code when its system is UCUM, else its unit text. */
function quantityUnit(quantity: JsonObject): string | undefined {
  const code = stringOf(quantity.code);
  return quantity.system === UCUM && code !== undefined ? code : stringOf(quantity.unit);
}

/**
 * The numeric value of an Observation and its unit: valueQuantity;
 * valueInteger as a count in UCUM's unity `1`; valueRatio as numerator over
 * denominator (a missing unit is unity, so a titre 1:64 is 0.015625 `1`).
 * A valueRange is not a value: it holds an interval, not a measurement.
 */
function observationValue(resource: JsonObject): { value: number | null; unit: string | null } {
  const quantity = resource.valueQuantity;
  if (isObject(quantity)) {
    return { value: finite(quantity.value) ?? null, unit: quantityUnit(quantity) ?? null };
  }
  const integer = finite(resource.valueInteger);
  if (integer !== undefined && Number.isInteger(integer)) return { value: integer, unit: UNITY };
  const ratio = resource.valueRatio;
  if (isObject(ratio) && isObject(ratio.numerator) && isObject(ratio.denominator)) {
    const n = finite(ratio.numerator.value);
    const d = finite(ratio.denominator.value);
    if (n !== undefined && d !== undefined && d !== 0) {
      const over = quantityUnit(ratio.denominator) ?? UNITY;
      const unit = quantityUnit(ratio.numerator) ?? UNITY;
      return { value: n / d, unit: over === UNITY ? unit : `${unit}/${over}` };
    }
  }
  return { value: null, unit: null };
}

const CODE_LIKE = /^[\p{L}\p{N}+\-.,:/<>=%*^()#]+(?: [\p{L}\p{N}+\-.,:/<>=%*^()#]+){0,2}$/u;

/**
 * A valueString read as a code when it looks like one ("positive", "A+",
 * "not detected", "3+"): trimmed, at most 40 characters, one to three words
 * of letters, digits and the signs codes use. Free text is not read.
 * @example valueStringCode(' not detected ') // 'not detected'
 */
export function valueStringCode(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  return text.length <= 40 && CODE_LIKE.test(text) ? text : undefined;
}

function flattenMedicationUse(
  resource: JsonObject,
  resourceId: string,
  patientId: string,
  context: FlattenContext,
): FlatEvent | Malformed {
  // R5 MedicationAdministration spells its time `occurence[x]`.
  const date = firstDate(
    resource.authoredOn,
    resource.effectiveDateTime,
    periodStart(resource.effectivePeriod),
    resource.occurrenceDateTime,
    periodStart(resource.occurrencePeriod),
    resource.occurenceDateTime,
    periodStart(resource.occurencePeriod),
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
    return { ...base, codings: medicationCodings(contained) };
  }
  const medicationRef = referencedId(reference, 'Medication', context);
  if (medicationRef === undefined) return MALFORMED('unresolvable medication reference');
  return { ...base, codings: [], medicationRef };
}

/**
 * A Medication's codes: its own, and its ingredients' (R4
 * `ingredient.itemCodeableConcept`, R5 `ingredient.item.concept`), since a
 * compounded medication may carry its ATC code only on an ingredient.
 */
function medicationCodings(medication: JsonObject): FlatCoding[] {
  const codings: FlatCoding[] = [];
  codingsOf(medication.code, codings);
  if (Array.isArray(medication.ingredient)) {
    for (const ingredient of medication.ingredient) {
      if (!isObject(ingredient)) continue;
      const item = isObject(ingredient.item) ? ingredient.item.concept : undefined;
      codingsOf(ingredient.itemCodeableConcept ?? item, codings);
    }
  }
  return codings;
}

function containedResource(resource: JsonObject, id: string, type: string): JsonObject | undefined {
  if (!Array.isArray(resource.contained)) return undefined;
  for (const item of resource.contained) {
    if (isObject(item) && item.resourceType === type && item.id === id) return item;
  }
  return undefined;
}
