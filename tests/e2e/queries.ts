// Cohort queries the whole-system tests send, as a researcher would.
import type { CohortQuery } from '@tessera/schemas';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

/** Patients with essential hypertension (ICD-10 I10), by gender: common enough to be released. */
export const HYPERTENSION_BY_GENDER: CohortQuery = {
  version: 1,
  cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } },
  stratify: ['gender'],
};

/** The query-language example 1. */
export const WOMEN_WITH_TYPE_2_DIABETES_BY_AGE_BAND: CohortQuery = {
  version: 1,
  cohort: {
    all: [
      { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
      { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
    ],
  },
  stratify: [{ ageBand: [0, 18, 40, 65, 80] }],
};

/**
 * Patients of an age range: a different question (and query hash) for every
 * range, for tests that must not meet another test's cached answer.
 */
export function patientsAged(min: number, max: number, nodes?: readonly string[]): CohortQuery {
  return {
    version: 1,
    cohort: { patient: { age: { min, max } } },
    ...(nodes === undefined ? {} : { nodes: [...nodes] as [string, ...string[]] }),
  };
}
