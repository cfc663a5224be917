// A small hand-written population whose answers are worked out by hand in the
// engine and oracle tests: every rule of the query-language page and every
// edge case the engine decides has a patient here. asOf is 2026-01-01 unless
// a test says otherwise.
import type { FhirResource } from './read-fhir.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const ICD10_CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const ICD10_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const UCUM = 'http://unitsofmeasure.org';
const VER = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';

const ref = (id: string) => ({ reference: `Patient/${id}` });
const uuid = (id: string) => ({ reference: `urn:uuid:${id}` });
const coding = (system: string, code: string) => ({ coding: [{ system, code }] });
const quantity = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });
const verification = (code: string) => ({ coding: [{ system: VER, code }] });

/**
 * Patients (ages at 2026-01-01):
 * a female 40 (born 1986-01-01, birthday today), b female 39, c male
 * died 2025-05-05 aged 79 (80 had he lived), d female 79, e other without birth date, f gender absent
 * (unknown) born after asOf, g male born 2000-02-29 (25), h female 55.
 */
export const CLINIC: readonly FhirResource[] = [
  {
    resourceType: 'Patient',
    id: 'a',
    gender: 'female',
    birthDate: '1986-01-01',
    deceasedBoolean: false,
  },
  { resourceType: 'Patient', id: 'b', gender: 'female', birthDate: '1986-01-02' },
  {
    resourceType: 'Patient',
    id: 'c',
    gender: 'male',
    birthDate: '1946-01-01',
    deceasedDateTime: '2025-05-05T10:00:00Z',
  },
  { resourceType: 'Patient', id: 'd', gender: 'female', birthDate: '1946-01-02' },
  { resourceType: 'Patient', id: 'e', gender: 'other' },
  { resourceType: 'Patient', id: 'f', birthDate: '2026-06-01' },
  { resourceType: 'Patient', id: 'g', gender: 'male', birthDate: '2000-02-29' },
  { resourceType: 'Patient', id: 'h', gender: 'female', birthDate: '1970-07-07' },

  // Conditions. a: one resource with two E11 codings; b: two E11 resources;
  // c: refuted; d: entered in error, and E11.9 in ICD-10-CM (another system);
  // e: E10.1 in ICD-10-GM; g: prediabetes; ghost: an unknown patient.
  {
    resourceType: 'Condition',
    id: 'cond-a',
    subject: ref('a'),
    code: {
      coding: [
        { system: ICD10, code: 'E11.9' },
        { system: ICD10, code: 'E11.65' },
      ],
    },
    onsetDateTime: '2019-05-01T08:00:00+02:00',
    verificationStatus: verification('confirmed'),
  },
  {
    resourceType: 'Condition',
    id: 'cond-b1',
    subject: uuid('b'),
    code: coding(ICD10, 'E119'),
    recordedDate: '2020-01-01',
  },
  {
    resourceType: 'Condition',
    id: 'cond-b2',
    subject: ref('b'),
    code: coding(ICD10, 'E11.65'),
    onsetPeriod: { start: '2021-03-01' },
  },
  {
    resourceType: 'Condition',
    id: 'cond-c',
    subject: ref('c'),
    code: coding(ICD10, 'E11'),
    verificationStatus: verification('refuted'),
  },
  {
    resourceType: 'Condition',
    id: 'cond-d1',
    subject: ref('d'),
    code: coding(ICD10, 'E11.9'),
    verificationStatus: verification('entered-in-error'),
  },
  { resourceType: 'Condition', id: 'cond-d2', subject: ref('d'), code: coding(ICD10_CM, 'E11.9') },
  { resourceType: 'Condition', id: 'cond-d3', subject: ref('d'), code: coding(ICD10, 'I10') },
  {
    resourceType: 'Condition',
    id: 'cond-e',
    subject: ref('e'),
    code: coding(ICD10_GM, 'E10.1'),
    onsetDateTime: '2010-02-03',
  },
  {
    resourceType: 'Condition',
    id: 'cond-g',
    subject: ref('g'),
    code: coding(SNOMED, '15777000'),
    onsetDateTime: '2015-06-01',
  },
  {
    resourceType: 'Condition',
    id: 'cond-ghost',
    subject: ref('ghost'),
    code: coding(ICD10, 'E11.9'),
  },

  // HbA1c (%). a: 7.0 then 6.0; b: 6.5 on 2020-01-01 (on both bounds of
  // example 2); c: 8.0 the day before 2020; d: 6.4, and 9.1 entered in error;
  // e: no date; g: a unit that does not convert; h: 8.2, then 5.5 and 6.5 on
  // the same latest day.
  {
    resourceType: 'Observation',
    id: 'a1c-a1',
    status: 'final',
    subject: ref('a'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(7, '%'),
    effectiveDateTime: '2021-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-a2',
    status: 'final',
    subject: ref('a'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(6, '%'),
    effectiveDateTime: '2022-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-b',
    status: 'final',
    subject: ref('b'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(6.5, '%'),
    effectivePeriod: { start: '2020-01-01T09:00:00+01:00' },
  },
  {
    resourceType: 'Observation',
    id: 'a1c-c',
    status: 'final',
    subject: ref('c'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(8, '%'),
    effectiveInstant: '2019-12-31T23:59:59Z',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-d1',
    status: 'final',
    subject: ref('d'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(6.4, '%'),
    effectiveDateTime: '2023-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-d2',
    status: 'entered-in-error',
    subject: ref('d'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(9.1, '%'),
    effectiveDateTime: '2024-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-e',
    status: 'final',
    subject: ref('e'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(12, '%'),
  },
  {
    resourceType: 'Observation',
    id: 'a1c-g',
    status: 'final',
    subject: ref('g'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(7.5, 'mmol/L'),
    effectiveDateTime: '2021-05-05',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-h1',
    status: 'final',
    subject: ref('h'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(8.2, '%'),
    effectiveDateTime: '2024-03-03',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-h2',
    status: 'final',
    subject: ref('h'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: quantity(5.5, '%'),
    effectiveDateTime: '2025-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'a1c-h3',
    status: 'final',
    subject: ref('h'),
    code: coding(LOINC, '4548-4'),
    valueQuantity: { value: 6.5, unit: '%' },
    effectiveDateTime: '2025-01-01T18:00:00-05:00',
  },

  // Glucose: a 126 mg/dL, b 7.0 mmol/L (126.112 mg/dL), c 7.0 mmol/L under
  // a local code only (no molar mass: never converts to mg/dL).
  {
    resourceType: 'Observation',
    id: 'glu-a',
    status: 'final',
    subject: ref('a'),
    code: coding(LOINC, '2339-0'),
    valueQuantity: quantity(126, 'mg/dL'),
    effectiveDateTime: '2023-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'glu-b',
    status: 'final',
    subject: ref('b'),
    code: coding(LOINC, '15074-8'),
    valueQuantity: quantity(7, 'mmol/L'),
    effectiveDateTime: '2023-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'glu-c',
    status: 'final',
    subject: ref('c'),
    code: coding('urn:local', 'GLU'),
    valueQuantity: quantity(7, 'mmol/L'),
    effectiveDateTime: '2023-01-01',
  },

  // Weight in kg, g and pounds; smoking status as a coded value.
  {
    resourceType: 'Observation',
    id: 'wt-a',
    status: 'final',
    subject: ref('a'),
    code: coding(LOINC, '29463-7'),
    valueQuantity: quantity(70.5, 'kg'),
    effectiveDateTime: '2024-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'wt-d',
    status: 'final',
    subject: ref('d'),
    code: coding(LOINC, '29463-7'),
    valueQuantity: quantity(65000, 'g'),
    effectiveDateTime: '2024-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'wt-h',
    status: 'final',
    subject: ref('h'),
    code: coding(LOINC, '29463-7'),
    valueQuantity: quantity(200, '[lb_av]'),
    effectiveDateTime: '2024-01-01',
  },
  {
    resourceType: 'Observation',
    id: 'smoke-c',
    status: 'final',
    subject: ref('c'),
    code: coding(LOINC, '72166-2'),
    valueCodeableConcept: coding(SNOMED, '449868002'),
    effectiveDateTime: '2015-01-01',
  },

  // Medications. a: metformin via Medication/m1; b: metformin entered in
  // error; d: glibenclamide via urn:uuid:m2; g: metformin in a contained
  // Medication; h: insulin inline.
  { resourceType: 'Medication', id: 'm1', code: coding(ATC, 'A10BA02') },
  { resourceType: 'Medication', id: 'm2', code: coding(ATC, 'A10BB01') },
  {
    resourceType: 'MedicationStatement',
    id: 'ms-a',
    status: 'active',
    subject: ref('a'),
    medicationReference: { reference: 'Medication/m1' },
    effectivePeriod: { start: '2020-02-01' },
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-b',
    status: 'entered-in-error',
    subject: ref('b'),
    medicationCodeableConcept: coding(ATC, 'A10BA02'),
    authoredOn: '2020-02-01',
  },
  {
    resourceType: 'MedicationAdministration',
    id: 'ma-d',
    status: 'completed',
    subject: ref('d'),
    medicationReference: { reference: 'urn:uuid:m2' },
    effectiveDateTime: '2022-02-02',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-g',
    status: 'active',
    subject: ref('g'),
    contained: [{ resourceType: 'Medication', id: 'met', code: coding(ATC, 'A10BA02') }],
    medicationReference: { reference: '#met' },
    authoredOn: '2021-01-01',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr-h',
    status: 'active',
    subject: ref('h'),
    medicationCodeableConcept: coding(ATC, 'A10AE04'),
    authoredOn: '2024-04-04',
  },

  // Other kinds: a procedure with a performed period, an immunization by
  // urn:uuid patient reference, an encounter with type and class.
  {
    resourceType: 'Procedure',
    id: 'proc-c',
    status: 'completed',
    subject: ref('c'),
    code: coding(SNOMED, '73761001'),
    performedPeriod: { start: '2016-01-01', end: '2016-01-02' },
  },
  {
    resourceType: 'Immunization',
    id: 'imm-g',
    status: 'completed',
    patient: uuid('g'),
    vaccineCode: coding('http://hl7.org/fhir/sid/cvx', '140'),
    occurrenceDateTime: '2018-02-28',
  },
  {
    resourceType: 'Encounter',
    id: 'enc-a',
    status: 'finished',
    subject: ref('a'),
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    type: [coding(SNOMED, '185349003')],
    period: { start: '2020-01-01T10:00:00Z' },
  },
];
