// A small hand-written population for the consent criterion, the opt-out
// policy and medication criteria kept to some resource types, with answers
// worked out by hand. Consents follow the MII broad consent: a root provision
// `deny` with one nested provision per policy code, `permit` or `deny`.
import type { FhirResource } from './read-fhir.ts';

/** The MII broad consent's policy codes. */
export const MII_POLICY = 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3';
/** MDAT wissenschaftlich nutzen EU DSGVO NIVEAU. */
export const MDAT_USE = '2.16.840.1.113883.3.1937.777.24.5.3.8';
/** Rekontaktierung Ergänzungen. */
export const RECONTACT = '2.16.840.1.113883.3.1937.777.24.5.3.6';

const ATC = 'http://www.whocc.no/atc';
const ref = (id: string) => ({ reference: `Patient/${id}` });
const policy = (code: string) => [{ coding: [{ system: MII_POLICY, code }] }];
const period = (start?: string, end?: string) => ({
  ...(start === undefined ? {} : { start }),
  ...(end === undefined ? {} : { end }),
});

function broadConsent(
  id: string,
  patient: string,
  status: string,
  root: Record<string, unknown>,
  nested: Record<string, unknown>[],
): FhirResource {
  return {
    resourceType: 'Consent',
    id,
    status,
    scope: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'research' }],
    },
    patient: ref(patient),
    dateTime: '2020-01-01',
    provision: { type: 'deny', ...root, provision: nested },
  };
}

/**
 * Patients and what they consented to, on 2026-01-01:
 * p1 permits MDAT use (2020 to 2050) and denies recontact;
 * p2 permitted MDAT use until 2020-12-31 (expired);
 * p3 denies MDAT use (an opt-out of it);
 * p4 permitted MDAT use in a Consent that is inactive (withdrawn);
 * p5 permits MDAT use without a period of its own, inside a root provision in force 2019 to 2030;
 * p6 has no Consent;
 * p7 permits MDAT use from 2027-01-01 (not yet in force);
 * p8 permits MDAT use in an R5-style Consent (`subject` instead of `patient`), in a root provision.
 * Metformin (ATC A10BA02): p1 administered, p2 requested, p3 a statement,
 * p4 administered with a referenced Medication, p6 requested and administered.
 */
export const CONSENT_CLINIC: readonly FhirResource[] = [
  { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1960-01-01' },
  { resourceType: 'Patient', id: 'p2', gender: 'male', birthDate: '1970-01-01' },
  { resourceType: 'Patient', id: 'p3', gender: 'female', birthDate: '1980-01-01' },
  { resourceType: 'Patient', id: 'p4', gender: 'male', birthDate: '1990-01-01' },
  { resourceType: 'Patient', id: 'p5', gender: 'female', birthDate: '1950-01-01' },
  { resourceType: 'Patient', id: 'p6', gender: 'male', birthDate: '1940-01-01' },
  { resourceType: 'Patient', id: 'p7', gender: 'female', birthDate: '2000-01-01' },
  { resourceType: 'Patient', id: 'p8', gender: 'other', birthDate: '2001-01-01' },

  broadConsent('c1', 'p1', 'active', { period: period('2020-01-01', '2050-01-01') }, [
    { type: 'permit', period: period('2020-01-01', '2050-01-01'), code: policy(MDAT_USE) },
    { type: 'deny', period: period('2020-01-01', '2050-01-01'), code: policy(RECONTACT) },
  ]),
  broadConsent('c2', 'p2', 'active', { period: period('2015-01-01', '2020-12-31') }, [
    { type: 'permit', period: period('2015-01-01', '2020-12-31'), code: policy(MDAT_USE) },
  ]),
  broadConsent('c3', 'p3', 'active', { period: period('2020-01-01') }, [
    { type: 'deny', period: period('2020-01-01'), code: policy(MDAT_USE) },
  ]),
  broadConsent('c4', 'p4', 'inactive', {}, [{ type: 'permit', code: policy(MDAT_USE) }]),
  broadConsent('c5', 'p5', 'active', { period: period('2019-01-01', '2030-12-31') }, [
    { type: 'permit', code: policy(MDAT_USE) },
  ]),
  broadConsent('c7', 'p7', 'active', { period: period('2027-01-01', '2032-01-01') }, [
    {
      type: 'permit',
      period: period('2027-01-01T00:00:00+01:00', '2032-01-01'),
      code: policy(MDAT_USE),
    },
  ]),
  {
    resourceType: 'Consent',
    id: 'c8',
    status: 'active',
    subject: ref('p8'),
    provision: { type: 'permit', code: policy(MDAT_USE) },
  },

  {
    resourceType: 'MedicationAdministration',
    id: 'ma1',
    status: 'completed',
    subject: ref('p1'),
    medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
    effectiveDateTime: '2024-03-01',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr2',
    status: 'active',
    intent: 'order',
    subject: ref('p2'),
    medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
    authoredOn: '2024-03-01',
  },
  {
    resourceType: 'MedicationStatement',
    id: 'ms3',
    status: 'active',
    subject: ref('p3'),
    medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
    effectiveDateTime: '2024-03-01',
  },
  {
    resourceType: 'Medication',
    id: 'metformin',
    code: { coding: [{ system: ATC, code: 'A10BA02' }] },
  },
  {
    resourceType: 'MedicationAdministration',
    id: 'ma4',
    status: 'completed',
    subject: ref('p4'),
    medicationReference: { reference: 'Medication/metformin' },
    effectiveDateTime: '2024-03-01',
  },
  {
    resourceType: 'MedicationRequest',
    id: 'mr6',
    status: 'active',
    intent: 'order',
    subject: ref('p6'),
    medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
    authoredOn: '2024-03-01',
  },
  {
    resourceType: 'MedicationAdministration',
    id: 'ma6',
    status: 'completed',
    subject: ref('p6'),
    medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
    effectiveDateTime: '2024-03-02',
  },
];
