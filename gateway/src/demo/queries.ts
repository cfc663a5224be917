// The query-language examples the demo runs, as the researcher would send them.
import type { CohortQuery } from '@tessera/schemas';

export const DEMO_QUERIES: readonly { title: string; query: CohortQuery }[] = [
  {
    title: 'Women aged 40 to 79 with type 2 diabetes (ICD-10 E11 and below), by age band',
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
    title: 'HbA1c of at least 6.5 % since 2020, never metformin (ATC A10BA02)',
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
    title: 'Patients with prediabetes (SNOMED CT 15777000), by gender',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
      stratify: ['gender'],
    },
  },
];
