import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { describe, expect, test } from 'vitest';
import type { EvaluableQuery } from '../../src/engine/compile.ts';
import { CLINIC } from './clinic.ts';
import { readNdjsonDir } from './ndjson.ts';
import { evaluateOracle, wholeYears } from './oracle.ts';
import { populationArbitrary, populationHints, queryArbitrary } from './random-population.ts';
import { readFhir, type FhirResource } from './read-fhir.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';

function evaluable(body: Record<string, unknown>, asOf = '2026-01-01'): EvaluableQuery {
  return { ...canonicalQuery(parseQuery({ version: 1, ...body })), asOf };
}

describe('whole years', () => {
  test('count birthdays by month and day', () => {
    expect(wholeYears('1986-01-01', '2026-01-01')).toBe(40);
    expect(wholeYears('1986-01-02', '2026-01-01')).toBe(39);
    expect(wholeYears('2000-02-29', '2024-02-28')).toBe(23);
    expect(wholeYears('2000-02-29', '2024-02-29')).toBe(24);
    expect(wholeYears('2000-02-29', '2025-02-28')).toBe(24);
    expect(wholeYears('2000-02-29', '2025-03-01')).toBe(25);
    expect(wholeYears('2026-06-01', '2026-01-01')).toBeUndefined();
    expect(wholeYears('2026-01-01', '2026-01-01')).toBe(0);
  });
});

describe('reading FHIR', () => {
  const patient = { resourceType: 'Patient', id: 'p' };
  const read = (...resources: FhirResource[]) => readFhir([patient, ...resources]);

  test('patients: gender, partial birth and death dates, deceased', () => {
    const { patients } = readFhir([
      { resourceType: 'Patient', id: 'a', gender: 'bogus', birthDate: '1970' },
      {
        resourceType: 'Patient',
        id: 'b',
        gender: 'male',
        birthDate: '1970-03',
        deceasedDateTime: '2020',
      },
      { resourceType: 'Patient', id: 'a', gender: 'female' },
    ]);
    expect(patients.get('a')).toEqual({
      id: 'a',
      gender: 'unknown',
      birthDate: '1970-01-01',
      deceased: false,
      deceasedDate: undefined,
    });
    expect(patients.get('b')).toEqual({
      id: 'b',
      gender: 'male',
      birthDate: '1970-03-01',
      deceased: true,
      deceasedDate: '2020-01-01',
    });
  });

  test('both reference forms; events of unknown patients and without a subject are dropped', () => {
    const code = { coding: [{ system: ICD10, code: 'I10' }] };
    const { events } = read(
      { resourceType: 'Condition', id: '1', subject: { reference: 'Patient/p' }, code },
      { resourceType: 'Condition', id: '2', subject: { reference: 'urn:uuid:p' }, code },
      { resourceType: 'Condition', id: '3', subject: { reference: 'Patient/q' }, code },
      { resourceType: 'Condition', id: '4', code },
      {
        resourceType: 'Immunization',
        id: '5',
        patient: { reference: 'urn:uuid:p' },
        vaccineCode: code,
      },
    );
    expect(events.map((e) => e.resourceKey)).toEqual([
      'Condition/1',
      'Condition/2',
      'Immunization/5',
    ]);
  });

  test('entered-in-error resources and refuted conditions never match', () => {
    const code = { coding: [{ system: ICD10, code: 'I10' }] };
    const subject = { reference: 'Patient/p' };
    const status = (c: string) => ({ coding: [{ code: c }] });
    const { events } = read(
      { resourceType: 'Observation', id: 'o', status: 'entered-in-error', subject, code },
      { resourceType: 'Condition', id: 'c1', subject, code, verificationStatus: status('refuted') },
      {
        resourceType: 'Condition',
        id: 'c2',
        subject,
        code,
        verificationStatus: status('entered-in-error'),
      },
      {
        resourceType: 'Condition',
        id: 'c3',
        subject,
        code,
        verificationStatus: status('confirmed'),
      },
    );
    expect(events.map((e) => e.resourceKey)).toEqual(['Condition/c3']);
  });

  test('each kind reads its event date; ICD-10 codes lose their dot', () => {
    const subject = { reference: 'Patient/p' };
    const code = { coding: [{ system: ICD10, code: 'E11.9' }] };
    const { events } = read(
      {
        resourceType: 'Condition',
        id: 'c1',
        subject,
        code,
        onsetPeriod: { start: '2001-02-03T04:05:06Z' },
        recordedDate: '2009-01-01',
      },
      {
        resourceType: 'Condition',
        id: 'c2',
        subject,
        code,
        onsetString: 'young',
        recordedDate: '2009-01-01',
      },
      {
        resourceType: 'Observation',
        id: 'o',
        subject,
        code,
        effectiveInstant: '2002-03-04T23:00:00-05:00',
      },
      { resourceType: 'Procedure', id: 'p', subject, code, performedPeriod: { start: '2003-04' } },
      {
        resourceType: 'MedicationRequest',
        id: 'm1',
        subject,
        medicationCodeableConcept: code,
        authoredOn: '2004-05-06',
      },
      {
        resourceType: 'MedicationStatement',
        id: 'm2',
        subject,
        medicationCodeableConcept: code,
        effectivePeriod: { start: '2005-06-07' },
      },
      {
        resourceType: 'Immunization',
        id: 'i',
        patient: subject,
        vaccineCode: code,
        occurrenceDateTime: '2006-07-08',
      },
      {
        resourceType: 'Encounter',
        id: 'e',
        subject,
        class: { system: 'urn:act', code: 'AMB' },
        type: [code],
        period: { start: '2007-08-09' },
      },
    );
    expect(events.map((e) => [e.resourceKey, e.date])).toEqual([
      ['Condition/c1', '2001-02-03'],
      ['Condition/c2', '2009-01-01'],
      ['Observation/o', '2002-03-04'],
      ['Procedure/p', '2003-04-01'],
      ['MedicationRequest/m1', '2004-05-06'],
      ['MedicationStatement/m2', '2005-06-07'],
      ['Immunization/i', '2006-07-08'],
      ['Encounter/e', '2007-08-09'],
    ]);
    expect(events[0]!.codings).toEqual([{ system: ICD10, code: 'E119' }]);
    expect(events[7]!.codings).toEqual([
      { system: ICD10, code: 'E119' },
      { system: 'urn:act', code: 'AMB' },
    ]);
  });

  test('medication codes by reference: Medication/<id>, urn:uuid:<id>, contained', () => {
    const subject = { reference: 'Patient/p' };
    const atc = (code: string) => ({ coding: [{ system: 'http://www.whocc.no/atc', code }] });
    const { events } = read(
      { resourceType: 'Medication', id: 'm', code: atc('A10BA02') },
      {
        resourceType: 'MedicationRequest',
        id: '1',
        subject,
        medicationReference: { reference: 'Medication/m' },
      },
      {
        resourceType: 'MedicationAdministration',
        id: '2',
        subject,
        medicationReference: { reference: 'urn:uuid:m' },
      },
      {
        resourceType: 'MedicationStatement',
        id: '3',
        subject,
        contained: [{ resourceType: 'Medication', id: 'x', code: atc('C09AA05') }],
        medicationReference: { reference: '#x' },
      },
      {
        resourceType: 'MedicationRequest',
        id: '4',
        subject,
        medicationReference: { reference: 'Medication/none' },
      },
    );
    expect(events.map((e) => e.codings.map((c) => c.code))).toEqual([
      ['A10BA02'],
      ['A10BA02'],
      ['C09AA05'],
      [],
    ]);
  });

  test('quantities: the UCUM code when the system is UCUM, else the unit text', () => {
    const subject = { reference: 'Patient/p' };
    const code = { coding: [{ system: 'http://loinc.org', code: '2339-0' }] };
    const { events } = read(
      {
        resourceType: 'Observation',
        id: '1',
        subject,
        code,
        valueQuantity: {
          value: 5,
          unit: 'mg per dL',
          system: 'http://unitsofmeasure.org',
          code: 'mg/dL',
        },
      },
      {
        resourceType: 'Observation',
        id: '2',
        subject,
        code,
        valueQuantity: { value: 6, unit: 'mg/dL' },
      },
      { resourceType: 'Observation', id: '3', subject, code, valueQuantity: { unit: 'mg/dL' } },
    );
    expect(events.map((e) => e.quantity)).toEqual([
      { value: 5, unit: 'mg/dL' },
      { value: 6, unit: 'mg/dL' },
      undefined,
    ]);
  });
});

describe('evaluation', () => {
  test('query-language example 3 on the Synthea fixture: 5, female 4, male 1', async () => {
    const resources = await readNdjsonDir(
      join(import.meta.dirname, '../../../../shared/fixtures/synthea/10-patients'),
    );
    const r = evaluateOracle(
      resources,
      evaluable({
        cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
        stratify: ['gender'],
      }),
    );
    expect(r.total).toEqual({ count: 5 });
    expect(r.strata).toEqual([
      { key: { gender: 'female' }, cell: { count: 4 } },
      { key: { gender: 'male' }, cell: { count: 1 } },
      { key: { gender: 'other' }, cell: { count: 0 } },
      { key: { gender: 'unknown' }, cell: { count: 0 } },
    ]);
  });

  test('cell keys are the record-key sums modulo 2^32', () => {
    const r = evaluateOracle(CLINIC, evaluable({ cohort: { patient: { gender: ['female'] } } }), {
      recordKey: () => 0xffff_ffff,
    });
    // a, b, d and h: 4 * (2^32 - 1) mod 2^32.
    expect(r.total).toEqual({ count: 4, cellKey: 2 ** 32 - 4 });
  });

  test('the clinic examples: 1 in example 1, 2 in example 2', () => {
    const e1 = evaluateOracle(
      CLINIC,
      evaluable({
        cohort: {
          all: [
            { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
            { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
          ],
        },
      }),
    );
    expect(e1.total.count).toBe(1);
    const e2 = evaluateOracle(
      CLINIC,
      evaluable({
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
              not: {
                medication: { code: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] },
              },
            },
          ],
        },
      }),
    );
    expect(e2.total.count).toBe(2);
  });

  test('bins and missing always add up to the total; strata of one dimension never exceed it', () => {
    fc.assert(
      fc.property(
        populationArbitrary({ maxPatients: 15 }).chain((resources) =>
          fc.tuple(fc.constant(resources), queryArbitrary(populationHints(resources))),
        ),
        ([resources, raw]) => {
          const r = evaluateOracle(resources, {
            ...canonicalQuery(parseQuery(raw)),
            asOf: raw.asOf,
          });
          for (const m of r.measures) {
            if (m.type === 'histogram') {
              expect(m.bins.reduce((s, b) => s + b.cell.count, 0) + m.missing.count).toBe(
                r.total.count,
              );
            }
            if (m.type === 'summary') expect(m.n.count).toBeLessThanOrEqual(r.total.count);
          }
          if (raw.stratify?.length === 1 && !r.overlapping) {
            expect(r.strata.reduce((s, x) => s + x.cell.count, 0)).toBeLessThanOrEqual(
              r.total.count,
            );
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
