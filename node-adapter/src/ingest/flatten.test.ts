import { describe, expect, test } from 'vitest';
import { addAgeSpan, ageSpan, fhirDate, fullUrlBase, idFromFullUrl, referencedId } from './fhir.ts';
import { eventDateOf, flattenResource, SPECIAL_VALUES, VALUE_STRING } from './flatten.ts';
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
  test('a fullUrl gives the id of a resource without one: urn:uuid, urn:oid, RESTful URL', () => {
    expect(idFromFullUrl('urn:uuid:3f1a', 'Patient')).toBe('3f1a');
    expect(idFromFullUrl('urn:oid:1.2.3', 'Patient')).toBe('1.2.3');
    expect(idFromFullUrl('https://fhir.example/r4/Patient/3f1a', 'Patient')).toBe('3f1a');
    expect(idFromFullUrl('Patient/3f1a', 'Patient')).toBe('3f1a');
    expect(idFromFullUrl('https://fhir.example/r4/Group/3f1a', 'Patient')).toBeUndefined();
    expect(fullUrlBase('https://fhir.example/r4/Patient/3f1a')).toBe('https://fhir.example/r4');
    expect(fullUrlBase('urn:uuid:3f1a')).toBeUndefined();
  });
  test('a relative reference resolves against the referencing entry server base first', () => {
    const index = bundleIndex([
      {
        fullUrl: 'https://a.example/fhir/Patient/1',
        resource: { resourceType: 'Patient', id: 'x' },
      },
      { fullUrl: 'https://b.example/fhir/Patient/1', resource: { resourceType: 'Patient' } },
    ]);
    const ref = { reference: 'Patient/1' };
    expect(referencedId(ref, 'Patient', { bundle: index, base: 'https://a.example/fhir' })).toBe(
      'x',
    );
    expect(referencedId(ref, 'Patient', { bundle: index, base: 'https://b.example/fhir' })).toBe(
      '1',
    );
    const absolute = { reference: 'https://a.example/fhir/Patient/1' };
    expect(referencedId(absolute, 'Patient', { bundle: index })).toBe('x');
  });
  test('a Bundle entry fullUrl resolves to the entry resource id and type', () => {
    const index = bundleIndex([
      { fullUrl: 'urn:uuid:aaa', resource: { resourceType: 'Patient', id: 'p9' } },
      { fullUrl: 'urn:uuid:bbb', resource: { resourceType: 'Group', id: 'g1' } },
      { fullUrl: 'urn:uuid:ccc', resource: { resourceType: 'Patient' } },
    ]);
    expect(referencedId({ reference: 'urn:uuid:aaa' }, 'Patient', { bundle: index })).toBe('p9');
    expect(
      referencedId({ reference: 'urn:uuid:bbb' }, 'Patient', { bundle: index }),
    ).toBeUndefined();
    expect(referencedId({ reference: 'urn:uuid:ccc' }, 'Patient', { bundle: index })).toBe('ccc');
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
      type: 'skipped',
      reason: 'entered-in-error',
    });
    for (const status of ['refuted', 'entered-in-error']) {
      const verificationStatus = { coding: [{ system: 'x', code: status }] };
      expect(
        flattenResource({ resourceType: 'Condition', id: 'c', subject, code, verificationStatus }),
      ).toEqual({
        type: 'skipped',
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

  test('a Medication matches on its ingredients codes too (R4 itemCodeableConcept, R5 item.concept)', () => {
    const ATC = 'http://www.whocc.no/atc';
    const kcl = { coding: [{ system: ATC, code: 'A12BA01' }] };
    expect(
      flattenResource({
        resourceType: 'Medication',
        id: 'rezeptur',
        code: { text: 'compounded' },
        ingredient: [{ itemCodeableConcept: kcl }, { itemReference: { reference: 'Substance/s' } }],
      }),
    ).toEqual({ type: 'medication', id: 'rezeptur', codings: [{ system: ATC, code: 'A12BA01' }] });
    expect(
      flattenResource({
        resourceType: 'MedicationRequest',
        id: 'rx',
        subject,
        contained: [
          { resourceType: 'Medication', id: 'm', ingredient: [{ item: { concept: kcl } }] },
        ],
        medicationReference: { reference: '#m' },
      }),
    ).toMatchObject({ codings: [{ system: ATC, code: 'A12BA01' }] });
  });

  test('observation values beyond valueQuantity: integer, ratio, boolean, code-like string; no range', () => {
    const LOINC = 'http://loinc.org';
    const base = {
      resourceType: 'Observation',
      id: 'o',
      subject,
      code: { coding: [{ system: LOINC, code: 'x' }] },
    };
    const read = (extra: Record<string, unknown>) => {
      const flat = flattenResource({ ...base, ...extra });
      return flat.type === 'event'
        ? { value: flat.value, unit: flat.unit, valueCodings: flat.valueCodings }
        : flat;
    };
    expect(read({ valueInteger: 2 })).toEqual({ value: 2, unit: '1', valueCodings: [] });
    expect(read({ valueRatio: { numerator: { value: 1 }, denominator: { value: 64 } } })).toEqual({
      value: 1 / 64,
      unit: '1',
      valueCodings: [],
    });
    expect(
      read({
        valueRatio: {
          numerator: { value: 5, system: 'http://unitsofmeasure.org', code: 'mg' },
          denominator: { value: 2, system: 'http://unitsofmeasure.org', code: 'mL' },
        },
      }),
    ).toEqual({ value: 2.5, unit: 'mg/mL', valueCodings: [] });
    expect(read({ valueBoolean: false })).toEqual({
      value: null,
      unit: null,
      valueCodings: [{ system: SPECIAL_VALUES, code: 'false' }],
    });
    expect(read({ valueString: '  not detected ' })).toMatchObject({
      valueCodings: [{ system: VALUE_STRING, code: 'not detected' }],
    });
    expect(read({ valueString: 'seen by the nurse on the ward' })).toMatchObject({
      valueCodings: [],
    });
    expect(read({ valueString: 'x'.repeat(41) })).toMatchObject({ valueCodings: [] });
    expect(
      read({ valueRange: { low: { value: 1, unit: '%' }, high: { value: 2, unit: '%' } } }),
    ).toEqual({ value: null, unit: null, valueCodings: [] });
  });

  test('a Condition dated by onsetAge counts from the birth date, else from recordedDate', () => {
    const flat = flattenResource({
      resourceType: 'Condition',
      id: 'c',
      subject,
      onsetAge: { value: 1, unit: 'mo', system: 'http://unitsofmeasure.org', code: 'mo' },
      recordedDate: '2020-05-05',
    });
    expect(flat).toMatchObject({ date: null, onsetAge: { months: 1, days: 0 } });
    if (flat.type !== 'event') throw new Error('expected an event');
    expect(eventDateOf(flat, '2000-01-31')).toBe('2000-02-29');
    expect(eventDateOf(flat, null)).toBe('2020-05-05');
    expect(addAgeSpan('1961-04-12', { months: 52 * 12, days: 0 })).toBe('2013-04-12');
    expect(addAgeSpan('2023-12-30', { months: 0, days: 3 })).toBe('2024-01-02');
    expect(ageSpan({ value: 2.5, code: 'wk' })).toEqual({ months: 0, days: 18 });
    expect(ageSpan({ value: 3, code: 'h' })).toBeUndefined();
    expect(ageSpan({ value: -1, code: 'a' })).toBeUndefined();
  });

  test('dates read today: Observation.issued as a fallback, R5 occurence[x]', () => {
    expect(
      flattenResource({
        resourceType: 'Observation',
        id: 'o',
        subject,
        issued: '2021-04-05T10:00:00Z',
      }),
    ).toMatchObject({ date: '2021-04-05' });
    expect(
      flattenResource({
        resourceType: 'Observation',
        id: 'o',
        subject,
        effectiveDateTime: '2021-04-01',
        issued: '2021-04-05T10:00:00Z',
      }),
    ).toMatchObject({ date: '2021-04-01' });
    expect(
      flattenResource({
        resourceType: 'MedicationAdministration',
        id: 'ma',
        subject,
        medicationCodeableConcept: {
          coding: [{ system: 'http://www.whocc.no/atc', code: 'B01AB01' }],
        },
        occurencePeriod: { start: '2022-02-03T08:00:00+01:00' },
      }),
    ).toMatchObject({ date: '2022-02-03' });
  });

  test('codes under a dimdi URL are stored under the bfarm URL, normalised for it', () => {
    const flat = flattenResource({
      resourceType: 'Condition',
      id: 'c',
      subject,
      code: { coding: [{ system: 'http://fhir.de/CodeSystem/dimdi/icd-10-gm', code: 'E11.9' }] },
    });
    expect(flat).toMatchObject({
      codings: [{ system: 'http://fhir.de/CodeSystem/bfarm/icd-10-gm', code: 'E119' }],
    });
  });

  test('unconfirmed, provisional and differential Conditions count unless the node policy excludes them', () => {
    for (const code of ['unconfirmed', 'provisional', 'differential']) {
      const condition = {
        resourceType: 'Condition',
        id: 'c',
        subject,
        code: { coding: [{ system: SNOMED, code: '44054006' }] },
        verificationStatus: { coding: [{ code }] },
      };
      expect(flattenResource(condition)).toMatchObject({ type: 'event' });
      expect(flattenResource(condition, { excludeUnconfirmedConditions: true })).toEqual({
        type: 'skipped',
        reason: 'unconfirmed (node policy)',
      });
    }
    const confirmed = {
      resourceType: 'Condition',
      id: 'c',
      subject,
      verificationStatus: { coding: [{ code: 'confirmed' }] },
    };
    expect(flattenResource(confirmed, { excludeUnconfirmedConditions: true })).toMatchObject({
      type: 'event',
    });
  });

  test('malformed resources get a fixed reason that quotes nothing', () => {
    const reasons = [
      flattenResource('not an object'),
      flattenResource({ id: 'x' }),
      flattenResource({ resourceType: 'Condition', subject }),
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
      'unresolvable subject reference',
      'missing medication',
      'unresolvable medication reference',
    ]);
  });

  test('valid resources that cannot belong to a patient are skipped by reason', () => {
    const reason = (resource: unknown): string => {
      const flat = flattenResource(resource);
      return flat.type === 'skipped' ? flat.reason : flat.type;
    };
    const observation = { resourceType: 'Observation', id: 'o', status: 'final' };
    expect(reason(observation)).toBe('no subject');
    expect(reason({ ...observation, subject: { reference: 'Group/g1' } })).toBe(
      'subject not a Patient',
    );
    expect(
      reason({ ...observation, subject: { reference: 'https://x.example/Location/l1' } }),
    ).toBe('subject not a Patient');
    expect(reason({ ...observation, subject: { display: 'Mr. Example' } })).toBe(
      'subject without reference',
    );
    expect(
      reason({ ...observation, subject: { identifier: { value: '1' }, type: 'Patient' } }),
    ).toBe('subject without reference');
    expect(reason({ ...observation, subject: { reference: 'Patient?identifier=x|1' } })).toBe(
      'malformed',
    );
    expect(reason({ resourceType: 'Claim', id: 'c' })).toBe('resource type not read');
  });

  test('a Bundle entry without an id takes the id its fullUrl gives', () => {
    expect(flattenResource({ resourceType: 'Patient' }, { fallbackId: 'u1' })).toMatchObject({
      type: 'patient',
      id: 'u1',
    });
  });
});
