// The gateway benchmark's queries: one question (women in an age range with
// type 2 diabetes, by age band) in as many variants as a run needs, so that
// no two requests of a run share a query hash and the gateway's result cache
// never answers. Variant `i` differs from variant `j` in its age bounds or its
// `asOf` date, both part of the hash; `asOf` is always explicit, so the hash
// is known before the gateway pins anything.
import type { CohortQuery } from '@tessera/schemas';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const MIN_AGES = 50;
const MAX_AGES = 50;
const FIRST_MIN_AGE = 18;
const FIRST_MAX_AGE = 68;
const PER_DAY = MIN_AGES * MAX_AGES;
const FIRST_DAY = Date.UTC(2025, 0, 1);
const DAY_MS = 86_400_000;
/** Dates stay within the query language's four-digit years. */
export const MAX_VARIANTS = PER_DAY * 2_000_000;

export const AGE_BAND_EDGES = [0, 18, 40, 65, 80] as const;

/**
 * Variant `index` of the benchmark query.
 * @example variantQuery(0).asOf // '2025-01-01'
 */
export function variantQuery(index: number): CohortQuery {
  if (!Number.isSafeInteger(index) || index < 0 || index >= MAX_VARIANTS) {
    throw new RangeError(`variantQuery: index out of range: ${index}`);
  }
  const min = FIRST_MIN_AGE + (index % MIN_AGES);
  const max = FIRST_MAX_AGE + (Math.floor(index / MIN_AGES) % MAX_AGES);
  const day = Math.floor(index / PER_DAY);
  return {
    version: 1,
    asOf: new Date(FIRST_DAY + day * DAY_MS).toISOString().slice(0, 10),
    cohort: {
      all: [
        { patient: { gender: ['female'], age: { min, max } } },
        { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
      ],
    },
    stratify: [{ ageBand: [...AGE_BAND_EDGES] }],
  };
}

function objectOf(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * The index of the variant a query (as sent, or in the gateway's canonical
 * form) is, or undefined when it is none of them.
 * @example variantIndexOf(variantQuery(12345)) // 12345
 */
export function variantIndexOf(query: unknown): number | undefined {
  const q = objectOf(query);
  const asOf = q?.asOf;
  const all = objectOf(q?.cohort)?.all;
  if (typeof asOf !== 'string' || !Array.isArray(all)) return undefined;
  let age: Record<string, unknown> | undefined;
  for (const child of all) {
    const patient = objectOf(objectOf(child)?.patient);
    if (patient !== undefined) age = objectOf(patient.age);
  }
  const min = age?.min;
  const max = age?.max;
  const at = Date.parse(`${asOf}T00:00:00Z`);
  if (typeof min !== 'number' || typeof max !== 'number' || Number.isNaN(at)) return undefined;
  const day = (at - FIRST_DAY) / DAY_MS;
  const i = min - FIRST_MIN_AGE;
  const j = max - FIRST_MAX_AGE;
  if (!Number.isInteger(day) || day < 0 || i < 0 || i >= MIN_AGES || j < 0 || j >= MAX_AGES) {
    return undefined;
  }
  return day * PER_DAY + j * MIN_AGES + i;
}
