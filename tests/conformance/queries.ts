// The conformance query set: between them the queries use every criterion
// kind, all/any/not, every stratification dimension and every measure, over
// the codes and units of the oracle's random population.
import type { CohortQuery } from '@tessera/schemas';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

// Queries that between them use every criterion kind, all/any/not, every
// dimension and every measure.
export const QUERIES: readonly CohortQuery[] = [
  {
    version: 1,
    cohort: { patient: { gender: ['female'], age: { min: 18, max: 79 } } },
    stratify: [{ ageBand: [0, 18, 40, 65, 80] }],
  },
  {
    version: 1,
    cohort: { patient: { birthDate: { from: '1950-01-01', to: '1999-12-31' }, deceased: false } },
    stratify: ['deceased'],
  },
  {
    version: 1,
    cohort: { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
    stratify: ['gender'],
  },
  {
    version: 1,
    cohort: {
      all: [
        {
          condition: {
            code: [
              { system: ICD10, code: 'E11.9' },
              { system: SNOMED, code: '15777000' },
            ],
            period: { from: '2015-01-01', to: '2022-12-31' },
          },
        },
        { not: { medication: { code: [{ system: ATC, code: 'A10', descendants: true }] } } },
      ],
    },
  },
  {
    version: 1,
    cohort: {
      any: [
        { medication: { code: [{ system: ATC, code: 'A10BA02' }], atLeast: 2 } },
        { procedure: { code: [{ system: SNOMED, code: '73761001' }], ageAtEvent: { min: 30 } } },
        {
          immunization: {
            code: [
              { system: CVX, code: '140' },
              { system: CVX, code: '208' },
            ],
            period: { from: '2018-01-01' },
          },
        },
      ],
    },
    stratify: ['gender', 'deceased'],
  },
  {
    version: 1,
    cohort: {
      encounter: {
        code: [
          { system: ACT_CODE, code: 'AMB' },
          { system: SNOMED, code: '185349003' },
        ],
        period: { to: '2020-06-30' },
      },
    },
    stratify: [
      {
        codes: {
          of: 'condition',
          in: [
            { system: ICD10, code: 'E1', descendants: true },
            { system: SNOMED, code: '44054006' },
          ],
        },
      },
    ],
  },
  {
    version: 1,
    cohort: {
      observation: {
        code: [{ system: LOINC, code: '4548-4' }],
        value: { min: 6.5, unit: '%' },
        period: { from: '2012-01-01' },
      },
    },
    measures: [
      { count: 'patients' },
      {
        histogram: {
          observation: [{ system: LOINC, code: '4548-4' }],
          unit: '%',
          edges: [0, 5.7, 6.5, 8, 10],
          pick: 'latest',
        },
      },
    ],
  },
  {
    version: 1,
    cohort: {
      observation: {
        code: [{ system: LOINC, code: '72166-2' }],
        valueCode: [{ system: SNOMED, code: '449868002' }],
      },
    },
  },
  {
    version: 1,
    cohort: { not: { patient: { deceased: true } } },
    stratify: ['gender'],
    measures: [
      {
        summary: {
          observation: [
            { system: LOINC, code: '2339-0' },
            { system: LOINC, code: '15074-8' },
          ],
          unit: 'mg/dL',
          pick: 'mean',
        },
      },
      {
        summary: {
          observation: [{ system: LOINC, code: '29463-7' }],
          unit: 'kg',
          pick: 'earliest',
          period: { from: '2014-01-01' },
        },
      },
      {
        histogram: {
          observation: [{ system: LOINC, code: '8302-2' }],
          unit: 'cm',
          edges: [100, 150, 170, 190],
          pick: 'latest',
        },
      },
    ],
  },
  {
    version: 1,
    cohort: {
      observation: {
        code: [
          { system: LOINC, code: '2339-0' },
          { system: LOINC, code: '15074-8' },
        ],
        value: { min: 5.5, max: 11.1, unit: 'mmol/L' },
        atLeast: 2,
      },
    },
  },
  // HbA1c in % (NGSP) and mmol/mol (IFCC): the master equation, not UCUM.
  {
    version: 1,
    cohort: {
      observation: {
        code: [
          { system: LOINC, code: '4548-4' },
          { system: LOINC, code: '59261-8' },
        ],
        value: { min: 48, unit: 'mmol/mol' },
      },
    },
    measures: [
      {
        histogram: {
          observation: [
            { system: LOINC, code: '4548-4' },
            { system: LOINC, code: '59261-8' },
          ],
          unit: 'mmol/mol',
          edges: [0, 42, 48, 53, 64],
          pick: 'latest',
        },
      },
      {
        summary: {
          observation: [
            { system: LOINC, code: '4548-4' },
            { system: LOINC, code: '59261-8' },
          ],
          unit: '%',
          pick: 'mean',
        },
      },
    ],
  },
  // Observation components: blood pressure in its panel, smoking status next
  // to another coded component.
  {
    version: 1,
    cohort: {
      observation: {
        code: [{ system: LOINC, code: '8480-6' }],
        value: { min: 140, unit: 'mm[Hg]' },
        period: { from: '2014-01-01' },
      },
    },
    measures: [
      { count: 'patients' },
      {
        histogram: {
          observation: [{ system: LOINC, code: '8480-6' }],
          unit: 'mm[Hg]',
          edges: [0, 120, 140, 160],
          pick: 'latest',
        },
      },
      {
        summary: {
          observation: [{ system: LOINC, code: '8462-4' }],
          unit: 'mm[Hg]',
          pick: 'mean',
        },
      },
    ],
  },
  {
    version: 1,
    cohort: {
      any: [
        { observation: { code: [{ system: LOINC, code: '85354-9' }], atLeast: 2 } },
        {
          observation: {
            code: [{ system: LOINC, code: '8480-6' }],
            value: { max: 16, unit: 'kPa' },
          },
        },
        {
          observation: {
            code: [{ system: LOINC, code: '72166-2' }],
            valueCode: [{ system: SNOMED, code: '8517006' }],
          },
        },
      ],
    },
  },
];

/** Nested combinations and a two-dimension cross product. */
export const MORE_QUERIES: readonly CohortQuery[] = [
  {
    version: 1,
    cohort: {
      all: [
        {
          any: [
            { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
            {
              observation: {
                code: [{ system: LOINC, code: '4548-4' }],
                value: { min: 6.5, unit: '%' },
              },
            },
          ],
        },
        { not: { procedure: { code: [{ system: SNOMED, code: '73761001' }] } } },
        { patient: { age: { min: 18 } } },
      ],
    },
    stratify: ['gender', { ageBand: [0, 40, 65] }],
    measures: [
      { count: 'patients' },
      {
        summary: {
          observation: [{ system: LOINC, code: '4548-4' }],
          unit: '%',
          pick: 'latest',
        },
      },
    ],
  },
  // Medication criteria kept to resource types: uses coded inline, through a
  // referenced or contained Medication, of each type.
  {
    version: 1,
    cohort: {
      any: [
        {
          medication: {
            code: [{ system: ATC, code: 'A10', descendants: true }],
            resourceTypes: ['MedicationAdministration'],
          },
        },
        {
          not: {
            medication: {
              code: [{ system: ATC, code: 'C09AA05' }],
              resourceTypes: ['MedicationRequest', 'MedicationStatement'],
              period: { from: '2015-01-01' },
            },
          },
        },
      ],
    },
    stratify: ['gender'],
  },
];
