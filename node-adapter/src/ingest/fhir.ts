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

/** First usable date of two or three candidates, in order. */
export function firstDate(
  a: unknown,
  b?: unknown,
  c?: unknown,
  d?: unknown,
  e?: unknown,
): string | null {
  return fhirDate(a) ?? fhirDate(b) ?? fhirDate(c) ?? fhirDate(d) ?? fhirDate(e);
}

/** The start of a Period, when the value is one. */
export function periodStart(period: unknown): unknown {
  return isObject(period) ? period.start : undefined;
}

/** What a Bundle entry's fullUrl stands for, so `urn:uuid:` references resolve. */
export interface BundleTarget {
  readonly type: string;
  readonly id: string;
}

export type BundleIndex = ReadonlyMap<string, BundleTarget>;

const LITERAL_REFERENCE = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/;

/**
 * The logical id a Reference points to when it names a resource of `type`:
 * `Type/<id>`, an absolute URL ending in `Type/<id>`, a Bundle entry's
 * fullUrl, or `urn:uuid:<id>`. Conditional and contained references, and
 * references to another type, give undefined.
 * @example referencedId({ reference: 'Patient/p1' }, 'Patient') // 'p1'
 */
export function referencedId(
  reference: unknown,
  type: string,
  bundle?: BundleIndex,
): string | undefined {
  if (!isObject(reference)) return undefined;
  const ref = stringOf(reference.reference);
  if (ref === undefined) return undefined;
  if (bundle !== undefined) {
    const target = bundle.get(ref);
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
