// Cohort queries the whole-system tests send, as a researcher would.
import { type CohortQuery, EXAMPLE_QUERIES } from '@tessera/schemas';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

/** Patients with essential hypertension (ICD-10 I10), by gender: common enough to be released. */
export const HYPERTENSION_BY_GENDER: CohortQuery = {
  version: 1,
  cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } },
  stratify: ['gender'],
};

/** The query-language example 1, from the example queries' one home. */
export const WOMEN_WITH_TYPE_2_DIABETES_BY_AGE_BAND: CohortQuery = exampleQuery(
  'example-1-women-40-79-type-2-diabetes-by-age-band',
);

function exampleQuery(id: string): CohortQuery {
  const example = EXAMPLE_QUERIES.find((e) => e.id === id);
  if (example === undefined) throw new Error(`no example query ${id}`);
  return example.query;
}

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
