// Reading FHIR JSON that nobody has validated: narrow guards instead of
// casts, dates and references read the way the store layout prescribes.
import { normaliseCode } from '@tessera/schemas';

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A system and a code as stored: both present, the code normalised. */
export interface FlatCoding {
  readonly system: string;
  readonly code: string;
  /** The coding's `display`, trimmed, at most DISPLAY_MAX_LENGTH characters; absent when it has none. */
  readonly display?: string;
}

/** Longer displays are cut: a code's name, not a note. */
export const DISPLAY_MAX_LENGTH = 200;

/**
 * Appends the usable codings of a CodeableConcept (or of a bare Coding) to
 * `out`, skipping codings without a system or a code and duplicates.
 * @example codingsOf({ coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11.9' }] }, out)
 */
export function codingsOf(concept: unknown, out: FlatCoding[]): void {
  if (!isObject(concept)) return;
  const list = concept.coding;
  if (Array.isArray(list)) {
    for (const coding of list) pushCoding(coding, out);
  } else if ('code' in concept) {
    pushCoding(concept, out);
  }
}

function pushCoding(coding: unknown, out: FlatCoding[]): void {
  if (!isObject(coding)) return;
  const system = stringOf(coding.system);
  const raw = stringOf(coding.code);
  if (system === undefined || raw === undefined) return;
  const code = normaliseCode(system, raw);
  for (const seen of out) if (seen.code === code && seen.system === system) return;
  const display = stringOf(coding.display)?.trim().slice(0, DISPLAY_MAX_LENGTH);
  out.push(display ? { system, code, display } : { system, code });
}

/**
 * The calendar date of a FHIR date, dateTime or instant as `YYYY-MM-DD`: the
 * date as written (no time-zone shift), partial dates at their first day,
 * anything unreadable as null.
 * @example fhirDate('2014-05-18T01:06:23-04:00') // '2014-05-18'
 * @example fhirDate('1970-03') // '1970-03-01'
 */
export function fhirDate(value: unknown): string | null {
  if (typeof value !== 'string' || value.length < 4) return null;
  // Hand-rolled rather than a regular expression: this runs for every resource.
  const year = digits(value, 0, 4);
  if (year < 1) return null;
  let month = 1;
  let day = 1;
  if (value.length >= 7 && value.charCodeAt(4) === 45) {
    month = digits(value, 5, 2);
    if (value.length >= 10 && value.charCodeAt(7) === 45) day = digits(value, 8, 2);
  } else if (value.length > 4 && value.charCodeAt(4) !== 45) {
    return null;
  }
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (month === 1 && day === 1 && value.length < 10) return `${value.slice(0, 4)}-01-01`;
  if (day === 1 && value.length < 10) return `${value.slice(0, 7)}-01`;
  return value.length === 10 ? value : value.slice(0, 10);
}

/** The decimal number in `count` digits at `start`, or -1. */
function digits(text: string, start: number, count: number): number {
  let n = 0;
  for (let i = start; i < start + count; i++) {
    const d = text.charCodeAt(i) - 48;
    if (!(d >= 0 && d <= 9)) return -1;
    n = n * 10 + d;
  }
  return n;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** First usable date of the candidates, in order. */
export function firstDate(...candidates: unknown[]): string | null {
  for (const candidate of candidates) {
    const date = fhirDate(candidate);
    if (date !== null) return date;
  }
  return null;
}

/** An Age as whole months (years and months) or whole days (weeks and days). */
export interface AgeSpan {
  readonly months: number;
  readonly days: number;
}

const AGE_UNITS: Readonly<Record<string, { months?: number; days?: number }>> = {
  a: { months: 12 },
  mo: { months: 1 },
  wk: { days: 7 },
  d: { days: 1 },
};

/**
 * An Age (a UCUM Quantity in `a`, `mo`, `wk` or `d`, not negative) as a
 * span: years and months in whole months, weeks and days in whole days,
 * rounded. Anything else is undefined.
 * @example ageSpan({ value: 52, system: 'http://unitsofmeasure.org', code: 'a' }) // { months: 624, days: 0 }
 */
export function ageSpan(age: unknown): AgeSpan | undefined {
  if (!isObject(age) || typeof age.value !== 'number' || !(age.value >= 0)) return undefined;
  if (!Number.isFinite(age.value)) return undefined;
  const unit = AGE_UNITS[stringOf(age.code) ?? ''];
  if (unit === undefined) return undefined;
  return {
    months: Math.round(age.value * (unit.months ?? 0)),
    days: Math.round(age.value * (unit.days ?? 0)),
  };
}

/**
 * `YYYY-MM-DD` plus an age span, as the store computes it: months first,
 * a day the month lacks clamped to its last day, then days.
 * @example addAgeSpan('2000-01-31', { months: 1, days: 0 }) // '2000-02-29'
 */
export function addAgeSpan(date: string, span: AgeSpan): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const months = y * 12 + (m - 1) + span.months;
  const year = Math.floor(months / 12);
  const month = (months % 12) + 1;
  const day = Math.min(d, daysInMonth(year, month));
  const shifted = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as they are.
  shifted.setUTCFullYear(year, month - 1, day + span.days);
  return shifted.toISOString().slice(0, 10);
}

/** The start of a Period, when the value is one. */
export function periodStart(period: unknown): unknown {
  return isObject(period) ? period.start : undefined;
}

/** What a Bundle entry's fullUrl stands for, so references to it resolve. */
export interface BundleTarget {
  readonly type: string;
  readonly id: string;
}

export type BundleIndex = ReadonlyMap<string, BundleTarget>;

const LITERAL_REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;
const RELATIVE_REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/;
const RESTFUL_URL = /^(https?:\/\/.+)\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[^/]+)?$/;

/**
 * The logical id a Bundle entry's fullUrl gives a resource of `type` that
 * has no id of its own: the uuid or oid of a `urn:`, or the id of a RESTful
 * URL (absolute, or relative as some exports write it) naming that type.
 * @example idFromFullUrl('urn:uuid:3f1a', 'Patient') // '3f1a'
 * @example idFromFullUrl('https://fhir.example/r4/Patient/3f1a', 'Patient') // '3f1a'
 */
export function idFromFullUrl(fullUrl: unknown, type: string): string | undefined {
  if (typeof fullUrl !== 'string') return undefined;
  if (fullUrl.startsWith('urn:uuid:') || fullUrl.startsWith('urn:oid:')) {
    return stringOf(fullUrl.slice(fullUrl.indexOf(':', 4) + 1));
  }
  const match = LITERAL_REFERENCE.exec(fullUrl);
  return match !== null && match[1] === type ? match[2] : undefined;
}

/**
 * The server base of a RESTful fullUrl (`https://x/r4` of
 * `https://x/r4/Patient/1`), against which the entry's relative references
 * resolve; undefined for a `urn:` or relative fullUrl.
 * @example fullUrlBase('https://fhir.example/r4/Observation/o1') // 'https://fhir.example/r4'
 */
export function fullUrlBase(fullUrl: unknown): string | undefined {
  if (typeof fullUrl !== 'string') return undefined;
  return RESTFUL_URL.exec(fullUrl)?.[1];
}

/** Where a reference is read: the Bundle it came from and its entry's server base. */
export interface ReferenceContext {
  readonly bundle?: BundleIndex;
  /** The RESTful base of the referencing entry's fullUrl. */
  readonly base?: string;
}

/**
 * The logical id a Reference points to when it names a resource of `type`,
 * resolved as FHIR resolves references in a Bundle: a reference equal to an
 * entry's fullUrl is that entry's resource; a relative one is first
 * resolved against the referencing entry's server base; otherwise `Type/<id>`,
 * an absolute URL ending in `Type/<id>`, or `urn:uuid:<id>` give the id.
 * Conditional and contained references, and references to another type,
 * give undefined.
 * @example referencedId({ reference: 'Patient/p1' }, 'Patient') // 'p1'
 */
export function referencedId(
  reference: unknown,
  type: string,
  context: ReferenceContext = {},
): string | undefined {
  if (!isObject(reference)) return undefined;
  const ref = stringOf(reference.reference);
  if (ref === undefined) return undefined;
  const { bundle, base } = context;
  if (bundle !== undefined) {
    let target = bundle.get(ref);
    if (target === undefined && base !== undefined && RELATIVE_REFERENCE.test(ref)) {
      target = bundle.get(`${base}/${ref}`);
    }
    if (target !== undefined) return target.type === type ? target.id : undefined;
  }
  if (ref.startsWith('urn:uuid:')) return stringOf(ref.slice(9));
  // Fast path for the common `Type/<id>`.
  if (ref.length > type.length + 1 && ref.startsWith(type) && ref[type.length] === '/') {
    const id = ref.slice(type.length + 1);
    if (!id.includes('/') && !id.includes('?')) return id;
  }
  const match = LITERAL_REFERENCE.exec(ref);
  return match !== null && match[1] === type ? match[2] : undefined;
}

/**
 * The resource type a reference names, when it says: its Bundle target's,
 * the `Type/` of a literal reference, or the Reference's `type` element.
 * @example referencedType({ reference: 'Group/g1' }) // 'Group'
 */
export function referencedType(
  reference: JsonObject,
  context: ReferenceContext = {},
): string | undefined {
  const ref = stringOf(reference.reference);
  if (ref !== undefined) {
    const target =
      context.bundle?.get(ref) ??
      (context.base !== undefined ? context.bundle?.get(`${context.base}/${ref}`) : undefined);
    if (target !== undefined) return target.type;
    const match = LITERAL_REFERENCE.exec(ref);
    if (match !== null) return match[1];
  }
  return stringOf(reference.type);
}
