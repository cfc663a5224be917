// Generated from schemas/fixtures/queries/examples.json and the fixtures it names by `npm run generate:types`. Do not edit.
import type { CohortQuery } from './query.ts';

/** An example query as the demo and the web page offer it. */
export interface ExampleQuery {
  /** The fixture's file name without `.json` (schemas/fixtures/queries/valid/). */
  readonly id: string;
  /** A short name, for a menu. */
  readonly title: string;
  /** One sentence that names the codes, for a heading. */
  readonly description: string;
  readonly query: CohortQuery;
}

export const EXAMPLE_QUERIES: readonly ExampleQuery[] = [
  {
    id: 'example-1-women-40-79-type-2-diabetes-by-age-band',
    title: 'Women 40-79 with type 2 diabetes, by age band',
    description: 'Women aged 40 to 79 with type 2 diabetes (ICD-10 E11 and below), by age band',
    query: {
      version: 1,
      cohort: {
        all: [
          { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
          {
            condition: {
              code: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11', descendants: true }],
            },
          },
        ],
      },
      stratify: [{ ageBand: [0, 18, 40, 65, 80] }],
    },
  },
  {
    id: 'example-2-hba1c-since-2020-without-metformin',
    title: 'HbA1c >= 6.5 % since 2020, never metformin',
    description: 'HbA1c of at least 6.5 % since 2020, never metformin (ATC A10BA02)',
    query: {
      version: 1,
      cohort: {
        all: [
          {
            observation: {
              code: [{ system: 'http://loinc.org', code: '4548-4' }],
              value: { min: 6.5, unit: '%' },
              period: { from: '2020-01-01' },
            },
          },
          {
            not: { medication: { code: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] } },
          },
        ],
      },
      measures: [
        { count: 'patients' },
        {
          histogram: {
            observation: [{ system: 'http://loinc.org', code: '4548-4' }],
            unit: '%',
            edges: [0, 5.7, 6.5, 8, 10],
            pick: 'latest',
          },
        },
      ],
    },
  },
  {
    id: 'example-3-prediabetes-by-gender',
    title: 'Prediabetes by gender',
    description: 'Patients with prediabetes (SNOMED CT 15777000), by gender',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
      stratify: ['gender'],
    },
  },
  {
    id: 'example-4-hypertension-by-gender',
    title: 'Hypertension by gender',
    description: 'Patients with hypertension (ICD-10 I10), by gender',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'I10' }] } },
      stratify: ['gender'],
    },
  },
];
