// Which searches fetch the candidates of one criterion, given what the
// server declared. Every plan is a superset: the searches' union holds every
// resource the criterion can match, and the node then applies the full
// semantics to what comes back. What the server cannot narrow, it does not
// narrow; nothing is ever left out.
//
// Why each widening:
// - ICD-10 codes compare without their dot, servers compare strings: an
//   ICD-10 code is also sent in its dotted form (`E119` and `E11.9`).
// - `descendants` is a prefix match: `:below` when declared, else every code
//   of that system.
// - Event dates are calendar dates as written; servers compare instants, in
//   UTC: date bounds are widened by two days either side.
// - A Condition's date is its onset, else its recorded date: two searches.
// - Encounters match on `type` or `class`: one search each.
// - Observations match on their code or on a component's (blood pressure's
//   systolic and diastolic): one search each, a value narrowing each by its
//   own parameter (`value-quantity` or `component-value-quantity`, the same
//   for concepts); a search that cannot select by code reads every
//   Observation, whatever its value.
// - Medication uses match on their own code or on a referenced Medication's,
//   contained ones included, which no search can select by code: the uses
//   coded inline are searched by code, and those that reference a Medication
//   are read whole (`medication:missing=false`) when the server declares
//   `:missing`; otherwise every use is read.
import { isIcd10, normaliseCode } from '@tessera/schemas';
import type { CodeSet, EventKind, Period, ValueRange } from '@tessera/schemas';
import { convertsBeyondUcum } from '../engine/units.ts';
import {
  canSearch,
  supportsModifier,
  supportsParam,
  supportsRange,
} from '../fhir-client/capabilities.ts';
import type { SourceCapabilities } from '../fhir-client/capabilities.ts';
import type {
  SearchParam,
  SearchSpec,
  SearchType,
  SearchValue,
} from '../fhir-client/search-url.ts';

export const UCUM = 'http://unitsofmeasure.org';

/** Resource types each event kind reads. */
export const KIND_TYPES: Readonly<Record<EventKind, readonly SearchType[]>> = Object.freeze({
  condition: ['Condition'],
  observation: ['Observation'],
  procedure: ['Procedure'],
  medication: ['MedicationRequest', 'MedicationStatement', 'MedicationAdministration'],
  immunization: ['Immunization'],
  encounter: ['Encounter'],
});

/** Token parameters that carry a type's code; a resource matches through any of them. */
const CODE_PARAMS: Readonly<Partial<Record<SearchType, readonly string[]>>> = {
  Condition: ['code'],
  Observation: ['code', 'component-code'],
  Procedure: ['code'],
  MedicationRequest: ['code'],
  MedicationStatement: ['code'],
  MedicationAdministration: ['code'],
  Medication: ['code'],
  Immunization: ['vaccine-code'],
  Encounter: ['type', 'class'],
};

/** Date parameters of a type's event date; several are alternatives. */
const DATE_PARAMS: Readonly<Partial<Record<SearchType, readonly string[]>>> = {
  Condition: ['onset-date', 'recorded-date'],
  Observation: ['date'],
  Procedure: ['date'],
  MedicationRequest: ['authoredon'],
  MedicationStatement: ['effective'],
  MedicationAdministration: ['effective-time'],
  Immunization: ['date'],
  Encounter: ['date'],
};

/** Elements the node reads of each type, for `_elements`. */
export const TYPE_ELEMENTS: Readonly<Record<SearchType, readonly string[]>> = Object.freeze({
  Patient: ['gender', 'birthDate', 'deceased'],
  Condition: ['subject', 'code', 'onset', 'recordedDate', 'verificationStatus'],
  Observation: ['status', 'subject', 'code', 'effective', 'value', 'component'],
  Procedure: ['status', 'subject', 'code', 'performed'],
  MedicationRequest: ['status', 'subject', 'medication', 'authoredOn', 'contained'],
  MedicationStatement: ['status', 'subject', 'medication', 'effective', 'contained'],
  MedicationAdministration: ['status', 'subject', 'medication', 'effective', 'contained'],
  Medication: ['status', 'code'],
  Immunization: ['status', 'patient', 'vaccineCode', 'occurrence'],
  Encounter: ['status', 'subject', 'type', 'class', 'period'],
  Consent: ['status', 'patient', 'subject', 'provision'],
});

/** Values per parameter per search, so URLs stay well under common server limits. */
export const MAX_VALUES_PER_PARAM = 40;
/** Days added to each side of a date range sent to a server. */
export const DATE_MARGIN_DAYS = 2;

/** What one event criterion (or measure, or dimension) asks of resources. */
export interface EventSearch {
  readonly kind: EventKind;
  readonly code: CodeSet;
  readonly period?: Period;
  readonly value?: ValueRange;
  readonly valueCode?: CodeSet;
  /** Medications: the resource types the criterion keeps to, when not all three. */
  readonly resourceTypes?: readonly SearchType[];
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The forms a normalised code may take in the data. */
function codeForms(system: string, code: string): string[] {
  const normal = normaliseCode(system, code);
  return isIcd10(system) && normal.length > 3
    ? [normal, `${normal.slice(0, 3)}.${normal.slice(3)}`]
    : [normal];
}

/**
 * Alternatives (OR) on one token parameter that together cover `codes`, or
 * undefined when the server cannot search that parameter.
 */
export function tokenAlternatives(
  caps: SourceCapabilities,
  type: SearchType,
  name: string,
  codes: CodeSet,
): SearchParam[] | undefined {
  if (!supportsParam(caps, type, name)) return undefined;
  const below = supportsModifier(caps, type, name, 'below');
  const wholeSystems = new Set<string>();
  const exact: SearchValue[] = [];
  const belowValues: SearchValue[] = [];
  for (const coding of codes) {
    if (coding.descendants === true && !below) {
      wholeSystems.add(coding.system);
      continue;
    }
    const target = coding.descendants === true ? belowValues : exact;
    for (const code of codeForms(coding.system, coding.code)) {
      target.push({ kind: 'token', system: coding.system, code });
    }
  }
  const plain: SearchValue[] = [
    ...[...wholeSystems].map((system): SearchValue => ({ kind: 'token', system })),
    ...exact.filter((v) => v.kind === 'token' && !wholeSystems.has(v.system)),
  ];
  return [
    ...chunk(plain, MAX_VALUES_PER_PARAM).map((values) => ({ name, values })),
    ...chunk(belowValues, MAX_VALUES_PER_PARAM).map((values): SearchParam => ({
      name,
      modifier: 'below',
      values,
    })),
  ];
}

/**
 * `YYYY-MM-DD` moved by `days`.
 * @example shiftDate('2020-03-01', -2) // '2020-02-28'
 */
export function shiftDate(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  const shifted = new Date(t).toISOString().slice(0, 10);
  return /^\d{4}-/.test(shifted) ? shifted : date;
}

/** Alternatives (OR) of parameter groups (AND) that cover a period; `[[]]` when none can. */
function dateAlternatives(
  caps: SourceCapabilities,
  type: SearchType,
  period: Period | undefined,
): SearchParam[][] {
  if (period === undefined || (period.from === undefined && period.to === undefined)) return [[]];
  const names = DATE_PARAMS[type] ?? [];
  if (names.length === 0 || !names.every((n) => supportsRange(caps, type, n))) return [[]];
  return names.map((name) => {
    const group: SearchParam[] = [];
    if (period.from !== undefined) {
      const date = shiftDate(period.from, -DATE_MARGIN_DAYS);
      group.push({ name, values: [{ kind: 'date', prefix: 'ge', date }] });
    }
    if (period.to !== undefined) {
      const date = shiftDate(period.to, DATE_MARGIN_DAYS);
      group.push({ name, values: [{ kind: 'date', prefix: 'le', date }] });
    }
    return group;
  });
}

/** A bound moved outwards by a hair, so a server's float rounding cannot cut a value on it. */
function widen(bound: number, direction: -1 | 1): number {
  return bound + direction * Math.max(Math.abs(bound) * 1e-9, 1e-12);
}

/**
 * `value-quantity` bounds, when declared with both prefixes. Left out when
 * a code converts by rules beyond UCUM (between mass and moles by a molar
 * mass, or by a clinical conversion such as HbA1c's, which the node knows
 * and a server does not); a server that declares `value-quantity` is taken to
 * compare UCUM quantities in canonical units, as FHIR search recommends.
 */
function valueParams(
  caps: SourceCapabilities,
  search: EventSearch,
  name: 'value-quantity' | 'component-value-quantity',
): SearchParam[] {
  const value = search.value;
  if (value === undefined || !supportsRange(caps, 'Observation', name)) return [];
  if (search.code.some((c) => convertsBeyondUcum(c.system, c.code))) return [];
  const params: SearchParam[] = [];
  for (const [prefix, bound] of [
    ['ge', value.min],
    ['le', value.max],
  ] as const) {
    if (bound === undefined) continue;
    const v = widen(bound, prefix === 'ge' ? -1 : 1);
    params.push({
      name,
      values: [{ kind: 'quantity', prefix, value: v, system: UCUM, code: value.unit }],
    });
  }
  return params;
}

/** Alternatives on a type's code; undefined when any way to match cannot be searched. */
function codeAlternatives(
  caps: SourceCapabilities,
  type: SearchType,
  codes: CodeSet,
): SearchParam[] | undefined {
  const alternatives: SearchParam[] = [];
  for (const name of CODE_PARAMS[type] ?? []) {
    const found = tokenAlternatives(caps, type, name, codes);
    if (found === undefined) return undefined;
    alternatives.push(...found);
  }
  if (KIND_TYPES.medication.includes(type)) {
    if (!supportsModifier(caps, type, 'medication', 'missing')) return undefined;
    alternatives.push({
      name: 'medication',
      modifier: 'missing',
      values: [{ kind: 'missing', value: false }],
    });
  }
  return alternatives;
}

/**
 * The searches (a union) that fetch every resource of `type` the search can
 * match.
 */
export function planSearches(
  caps: SourceCapabilities,
  type: SearchType,
  search: EventSearch,
): SearchSpec[] {
  if (!canSearch(caps, type)) return [];
  const codes = codeAlternatives(caps, type, search.code);
  const dates = dateAlternatives(caps, type, search.period);
  const specs: SearchSpec[] = [];
  for (const code of codes ?? [undefined]) {
    const { values, valueCodes } = observedValueParams(caps, type, search, code);
    for (const date of dates) {
      for (const valueCode of valueCodes ?? [undefined]) {
        const params: SearchParam[] = [
          ...(code === undefined ? [] : [code]),
          ...date,
          ...values,
          ...(valueCode === undefined ? [] : [valueCode]),
        ];
        specs.push({ type, params });
      }
    }
  }
  return specs;
}

/**
 * The value parameters that narrow one Observation search by code: the
 * Observation's own value on a `code` search, a component's on a
 * `component-code` search, none on a search that does not select by code.
 */
function observedValueParams(
  caps: SourceCapabilities,
  type: SearchType,
  search: EventSearch,
  code: SearchParam | undefined,
): { values: SearchParam[]; valueCodes: SearchParam[] | undefined } {
  if (type !== 'Observation' || code === undefined) return { values: [], valueCodes: undefined };
  const component = code.name === 'component-code';
  const values = valueParams(
    caps,
    search,
    component ? 'component-value-quantity' : 'value-quantity',
  );
  const concept = component ? 'component-value-concept' : 'value-concept';
  const valueCodes =
    search.valueCode === undefined
      ? undefined
      : tokenAlternatives(caps, type, concept, search.valueCode);
  return { values, valueCodes };
}

/**
 * The searches that find the Medications whose code is in `codes`, which
 * resolve the references of medication uses.
 */
export function medicationSearches(caps: SourceCapabilities, codes: CodeSet): SearchSpec[] {
  if (!canSearch(caps, 'Medication')) return [];
  const alternatives = tokenAlternatives(caps, 'Medication', 'code', codes);
  if (alternatives === undefined) return [{ type: 'Medication', params: [] }];
  return alternatives.map((p) => ({ type: 'Medication', params: [p] }));
}
