import { describe, expect, test } from 'vitest';
import { fhirDate, referencedId } from './fhir.ts';
import { flattenResource } from './flatten.ts';
import { bundleIndex } from './task.ts';

const SNOMED = 'http://snomed.info/sct';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const subject = { reference: 'Patient/p1' };

describe('dates', () => {
  test('the date part as written, without a time-zone shift', () => {
    expect(fhirDate('2014-05-18T23:06:23-04:00')).toBe('2014-05-18');
    expect(fhirDate('2014-05-18T01:06:23Z')).toBe('2014-05-18');
    expect(fhirDate('2014-05-18')).toBe('2014-05-18');
  });
  test('partial dates take their first day; impossible ones are null', () => {
    expect(fhirDate('1970')).toBe('1970-01-01');
    expect(fhirDate('1970-03')).toBe('1970-03-01');
    expect(fhirDate('2024-02-29')).toBe('2024-02-29');
    expect(fhirDate('2023-02-29')).toBeNull();
    expect(fhirDate('2023-13-01')).toBeNull();
    expect(fhirDate('0000-01-01')).toBeNull();
    expect(fhirDate('yesterday')).toBeNull();
    expect(fhirDate(20140518)).toBeNull();
  });
});

describe('references', () => {
  test('relative, absolute, versioned and urn:uuid references give the logical id', () => {
    expect(referencedId({ reference: 'Patient/p1' }, 'Patient')).toBe('p1');
    expect(referencedId({ reference: 'https://fhir.example/r4/Patient/p1' }, 'Patient')).toBe('p1');
    expect(referencedId({ reference: 'Patient/p1/_history/3' }, 'Patient')).toBe('p1');
    expect(referencedId({ reference: 'urn:uuid:0b1c' }, 'Patient')).toBe('0b1c');
  });
  test('conditional, contained and other-type references do not resolve', () => {
    expect(referencedId({ reference: 'Patient?identifier=x|1' }, 'Patient')).toBeUndefined();
    expect(referencedId({ reference: '#p1' }, 'Patient')).toBeUndefined();
    expect(referencedId({ reference: 'Group/g1' }, 'Patient')).toBeUndefined();
    expect(referencedId({ identifier: { value: '1' } }, 'Patient')).toBeUndefined();
  });
  test('a Bundle entry fullUrl resolves to the entry resource id and type', () => {
    const index = bundleIndex([
      { fullUrl: 'urn:uuid:aaa', resource: { resourceType: 'Patient', id: 'p9' } },
      { fullUrl: 'urn:uuid:bbb', resource: { resourceType: 'Group', id: 'g1' } },
      { fullUrl: 'urn:uuid:ccc', resource: { resourceType: 'Patient' } },
    ]);
    expect(referencedId({ reference: 'urn:uuid:aaa' }, 'Patient', index)).toBe('p9');
    expect(referencedId({ reference: 'urn:uuid:bbb' }, 'Patient', index)).toBeUndefined();
    expect(referencedId({ reference: 'urn:uuid:ccc' }, 'Patient', index)).toBe('ccc');
  });
});

describe('flattenResource', () => {
  test('a patient: gender, birth date, deceased from boolean or dateTime, death date', () => {
    expect(
      flattenResource({
        resourceType: 'Patient',
        id: 'p1',
        gender: 'female',
        birthDate: '1950-02-03',
      }),
    ).toEqual({
      type: 'patient',
      id: 'p1',
      gender: 'female',
      birthDate: '1950-02-03',
      deceased: false,
      deceasedDate: null,
    });
    expect(
      flattenResource({ resourceType: 'Patient', id: 'p2', deceasedDateTime: '2020-01-01' }),
    ).toMatchObject({
      gender: 'unknown',
      birthDate: null,
      deceased: true,
      deceasedDate: '2020-01-01',
    });
    // The calendar date as written, whatever the offset; a partial date at its first day.
    expect(
      flattenResource({
        resourceType: 'Patient',
        id: 'p4',
        deceasedDateTime: '2020-06-15T23:30:00-05:00',
      }),
    ).toMatchObject({ deceased: true, deceasedDate: '2020-06-15' });
    expect(
      flattenResource({ resourceType: 'Patient', id: 'p5', deceasedDateTime: '2020-06' }),
    ).toMatchObject({ deceased: true, deceasedDate: '2020-06-01' });
    expect(
      flattenResource({
        resourceType: 'Patient',
        id: 'p3',
        gender: 'robot',
        deceasedBoolean: true,
      }),
    ).toMatchObject({
      gender: 'unknown',
      deceased: true,
      deceasedDate: null,
    });
  });

  test('a condition: one row per distinct coding, ICD-10 without its dot, onset before recordedDate', () => {
    const flat = flattenResource({
      resourceType: 'Condition',
      id: 'c1',
      subject,
      code: {
        coding: [
          { system: ICD10, code: 'E11.9' },
          { system: SNOMED, code: '44054006' },
          { system: SNOMED, code: '44054006' },
          { code: 'no-system' },
          { system: SNOMED },
        ],
      },
      onsetPeriod: { start: '2015-03-04T10:00:00+01:00' },
      recordedDate: '2016-01-01',
    });
    expect(flat).toEqual({
      type: 'event',
      kind: 'condition',
      resourceId: 'c1',
      patientId: 'p1',
      date: '2015-03-04',
      codings: [
        { system: ICD10, code: 'E119' },
        { system: SNOMED, code: '44054006' },
      ],
    });
    expect(
      flattenResource({ resourceType: 'Condition', id: 'c2', subject, recordedDate: '2016-01-01' }),
    ).toMatchObject({
      date: '2016-01-01',
      codings: [],
    });
  });

  test('entered-in-error resources and refuted conditions are dropped', () => {
    const code = { coding: [{ system: ICD10, code: 'I10' }] };
    expect(
      flattenResource({
        resourceType: 'Observation',
        id: 'o',
        status: 'entered-in-error',
        subject,
        code,
      }),
    ).toEqual({
      type: 'dropped',
      reason: 'entered-in-error',
    });
    for (const status of ['refuted', 'entered-in-error']) {
      const verificationStatus = { coding: [{ system: 'x', code: status }] };
      expect(
        flattenResource({ resourceType: 'Condition', id: 'c', subject, code, verificationStatus }),
      ).toEqual({
        type: 'dropped',
        reason: 'refuted',
      });
    }
  });

  test('an observation: each component with a coding, its value read as an Observation value is', () => {
    const LOINC = 'http://loinc.org';
    const flat = flattenResource({
      resourceType: 'Observation',
      id: 'bp',
      subject,
      code: { coding: [{ system: LOINC, code: '85354-9' }] },
      effectiveDateTime: '2024-01-10',
      component: [
        {
          code: { coding: [{ system: LOINC, code: '8480-6' }] },
          valueQuantity: {
            value: 150,
            unit: 'mmHg',
            system: 'http://unitsofmeasure.org',
            code: 'mm[Hg]',
          },
        },
        { code: { text: 'no coding' }, valueQuantity: { value: 1, unit: 'x' } },
        'not an object',
        {
          code: { coding: [{ system: LOINC, code: '8462-4' }] },
          valueQuantity: { value: 95, unit: 'mmHg' },
          valueCodeableConcept: { coding: [{ system: SNOMED, code: '1' }] },
        },
      ],
    });
    expect(flat).toMatchObject({
      kind: 'observation',
      codings: [{ system: LOINC, code: '85354-9' }],
      value: null,
      unit: null,
      components: [
        {
          codings: [{ system: LOINC, code: '8480-6' }],
          value: 150,
          unit: 'mm[Hg]',
          valueCodings: [],
        },
        {
          codings: [{ system: LOINC, code: '8462-4' }],
          value: 95,
          unit: 'mmHg',
          valueCodings: [{ system: SNOMED, code: '1' }],
        },
      ],
    });
  });

  test('an observation: valueQuantity as UCUM code, else unit text; valueCodeableConcept codings', () => {
    const base = {
      resourceType: 'Observation',
      id: 'o1',
      subject,
      code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
    };
    expect(
      flattenResource({
        ...base,
        effectiveDateTime: '2021-06-01T08:00:00Z',
        valueQuantity: {
          value: 6.8,
          unit: 'percent',
          system: 'http://unitsofmeasure.org',
          code: '%',
        },
      }),
    ).toMatchObject({
      kind: 'observation',
      date: '2021-06-01',
      value: 6.8,
      unit: '%',
      valueCodings: [],
    });
    expect(
      flattenResource({
        ...base,
        effectiveInstant: '2021-06-02T08:00:00Z',
        valueQuantity: { value: 7, unit: 'pct' },
      }),
    ).toMatchObject({ date: '2021-06-02', value: 7, unit: 'pct' });
    expect(
      flattenResource({
        ...base,
        valueCodeableConcept: { coding: [{ system: SNOMED, code: '77176002' }] },
      }),
    ).toMatchObject({
      date: null,
      value: null,
      unit: null,
      valueCodings: [{ system: SNOMED, code: '77176002' }],
    });
  });

  test('an encounter: type codings and class as a coding (R4 Coding and R5 list)', () => {
    const r4 = flattenResource({
      resourceType: 'Encounter',
      id: 'e1',
      subject,
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      type: [{ coding: [{ system: SNOMED, code: '185349003' }] }],
      period: { start: '2019-05-01T09:00:00+02:00' },
    });
    expect(r4).toMatchObject({
      date: '2019-05-01',
      codings: [
        { system: SNOMED, code: '185349003' },
        { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      ],
    });
    const r5 = flattenResource({
      resourceType: 'Encounter',
      id: 'e2',
      subject,
      class: [
        { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' }] },
      ],
    });
    expect(r5).toMatchObject({ codings: [{ code: 'IMP' }] });
  });

  test('procedures and immunizations read their own dates; immunizations name the patient in `patient`', () => {
    expect(
      flattenResource({
        resourceType: 'Procedure',
        id: 'x',
        subject,
        code: { coding: [{ system: SNOMED, code: '1' }] },
        performedPeriod: { start: '2010-01-02' },
      }),
    ).toMatchObject({ kind: 'procedure', date: '2010-01-02' });
    expect(
      flattenResource({
        resourceType: 'Immunization',
        id: 'i',
        patient: subject,
        vaccineCode: { coding: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
        occurrenceDateTime: '2020-10-10T10:00:00Z',
      }),
    ).toMatchObject({
      kind: 'immunization',
      patientId: 'p1',
      date: '2020-10-10',
      codings: [{ code: '140' }],
    });
  });

  test('medications: a concept, a contained Medication, or a reference resolved later', () => {
    const atc = { coding: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] };
    expect(
      flattenResource({
        resourceType: 'MedicationRequest',
        id: 'm1',
        subject,
        authoredOn: '2020-01-01',
        medicationCodeableConcept: atc,
      }),
    ).toMatchObject({ kind: 'medication', date: '2020-01-01', codings: [{ code: 'A10BA02' }] });
    expect(
      flattenResource({
        resourceType: 'MedicationStatement',
        id: 'm2',
        subject,
        effectivePeriod: { start: '2020-02-01' },
        contained: [{ resourceType: 'Medication', id: 'med', code: atc }],
        medicationReference: { reference: '#med' },
      }),
    ).toMatchObject({ date: '2020-02-01', codings: [{ code: 'A10BA02' }] });
    expect(
      flattenResource({
        resourceType: 'MedicationAdministration',
        id: 'm3',
        subject,
        effectiveDateTime: '2020-03-01',
        medicationReference: { reference: 'Medication/x' },
      }),
    ).toMatchObject({ date: '2020-03-01', codings: [], medicationRef: 'x' });
    expect(flattenResource({ resourceType: 'Medication', id: 'x', code: atc })).toEqual({
      type: 'medication',
      id: 'x',
      codings: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }],
    });
  });

  test('malformed resources get a fixed reason that quotes nothing', () => {
    const reasons = [
      flattenResource('not an object'),
      flattenResource({ id: 'x' }),
      flattenResource({ resourceType: 'Condition', subject }),
      flattenResource({ resourceType: 'Condition', id: 'c' }),
      flattenResource({
        resourceType: 'Condition',
        id: 'c',
        subject: { reference: 'Patient?identifier=secret-123' },
      }),
      flattenResource({ resourceType: 'MedicationRequest', id: 'm', subject }),
      flattenResource({
        resourceType: 'MedicationRequest',
        id: 'm',
        subject,
        medicationReference: { reference: '#gone' },
      }),
    ];
    expect(reasons.map((r) => (r.type === 'malformed' ? r.reason : r.type))).toEqual([
      'not a JSON object',
      'missing resourceType',
      'missing id',
      'missing subject',
      'unresolvable subject reference',
      'missing medication',
      'unresolvable medication reference',
    ]);
  });

  test('unused types are skipped; a Bundle entry without an id takes its fullUrl uuid', () => {
    expect(flattenResource({ resourceType: 'Claim', id: 'c' })).toEqual({ type: 'unused' });
    expect(flattenResource({ resourceType: 'Patient' }, { fallbackId: 'u1' })).toMatchObject({
      type: 'patient',
      id: 'u1',
    });
  });
});
