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
// - Where the date falls back on an element the date parameter does not
//   cover (PARTIAL_DATE_PARAMS), a period also fetches `<param>:missing=true`,
//   and a Condition's onset age `onset-age:missing=false` (servers differ on
//   what the first finds), or is not narrowed when the server lacks `:missing`.
// - Encounters match on `type` or `class`: one search each.
// - Observations match on their code or on a component's (blood pressure's
//   systolic and diastolic): one search each, a value narrowing each by its
//   own parameter (`value-quantity` or `component-value-quantity`, the same
//   for concepts); a search that cannot select by code reads every
//   Observation, whatever its value.
// - Values a Quantity search cannot see (valueInteger, valueRatio) are
//   fetched by `value-quantity:missing=true` beside the bounded search;
//   value codes that stand for valueBoolean or a valueString are not
//   narrowed by `value-concept`.
// - Medication uses match on their own code or on a referenced Medication's,
//   contained ones included, which no search can select by code: the uses
//   coded inline are searched by code, and those that reference a Medication
//   are read whole (`medication:missing=false`) when the server declares
//   `:missing`; otherwise every use is read. A Medication matches on its
//   code or an ingredient's: searched by `code` and `ingredient-code`, or
//   read whole.
import { isIcd10, normaliseCode } from '@tessera/schemas';
import type { CodeSet, EventKind, Period, ValueRange } from '@tessera/schemas';
import { convertsBeyondUcum } from '../engine/units.ts';
import { SPECIAL_VALUES, VALUE_STRING } from '../ingest/flatten.ts';
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

/**
 * Date parameters that miss some event dates the node reads: the date
 * falls back on an element the parameter does not cover (Observation
 * `issued`, a Condition's `onsetAge`, R5 MedicationAdministration
 * `occurence[x]`). A period is narrowed only together with `:missing=true`
 * on it, which fetches those resources too.
 */
const PARTIAL_DATE_PARAMS: Readonly<Partial<Record<SearchType, string>>> = {
  Condition: 'onset-date',
  Observation: 'date',
  MedicationAdministration: 'effective-time',
};

/**
 * Where servers disagree on what `:missing=true` on the date parameter
 * means (Condition `onset-date`: the parameter's values, as FHIR defines
 * it, or the `onset[x]` element, as some servers read it, which an
 * `onsetAge` then fills), the fallback dates are fetched once more by a
 * parameter of their own, `<param>:missing=false` (`onset-age`: any
 * Condition with an onset age, or with any onset; the node reads the date).
 */
const FALLBACK_DATE_PARAMS: Readonly<Partial<Record<SearchType, string>>> = {
  Condition: 'onset-age',
};

/** Elements the node reads of each type, for `_elements`. */
export const TYPE_ELEMENTS: Readonly<Record<SearchType, readonly string[]>> = Object.freeze({
  Patient: ['gender', 'birthDate', 'deceased'],
  Condition: ['subject', 'code', 'onset', 'recordedDate', 'verificationStatus'],
  Observation: ['status', 'subject', 'code', 'effective', 'issued', 'value', 'component'],
  Procedure: ['status', 'subject', 'code', 'performed'],
  MedicationRequest: ['status', 'subject', 'medication', 'authoredOn', 'contained'],
  MedicationStatement: ['status', 'subject', 'medication', 'effective', 'contained'],
  MedicationAdministration: [
    'status',
    'subject',
    'medication',
    'effective',
    'occurence',
    'contained',
  ],
  Medication: ['status', 'code', 'ingredient'],
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
  const partial = PARTIAL_DATE_PARAMS[type];
  const fallback = FALLBACK_DATE_PARAMS[type];
  for (const name of [partial, fallback]) {
    if (name !== undefined && !supportsModifier(caps, type, name, 'missing')) return [[]];
  }
  const undated: SearchParam[][] = [
    ...(partial === undefined
      ? []
      : [[{ name: partial, modifier: 'missing', values: [{ kind: 'missing', value: true }] }]]),
    ...(fallback === undefined
      ? []
      : [[{ name: fallback, modifier: 'missing', values: [{ kind: 'missing', value: false }] }]]),
  ] as SearchParam[][];
  const ranges = names.map((name) => {
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
  return [...ranges, ...undated];
}

/** A bound moved outwards by a hair, so a server's float rounding cannot cut a value on it. */
function widen(bound: number, direction: -1 | 1): number {
  return bound + direction * Math.max(Math.abs(bound) * 1e-9, 1e-12);
}

/**
 * Alternatives (OR) that cover a value range on `name` (`value-quantity`, or
 * `component-value-quantity` on a component search): its bounds, and for the
 * values a Quantity search cannot see (valueInteger, valueRatio)
 * `name:missing=true`; `[[]]` (no narrowing) unless the server declares both
 * prefixes and `:missing`. Left out when a code converts by rules beyond UCUM
 * (between mass and moles by a molar mass, or by a clinical conversion such
 * as HbA1c's, which the node knows and a server does not); a server that
 * declares `value-quantity` is taken to compare UCUM quantities in canonical
 * units, as FHIR search recommends.
 */
function valueAlternatives(
  caps: SourceCapabilities,
  search: EventSearch,
  name: 'value-quantity' | 'component-value-quantity',
): SearchParam[][] {
  const value = search.value;
  if (value === undefined || !supportsRange(caps, 'Observation', name)) return [[]];
  if (!supportsModifier(caps, 'Observation', name, 'missing')) return [[]];
  if (search.code.some((c) => convertsBeyondUcum(c.system, c.code))) return [[]];
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
  const notQuantity: SearchParam = {
    name,
    modifier: 'missing',
    values: [{ kind: 'missing', value: true }],
  };
  return [params, [notQuantity]];
}

/**
 * `value-concept` alternatives for a value code set, unless it holds codes
 * that stand for valueBoolean or valueString, which no concept search finds.
 */
function valueCodeAlternatives(
  caps: SourceCapabilities,
  valueCode: CodeSet | undefined,
  name: 'value-concept' | 'component-value-concept',
): SearchParam[] | undefined {
  if (valueCode === undefined) return undefined;
  if (valueCode.some((c) => c.system === SPECIAL_VALUES || c.system === VALUE_STRING)) {
    return undefined;
  }
  return tokenAlternatives(caps, 'Observation', name, valueCode);
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
      for (const value of values) {
        for (const valueCode of valueCodes ?? [undefined]) {
          const params: SearchParam[] = [
            ...(code === undefined ? [] : [code]),
            ...date,
            ...value,
            ...(valueCode === undefined ? [] : [valueCode]),
          ];
          specs.push({ type, params });
        }
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
): { values: SearchParam[][]; valueCodes: SearchParam[] | undefined } {
  if (type !== 'Observation' || code === undefined) return { values: [[]], valueCodes: undefined };
  const component = code.name === 'component-code';
  const values = valueAlternatives(
    caps,
    search,
    component ? 'component-value-quantity' : 'value-quantity',
  );
  const concept = component ? 'component-value-concept' : 'value-concept';
  return { values, valueCodes: valueCodeAlternatives(caps, search.valueCode, concept) };
}

/**
 * The searches that find the Medications whose code, or an ingredient's
 * code, is in `codes`, which resolve the references of medication uses;
 * every Medication when the server cannot search both.
 */
export function medicationSearches(caps: SourceCapabilities, codes: CodeSet): SearchSpec[] {
  if (!canSearch(caps, 'Medication')) return [];
  const own = tokenAlternatives(caps, 'Medication', 'code', codes);
  const ingredients = tokenAlternatives(caps, 'Medication', 'ingredient-code', codes);
  if (own === undefined || ingredients === undefined) return [{ type: 'Medication', params: [] }];
  return [...own, ...ingredients].map((p) => ({ type: 'Medication', params: [p] }));
}
