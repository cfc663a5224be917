// Random FHIR populations and random valid cohort queries over them, as
// fast-check arbitraries, for property tests of the engine against the oracle.
//
// The populations carry the awkward parts of real data: ICD-10 codes with and
// without dots, several ICD-10 systems, quantities in mixed units (glucose in
// mg/dL and mmol/L, weight in kg, g and [lb_av], height in cm and m, HbA1c in
// % and mmol/mol, blood pressure in mm[Hg] and kPa), non-UCUM and missing units,
// valueCodeableConcept, Observation components (blood-pressure panels with
// systolic and diastolic components, now and then two systolic ones; coded
// components next to other coded components), medications coded
// inline, by reference (`Medication/<id>`, `urn:uuid:<id>`, contained) and by
// ATC, entered-in-error and refuted resources, events without dates or with
// partial dates, both reference forms, events of unknown patients and a few
// malformed resources.
//
// Death dates fall on and next to birthdays (where an age at death changes)
// and the asOf dates, before and after them, in every form FHIR writes a
// dateTime; random summary bounds cut values on either side or both.
//
// Values and query bounds sit on grids that never meet across units (mmol/L
// values have one decimal and mg/dL ones none, g values end in 7, m values in
// 5 thousandths, ...), so a comparison is never decided by the last bit of a
// unit conversion; histogram edges for `mean` are off every grid for the same
// reason. Ties within one unit, the ones inclusive bounds are about, are common.
import fc from 'fast-check';
import type {
  CodeSet,
  Coding,
  CohortQuery,
  EventKind,
  Dimension,
  Expr,
  Gender,
  Measure,
} from '@tessera/schemas';
import type { SummaryBounds } from '../../src/engine/bounds.ts';
import { wholeYears } from './oracle.ts';
import { readFhir, type FhirResource } from './read-fhir.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const ICD10_CM = 'http://hl7.org/fhir/sid/icd-10-cm';
const ICD10_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const CVX = 'http://hl7.org/fhir/sid/cvx';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const UCUM = 'http://unitsofmeasure.org';
const LOCAL = 'http://example.org/fhir/local-codes';

/** The reference dates random queries use (one of them a 29 February). */
export const AS_OF_DATES = ['2026-01-01', '2024-02-29', '2023-06-15'] as const;

const ICD10_SYSTEMS = [ICD10, ICD10_CM, ICD10_GM] as const;
const ICD10_CODES = ['E11', 'E11.9', 'E11.65', 'E10.1', 'E13', 'I10', 'I25.10', 'J45.909'] as const;
const ICD10_PREFIXES = ['E11', 'E1', 'E11.6', 'I', 'I25', 'J45.9'] as const;
const CONDITION_SNOMED = ['15777000', '44054006', '38341003'] as const;
const ATC_CODES = ['A10BA02', 'A10BB01', 'A10AE04', 'C09AA05', 'C10AA05'] as const;
const ATC_PREFIXES = ['A10', 'A10B', 'C', 'C09AA'] as const;
const PROCEDURES = ['73761001', '80146002', '430193006'] as const;
const VACCINES = ['140', '208', '133'] as const;
const ENCOUNTER_TYPES = ['185349003', '162673000'] as const;
const ENCOUNTER_CLASSES = ['AMB', 'EMER', 'IMP'] as const;
const SMOKING_VALUES = ['449868002', '8517006', '266919005'] as const;

const HBA1C = '4548-4';
const HBA1C_IFCC = '59261-8';
const GLUCOSE_MASS = '2339-0';
const GLUCOSE_MOLAR = '15074-8';
const WEIGHT = '29463-7';
const HEIGHT = '8302-2';
const SMOKING = '72166-2';
const SYSTOLIC = '8480-6';
const DIASTOLIC = '8462-4';
const BP_PANEL = '85354-9';

/** A quantity analyte: its codes and, per unit, a grid of values. */
interface Analyte {
  readonly codes: readonly string[];
  readonly units: readonly { readonly unit: string; readonly value: fc.Arbitrary<number> }[];
}

const tenths = (lo: number, hi: number) =>
  fc.integer({ min: lo * 10, max: hi * 10 }).map((n) => n / 10);

/** Half of the time one of a few common values, so stored values meet query bounds. */
const grid = (common: readonly number[], any: fc.Arbitrary<number>) =>
  fc.oneof(fc.constantFrom(...common), any);

const ANALYTES: Readonly<
  Record<'hba1c' | 'glucose' | 'weight' | 'height' | 'systolic' | 'diastolic', Analyte>
> = {
  // NGSP % and IFCC mmol/mol: the master equation takes a tenth of a per cent
  // to five decimals of mmol/mol, and whole mmol/mol off the tenths of %.
  hba1c: {
    codes: [HBA1C, HBA1C_IFCC],
    units: [
      { unit: '%', value: grid([5.7, 6, 6.5, 7, 8], tenths(4, 12)) },
      { unit: 'mmol/mol', value: grid([39, 42, 48, 53, 64], fc.integer({ min: 20, max: 110 })) },
    ],
  },
  glucose: {
    codes: [GLUCOSE_MASS, GLUCOSE_MOLAR],
    units: [
      { unit: 'mg/dL', value: grid([90, 100, 126, 200], fc.integer({ min: 60, max: 300 })) },
      { unit: 'mmol/L', value: grid([5.5, 7, 7.8, 11.1], tenths(3, 17)) },
    ],
  },
  weight: {
    codes: [WEIGHT],
    units: [
      { unit: 'kg', value: grid([50, 70.5, 95.5], tenths(3, 150)) },
      {
        unit: 'g',
        value: grid(
          [3507, 50007, 70517],
          fc.integer({ min: 300, max: 15000 }).map((n) => n * 10 + 7),
        ),
      },
    ],
  },
  height: {
    codes: [HEIGHT],
    units: [
      { unit: 'cm', value: grid([150, 165, 180], fc.integer({ min: 50, max: 210 })) },
      {
        unit: 'm',
        value: grid(
          [1.505, 1.655, 1.805],
          fc.integer({ min: 50, max: 210 }).map((n) => (n * 10 + 5) / 1000),
        ),
      },
    ],
  },
  // Blood pressures, mostly as the components of a panel (bloodPressure below).
  // kPa values have one decimal: never an integer number of mm[Hg].
  systolic: {
    codes: [SYSTOLIC],
    units: [
      { unit: 'mm[Hg]', value: grid([120, 130, 140, 160], fc.integer({ min: 80, max: 220 })) },
      { unit: 'kPa', value: grid([16.1, 18.7, 21.3], tenths(10, 29)) },
    ],
  },
  diastolic: {
    codes: [DIASTOLIC],
    units: [{ unit: 'mm[Hg]', value: grid([80, 90, 100], fc.integer({ min: 40, max: 130 })) }],
  },
};
const ANALYTE_NAMES = Object.keys(ANALYTES) as (keyof typeof ANALYTES)[];

/** Per unit, the grid of its values. */
const UNIT_VALUES: ReadonlyMap<string, fc.Arbitrary<number>> = new Map(
  Object.values(ANALYTES).flatMap((a) => a.units.map((u) => [u.unit, u.value] as const)),
);

const pick = <T>(items: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...items);

function isoDay(from: number, to: number): fc.Arbitrary<string> {
  const start = Date.UTC(from, 0, 1) / 86_400_000;
  const end = Date.UTC(to, 11, 31) / 86_400_000;
  return fc
    .integer({ min: start, max: end })
    .map((day) => new Date(day * 86_400_000).toISOString().slice(0, 10));
}

const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/**
 * A day that is, half of the time, one of a few month-days around the asOf
 * dates and year ends, so events fall on period bounds and birthdays on asOf
 * and event dates: the ties inclusive bounds and whole-year ages are about.
 */
function boundaryDay(from: number, to: number, years?: readonly number[]): fc.Arbitrary<string> {
  const monthDays = ['01-01', '12-31', '02-28', '02-29', '03-01', '06-14', '06-15', '06-16'];
  const year = fc.integer({ min: from, max: to });
  const pooled = fc
    .tuple(years ? fc.oneof(fc.constantFrom(...years), year) : year, fc.constantFrom(...monthDays))
    .map(([y, md]) => `${String(y)}-${md === '02-29' && !isLeap(y) ? '02-28' : md}`);
  return fc.oneof(pooled, isoDay(from, to));
}

/** Event dates as FHIR writes them: dates, dateTimes with offsets, partial dates, or none. */
const eventDate: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: boundaryDay(2012, 2025) },
  { weight: 2, arbitrary: boundaryDay(2012, 2025).map((d) => `${d}T23:30:00+02:00`) },
  { weight: 1, arbitrary: isoDay(2012, 2025).map((d) => d.slice(0, 7)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

// Birth years whose ages at the asOf dates are the common ages of AGE_VALUES.
const BIRTH_YEARS = [1946, 1947, 1961, 1986, 1987, 2006, 2008, 2023];
const AGE_VALUES = [
  0, 1, 2, 3, 15, 16, 17, 18, 19, 20, 36, 37, 38, 39, 40, 62, 63, 64, 65, 66, 76, 77, 78, 79, 80,
];

const birthDate: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 9, arbitrary: boundaryDay(1925, 2025, BIRTH_YEARS) },
  { weight: 1, arbitrary: isoDay(1925, 2020).map((d) => d.slice(0, 4)) },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

/** A patient before ids are assigned. */
interface PatientDraft {
  readonly gender: string | undefined;
  readonly birthDate: string | undefined;
  readonly deceased: 'no' | 'false' | 'true' | 'dateTime';
  readonly events: readonly EventDraft[];
}

/** `YYYY-MM-DD` moved by `days`. */
function shiftDay(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

/**
 * How a death date is chosen: on a birthday some years after birth, mostly
 * before 2026 (29 February on 28 February in common years), on an asOf
 * date, or any day; then moved by `shift` days (the day before birth, now
 * and then) and written in one of FHIR's forms.
 */
interface DeathDraft {
  readonly on: 'birthday' | 'asOf' | 'any';
  readonly years: number;
  readonly asOf: string;
  readonly any: string;
  readonly shift: number;
  readonly form: 'instant' | 'date' | 'offset' | 'month';
}

const deathDraft: fc.Arbitrary<DeathDraft> = fc.record({
  on: fc.constantFrom<DeathDraft['on']>('birthday', 'birthday', 'asOf', 'any'),
  years: fc.integer({ min: 0, max: 100 }),
  asOf: fc.constantFrom<string>(...AS_OF_DATES),
  any: isoDay(1990, 2030),
  shift: fc.constantFrom(-1, 0, 0, 1),
  form: fc.constantFrom<DeathDraft['form']>('instant', 'instant', 'date', 'offset', 'month'),
});

/** A deceasedDateTime for a patient born on `birthDate`. */
function deathDateTime(d: DeathDraft, birthDate: string | undefined): string {
  let day = d.any;
  if (d.on === 'asOf') day = d.asOf;
  else if (
    d.on === 'birthday' &&
    birthDate !== undefined &&
    /^\d{4}-\d{2}-\d{2}$/.test(birthDate)
  ) {
    // Mostly before 2026, so that the asOf dates come after the death.
    const born = Number(birthDate.slice(0, 4));
    const year = born + (d.years % Math.max(1, 2026 - born));
    const md = birthDate.slice(5);
    day = `${String(year).padStart(4, '0')}-${md === '02-29' && !isLeap(year) ? '02-28' : md}`;
  }
  day = shiftDay(day, d.shift);
  switch (d.form) {
    case 'instant':
      return `${day}T10:00:00Z`;
    case 'date':
      return day;
    case 'offset':
      // The calendar date as written, whatever the offset.
      return `${day}T23:30:00-05:00`;
    case 'month':
      return day.slice(0, 7);
  }
}

/** Makes the resources of one event, given its index, subject reference and dates. */
type EventDraft = (
  index: number,
  patientRef: fc.Arbitrary<unknown>,
  dates: fc.Arbitrary<string | undefined>,
) => fc.Arbitrary<FhirResource[]>;

const icd10Coding = fc
  .record({ system: pick(ICD10_SYSTEMS), code: pick(ICD10_CODES), dots: fc.boolean() })
  .map(({ system, code, dots }) => ({ system, code: dots ? code : code.replaceAll('.', '') }));

const conditionCoding = fc.oneof(
  { weight: 3, arbitrary: icd10Coding },
  { weight: 2, arbitrary: pick(CONDITION_SNOMED).map((code) => ({ system: SNOMED, code })) },
);

function dated(
  dates: fc.Arbitrary<string | undefined>,
  field: (date: string) => Record<string, unknown>,
): fc.Arbitrary<Record<string, unknown>> {
  return dates.map((d) => (d === undefined ? {} : field(d)));
}

/**
 * A patient's event dates: a quarter of them on a birthday, where an age at
 * the event changes.
 */
function patientEventDates(birthDate: string | undefined): fc.Arbitrary<string | undefined> {
  if (birthDate === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate)) return eventDate;
  const born = Number(birthDate.slice(0, 4));
  const first = Math.max(born, 2012);
  if (first > 2025) return eventDate;
  const birthday = fc.integer({ min: first, max: 2025 }).map((year) => {
    const md = birthDate.slice(5);
    return `${year}-${md === '02-29' && !isLeap(year) ? '02-28' : md}`;
  });
  return fc.oneof({ weight: 3, arbitrary: eventDate }, { weight: 1, arbitrary: birthday });
}

const status = (normal: string) =>
  fc.oneof(
    { weight: 9, arbitrary: fc.constant(normal) },
    { weight: 1, arbitrary: fc.constant('entered-in-error') },
  );

const condition: EventDraft = (i, subject, dates) =>
  fc
    .record({
      // Several codings in one system make one resource match a set twice.
      coding: fc.oneof(
        fc.array(conditionCoding, { minLength: 1, maxLength: 3 }),
        fc
          .tuple(
            pick(ICD10_SYSTEMS),
            fc.uniqueArray(pick(ICD10_CODES), { minLength: 2, maxLength: 3 }),
          )
          .map(([system, codes]) => codes.map((code) => ({ system, code }))),
      ),
      date: fc.oneof(
        dated(dates, (d) => ({ onsetDateTime: d })),
        dated(dates, (d) => ({ onsetPeriod: { start: d } })),
        dated(dates, (d) => ({ recordedDate: d })),
        dated(dates, (d) => ({ onsetString: 'childhood', recordedDate: d })),
      ),
      verification: fc.constantFrom(
        undefined,
        'confirmed',
        'confirmed',
        'refuted',
        'entered-in-error',
      ),
      subject,
    })
    .map(({ coding, date, verification, subject }) => [
      {
        resourceType: 'Condition',
        id: `c${i}`,
        code: { coding },
        subject,
        ...date,
        ...(verification === undefined
          ? {}
          : {
              verificationStatus: {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
                    code: verification,
                  },
                ],
              },
            }),
      },
    ]);

const quantity = fc
  .constantFrom(...ANALYTE_NAMES)
  .chain((name) => {
    const analyte = ANALYTES[name];
    const units = [...analyte.units.map((u) => ({ unit: u.unit, value: u.value }))];
    if (name === 'weight')
      units.push({ unit: '[lb_av]', value: fc.integer({ min: 10, max: 300 }) });
    return fc.record({
      code: pick(analyte.codes),
      localCode: fc.boolean(),
      // A second value in the same unit, for a repeat measurement on the same day.
      unitChoice: pick(units).chain((u) =>
        fc.tuple(u.value, u.value).map(([value, repeat]) => ({ unit: u.unit, value, repeat })),
      ),
      form: fc.constantFrom('ucum', 'ucum', 'text', 'non-ucum', 'none'),
    });
  })
  .map(({ code, localCode, unitChoice, form }) => {
    const coding = [
      { system: LOINC, code },
      ...(localCode ? [{ system: LOCAL, code: `L-${code}` }] : []),
    ];
    const { unit, value, repeat } = unitChoice;
    const quantityOf = (value: number) =>
      form === 'ucum'
        ? { value, unit, system: UCUM, code: unit }
        : form === 'text'
          ? { value, unit }
          : form === 'non-ucum'
            ? { value, unit: 'units', system: LOCAL, code: 'u' }
            : { value };
    return { code: { coding }, valueQuantity: quantityOf(value), repeat: quantityOf(repeat) };
  });

const smoking = pick(SMOKING_VALUES).map((code) => ({
  code: { coding: [{ system: LOINC, code: SMOKING }] },
  valueCodeableConcept: { coding: [{ system: SNOMED, code }] },
}));

const ucumQuantity = (unit: string, value: number) => ({ value, unit, system: UCUM, code: unit });

const bpComponent = (code: string, unit: string, value: number) => ({
  code: { coding: [{ system: LOINC, code }] },
  valueQuantity: ucumQuantity(unit, value),
});

/** A blood-pressure panel: no value of its own, systolic and diastolic components. */
const bloodPressure = fc
  .record({
    systolic: pick(ANALYTES.systolic.units).chain((u) => u.value.map((v) => [u.unit, v] as const)),
    diastolic: ANALYTES.diastolic.units[0]!.value,
    // A second systolic reading in the same panel: one value per resource, the larger.
    second: fc.option(ANALYTES.systolic.units[0]!.value, { nil: undefined, freq: 5 }),
  })
  .map(({ systolic, diastolic, second }) => ({
    code: { coding: [{ system: LOINC, code: BP_PANEL }] },
    component: [
      bpComponent(SYSTOLIC, ...systolic),
      bpComponent(DIASTOLIC, 'mm[Hg]', diastolic),
      ...(second === undefined ? [] : [bpComponent(SYSTOLIC, 'mm[Hg]', second)]),
    ],
  }));

/** Coded components: smoking status next to another coded component, whose value must not count. */
const socialHistory = fc
  .tuple(pick(SMOKING_VALUES), pick(SMOKING_VALUES))
  .map(([smoking, other]) => ({
    code: { coding: [{ system: LOCAL, code: 'social-history' }] },
    component: [
      {
        code: { coding: [{ system: LOCAL, code: 'other-habit' }] },
        valueCodeableConcept: { coding: [{ system: SNOMED, code: other }] },
      },
      {
        code: { coding: [{ system: LOINC, code: SMOKING }] },
        valueCodeableConcept: { coding: [{ system: SNOMED, code: smoking }] },
      },
    ],
  }));

const observation: EventDraft = (i, subject, dates) =>
  fc
    .record({
      body: fc.oneof(
        { weight: 4, arbitrary: quantity },
        { weight: 1, arbitrary: smoking },
        { weight: 2, arbitrary: bloodPressure },
        { weight: 1, arbitrary: socialHistory },
      ),
      date: fc.oneof(
        dated(dates, (d) => ({ effectiveDateTime: d })),
        dated(dates, (d) => ({ effectivePeriod: { start: d } })),
        dated(dates, (d) => ({ effectiveInstant: d.length === 10 ? `${d}T08:00:00Z` : d })),
      ),
      status: status('final'),
      repeated: fc.boolean(),
      subject,
    })
    .map(({ body, date, status, repeated, subject }) => {
      const { repeat, ...first } = 'repeat' in body ? body : { ...body, repeat: undefined };
      const observation = {
        resourceType: 'Observation',
        id: `o${i}`,
        status,
        subject,
        ...first,
        ...date,
      };
      // Latest and earliest must average the values of one day.
      return repeat !== undefined && repeated
        ? [observation, { ...observation, id: `o${i}r`, status: 'final', valueQuantity: repeat }]
        : [observation];
    });

const atcCoding = pick(ATC_CODES).map((code) => ({ system: ATC, code }));

const medication: EventDraft = (i, subject, dates) =>
  fc
    .record({
      type: fc.constantFrom('MedicationRequest', 'MedicationStatement', 'MedicationAdministration'),
      coding: atcCoding,
      how: fc.constantFrom('inline', 'inline', 'Medication/', 'urn:uuid:', 'contained', 'dangling'),
      date: dates,
      status: status('active'),
      subject,
    })
    .map(({ type, coding, how, date, status, subject }) => {
      const medId = `med${i}`;
      const dateField =
        date === undefined
          ? {}
          : type === 'MedicationRequest'
            ? { authoredOn: date }
            : type === 'MedicationStatement'
              ? { effectivePeriod: { start: date } }
              : { effectiveDateTime: date };
      const use: Record<string, unknown> = {
        resourceType: type,
        id: `rx${i}`,
        status,
        subject,
        ...dateField,
      };
      const out: FhirResource[] = [];
      if (how === 'inline') use.medicationCodeableConcept = { coding: [coding] };
      else if (how === 'contained') {
        use.contained = [{ resourceType: 'Medication', id: 'm', code: { coding: [coding] } }];
        use.medicationReference = { reference: '#m' };
      } else if (how === 'dangling')
        use.medicationReference = { reference: `Medication/missing${i}` };
      else {
        use.medicationReference = { reference: `${how}${medId}` };
        out.push({ resourceType: 'Medication', id: medId, code: { coding: [coding] } });
      }
      return [{ ...use, resourceType: type }, ...out];
    });

const procedure: EventDraft = (i, subject, dates) =>
  fc
    .record({
      code: pick(PROCEDURES),
      date: fc.oneof(
        dated(dates, (d) => ({ performedDateTime: d })),
        dated(dates, (d) => ({ performedPeriod: { start: d } })),
      ),
      status: status('completed'),
      subject,
    })
    .map(({ code, date, status, subject }) => [
      {
        resourceType: 'Procedure',
        id: `pr${i}`,
        status,
        subject,
        code: { coding: [{ system: SNOMED, code }] },
        ...date,
      },
    ]);

const immunization: EventDraft = (i, patient, dates) =>
  fc
    .record({
      code: pick(VACCINES),
      date: dated(dates, (d) => ({ occurrenceDateTime: d })),
      status: status('completed'),
      patient,
    })
    .map(({ code, date, status, patient }) => [
      {
        resourceType: 'Immunization',
        id: `im${i}`,
        status,
        patient,
        vaccineCode: { coding: [{ system: CVX, code }] },
        ...date,
      },
    ]);

const encounter: EventDraft = (i, subject, dates) =>
  fc
    .record({
      type: fc.option(pick(ENCOUNTER_TYPES), { nil: undefined }),
      cls: pick(ENCOUNTER_CLASSES),
      date: dated(dates, (d) => ({ period: { start: d } })),
      status: status('finished'),
      subject,
    })
    .map(({ type, cls, date, status, subject }) => [
      {
        resourceType: 'Encounter',
        id: `en${i}`,
        status,
        subject,
        class: { system: ACT_CODE, code: cls },
        ...(type === undefined ? {} : { type: [{ coding: [{ system: SNOMED, code: type }] }] }),
        ...date,
      },
    ]);

const EVENT_DRAFTS: readonly [EventDraft, number][] = [
  [condition, 4],
  [observation, 5],
  [medication, 3],
  [procedure, 1],
  [immunization, 1],
  [encounter, 1],
];

export interface PopulationOptions {
  readonly minPatients?: number;
  readonly maxPatients?: number;
  readonly maxEventsPerPatient?: number;
}

/**
 * A small random FHIR population: Patients, their events and Medications,
 * with resource ids unique across types.
 * @example fc.sample(populationArbitrary(), 1)[0] // [{ resourceType: 'Patient', id: 'p0', ... }, ...]
 */
export function populationArbitrary(options: PopulationOptions = {}): fc.Arbitrary<FhirResource[]> {
  const minPatients = Math.min(options.minPatients ?? 5, options.maxPatients ?? 40);
  const maxPatients = options.maxPatients ?? 40;
  const maxEvents = options.maxEventsPerPatient ?? 12;
  const draft = fc.record({
    gender: fc.constantFrom<string | undefined>(
      'female',
      'male',
      'female',
      'male',
      'other',
      'unknown',
      undefined,
      'x-bogus',
    ),
    birthDate,
    deceased: fc.constantFrom<PatientDraft['deceased']>(
      'no',
      'no',
      'false',
      'true',
      'dateTime',
      'dateTime',
    ),
    death: deathDraft,
    events: fc.array(fc.nat({ max: 99 }), { maxLength: maxEvents, size: 'max' }),
  });
  return fc
    .array(draft, { minLength: minPatients, maxLength: maxPatients, size: 'max' })
    .chain((drafts) => {
      const patients: FhirResource[] = drafts.map((d, p) => ({
        resourceType: 'Patient',
        id: `p${p}`,
        ...(d.gender === undefined ? {} : { gender: d.gender }),
        ...(d.birthDate === undefined ? {} : { birthDate: d.birthDate }),
        ...(d.deceased === 'no'
          ? {}
          : d.deceased === 'dateTime'
            ? { deceasedDateTime: deathDateTime(d.death, d.birthDate) }
            : { deceasedBoolean: d.deceased === 'true' }),
      }));
      let next = 0;
      const totalWeight = EVENT_DRAFTS.reduce((s, [, w]) => s + w, 0);
      const events: fc.Arbitrary<FhirResource[]>[] = [];
      drafts.forEach((d, p) => {
        for (const roll of d.events) {
          // The roll picks the kind, so shrinking keeps each event's kind.
          let r = (roll * totalWeight) / 100;
          const [make] = EVENT_DRAFTS.find(([, w]) => (r -= w) < 0) ?? EVENT_DRAFTS[0]!;
          events.push(make(next++, patientReference(`p${p}`), patientEventDates(d.birthDate)));
        }
      });
      // Events of a patient the node does not hold, and one without a subject.
      events.push(condition(next++, fc.constant({ reference: 'Patient/ghost' }), eventDate));
      events.push(procedure(next++, fc.constant(undefined), eventDate));
      return (events.length === 0 ? fc.constant([]) : fc.tuple(...events)).map((lists) => [
        ...patients,
        ...lists.flat(),
      ]);
    });
}

function patientReference(id: string): fc.Arbitrary<unknown> {
  return fc.constantFrom({ reference: `Patient/${id}` }, { reference: `urn:uuid:${id}` });
}

// Queries -------------------------------------------------------------------

/**
 * Values taken from a population, so that query bounds meet data exactly:
 * event, birth and death dates, stored quantity values by unit, the ages at
 * which an event fell on a birthday (a and a - 1, the ages an ageAtEvent
 * bound must get right) and the ages at death (a - 1, a and a + 1).
 */
export interface QueryHints {
  readonly eventDates: readonly string[];
  readonly birthDates: readonly string[];
  readonly deathDates: readonly string[];
  readonly eventAges: readonly number[];
  readonly deathAges: readonly number[];
  readonly values: ReadonlyMap<string, readonly number[]>;
}

const NO_HINTS: QueryHints = {
  eventDates: [],
  birthDates: [],
  deathDates: [],
  eventAges: [],
  deathAges: [],
  values: new Map(),
};

const monthDay = (date: string) => date.slice(5);

/** The whole years of the birthday-boys and -girls of `on` (born on its month and day), and one less. */
function birthdayAges(birthDates: readonly string[], on: string): number[] {
  const ages: number[] = [];
  for (const birth of birthDates) {
    const age = wholeYears(birth, on);
    if (age === undefined || age > 150 || monthDay(birth) !== monthDay(on)) continue;
    ages.push(age);
    if (age > 0) ages.push(age - 1);
  }
  return ages;
}

/**
 * The hints of a population.
 * @example queryArbitrary(populationHints(resources))
 */
export function populationHints(resources: readonly FhirResource[]): QueryHints {
  const { patients, events } = readFhir(resources);
  const eventDates = new Set<string>();
  const birthDates = new Set<string>();
  const deathDates = new Set<string>();
  const eventAges = new Set<number>();
  const deathAges = new Set<number>();
  const values = new Map<string, Set<number>>();
  for (const p of patients.values()) {
    if (p.birthDate !== undefined && p.birthDate >= '1900-01-01') {
      birthDates.add(p.birthDate);
    }
    if (p.deceasedDate !== undefined && p.deceasedDate >= '1900-01-01') {
      deathDates.add(p.deceasedDate);
      const age = p.birthDate === undefined ? undefined : wholeYears(p.birthDate, p.deceasedDate);
      if (age !== undefined && age <= 150) {
        for (const a of [age - 1, age, age + 1]) if (a >= 0 && a <= 150) deathAges.add(a);
      }
    }
  }
  for (const e of events) {
    if (e.date !== undefined) {
      eventDates.add(e.date);
      const birth = patients.get(e.patientId)?.birthDate;
      if (birth !== undefined) birthdayAges([birth], e.date).forEach((a) => eventAges.add(a));
    }
    for (const part of [e, ...e.components]) {
      if (part.quantity?.unit === undefined) continue;
      const set = values.get(part.quantity.unit) ?? new Set<number>();
      set.add(part.quantity.value);
      values.set(part.quantity.unit, set);
    }
  }
  const sorted = <T>(set: Set<T>) => [...set].sort();
  return {
    eventDates: sorted(eventDates),
    birthDates: sorted(birthDates),
    deathDates: sorted(deathDates),
    eventAges: [...eventAges].sort((x, y) => x - y),
    deathAges: [...deathAges].sort((x, y) => x - y),
    values: new Map([...values].map(([unit, set]) => [unit, [...set].sort((x, y) => x - y)])),
  };
}

/**
 * A reference date: one of AS_OF_DATES, a patient's birthday (a 29
 * February birthday in a common year taken on 28 February), or a death
 * date or a day either side of one.
 */
function asOfArbitrary(hints: QueryHints): fc.Arbitrary<string> {
  const deaths = fc
    .tuple(pick(hints.deathDates.length > 0 ? hints.deathDates : AS_OF_DATES), pick([-1, 0, 1]))
    .map(([date, shift]) => shiftDay(date, shift));
  const fixed = fc.oneof(
    { weight: 3, arbitrary: pick(AS_OF_DATES) },
    { weight: 1, arbitrary: deaths },
  );
  if (hints.birthDates.length === 0) return fixed;
  const anniversary = fc
    .tuple(pick(hints.birthDates), fc.integer({ min: 0, max: 90 }))
    .map(([birth, years]) => {
      const year = Number(birth.slice(0, 4)) + years;
      const md = monthDay(birth) === '02-29' && !isLeap(year) ? '02-28' : monthDay(birth);
      return `${String(year).padStart(4, '0')}-${md}`;
    })
    .filter((d) => d <= '2030-12-31');
  return fc.oneof(fixed, anniversary);
}

/** `arb`, or two times in three one of `hints` when there are any. */
function orHint<T>(arb: fc.Arbitrary<T>, hints: readonly T[] | undefined): fc.Arbitrary<T> {
  return hints === undefined || hints.length === 0
    ? arb
    : fc.oneof({ weight: 1, arbitrary: arb }, { weight: 2, arbitrary: fc.constantFrom(...hints) });
}

/** `arb` in `percent` % of the cases, else undefined. */
function sometimes<T>(arb: fc.Arbitrary<T>, percent: number): fc.Arbitrary<T | undefined> {
  return fc.oneof(
    { weight: 100 - percent, arbitrary: fc.constant(undefined) },
    { weight: percent, arbitrary: arb },
  );
}

/** The record without its undefined values: optional keys absent, not undefined. */
function defined<T extends Record<string, unknown>>(
  record: T,
): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** An ordered pair with at least one end, as `{ [lo]: ..., [hi]: ... }`. */
function range<T extends number | string, K extends string>(
  value: fc.Arbitrary<T>,
  lo: K,
  hi: K,
): fc.Arbitrary<Partial<Record<K, T>>> {
  return fc
    .tuple(fc.option(value, { nil: undefined }), fc.option(value, { nil: undefined }))
    .filter(([a, b]) => a !== undefined || b !== undefined)
    .map(([a, b]) => {
      const [low, high] = a !== undefined && b !== undefined && a > b ? [b, a] : [a, b];
      return {
        ...(low === undefined ? {} : { [lo]: low }),
        ...(high === undefined ? {} : { [hi]: high }),
      } as Partial<Record<K, T>>;
    });
}

function nonEmptySubset<T>(items: readonly T[], max = 3): fc.Arbitrary<[T, ...T[]]> {
  return fc.uniqueArray(pick(items), {
    minLength: 1,
    maxLength: Math.min(max, items.length),
  }) as fc.Arbitrary<[T, ...T[]]>;
}

const conditionCodeSet: fc.Arbitrary<CodeSet> = fc
  .array(
    fc.oneof(
      icd10Coding.map((c): Coding => c),
      fc.record({
        system: pick(ICD10_SYSTEMS),
        code: pick(ICD10_PREFIXES),
        descendants: fc.constant(true),
      }),
      pick(CONDITION_SNOMED).map((code): Coding => ({ system: SNOMED, code })),
    ),
    { minLength: 1, maxLength: 3 },
  )
  .map((c) => c as CodeSet);

const medicationCodeSet: fc.Arbitrary<CodeSet> = fc
  .array(
    fc.oneof(
      atcCoding.map((c): Coding => c),
      pick(ATC_PREFIXES).map((code): Coding => ({ system: ATC, code, descendants: true })),
    ),
    { minLength: 1, maxLength: 2 },
  )
  .map((c) => c as CodeSet);

const codesOf = (system: string, codes: readonly string[]): fc.Arbitrary<CodeSet> =>
  nonEmptySubset(codes).map((cs) => cs.map((code) => ({ system, code })) as CodeSet);

const encounterCodeSet = fc.oneof(
  codesOf(SNOMED, ENCOUNTER_TYPES),
  codesOf(ACT_CODE, ENCOUNTER_CLASSES),
  fc
    .tuple(codesOf(SNOMED, ENCOUNTER_TYPES), codesOf(ACT_CODE, ENCOUNTER_CLASSES))
    .map(([types, classes]) => [...types, ...classes] as CodeSet),
);

/** The cohort expressions and measures of queries on `asOf` over a population with these hints. */
function queryParts(
  hints: QueryHints,
  asOf: string,
): {
  expr: fc.Arbitrary<Expr>;
  dimension: fc.Arbitrary<Dimension>;
  measure: fc.Arbitrary<Measure>;
} {
  const period = range(orHint(boundaryDay(2011, 2026), hints.eventDates), 'from', 'to');
  const birthPeriod = range(orHint(boundaryDay(1920, 2025), hints.birthDates), 'from', 'to');
  const anyAge = grid(AGE_VALUES, fc.integer({ min: 0, max: 100 }));
  // Ages that change on asOf for the living, or at death for the dead.
  const boundaryAges = [...birthdayAges(hints.birthDates, asOf), ...hints.deathAges];
  const ageRange = range(orHint(anyAge, boundaryAges), 'min', 'max');
  const ageAtEventRange = range(orHint(anyAge, hints.eventAges), 'min', 'max');

  const ageBand = fc
    .uniqueArray(
      orHint(fc.integer({ min: 1, max: 100 }), boundaryAges).filter((a) => a > 0),
      { minLength: 1, maxLength: 5 },
    )
    .map((edges) => ({
      ageBand: [0, ...edges.sort((a, b) => a - b)] as [number, number, ...number[]],
    }));

  const dimension: fc.Arbitrary<Dimension> = fc.oneof(
    fc.constant<Dimension>('gender'),
    fc.constant<Dimension>('deceased'),
    ageBand,
    conditionCodeSet.map((codes): Dimension => ({ codes: { of: 'condition', in: codes } })),
  );

  /** An analyte's codes and a unit with values on its grid and from the data. */
  const analyteQuery = fc.constantFrom(...ANALYTE_NAMES).chain((name) => {
    const analyte = ANALYTES[name];
    return fc.record({
      // With the local code too, one resource matches twice and units convert
      // for one of its codings but not the other (no molar mass locally).
      codes: fc
        .tuple(codesOf(LOINC, analyte.codes), fc.boolean())
        .map(([codes, local]) =>
          local ? ([...codes, { system: LOCAL, code: `L-${codes[0].code}` }] as CodeSet) : codes,
        ),
      unit: pick(analyte.units).map((u) => ({
        unit: u.unit,
        value: orHint(u.value, hints.values.get(u.unit)),
      })),
    });
  });

  const valueRange = analyteQuery.chain(({ codes, unit }) =>
    range(unit.value, 'min', 'max').map((bounds) => ({
      code: codes,
      value: { ...bounds, unit: unit.unit },
    })),
  );

  // Optional parts are present often enough to be tested and rarely enough
  // that criteria still match someone in a population of a few dozen patients.
  const commonEventParts = fc
    .record({
      period: sometimes(period, 35),
      ageAtEvent: sometimes(ageAtEventRange, 30),
      atLeast: sometimes(fc.constantFrom(1, 2, 2, 3), 30),
    })
    .map(defined);

  // A computed key loses the kind's type; the schema arbitraries keep it valid.
  const event = (kind: Exclude<EventKind, 'observation'>, codes: fc.Arbitrary<CodeSet>) =>
    fc
      .tuple(codes, commonEventParts)
      .map(([code, rest]) => ({ [kind]: { code, ...rest } }) as unknown as Expr);

  const leaf: fc.Arbitrary<Expr> = fc.oneof(
    fc
      .record({
        gender: sometimes(nonEmptySubset<Gender>(['female', 'male', 'other', 'unknown'], 2), 50),
        age: sometimes(ageRange, 40),
        birthDate: sometimes(birthPeriod, 25),
        deceased: sometimes(fc.boolean(), 25),
      })
      .map(defined)
      .filter((c) => Object.keys(c).length > 0)
      .map((patient): Expr => ({ patient })),
    event('condition', conditionCodeSet),
    event('medication', medicationCodeSet),
    fc
      .tuple(valueRange, commonEventParts)
      .map(([v, rest]): Expr => ({ observation: { ...v, ...rest } })),
    fc.tuple(codesOf(SNOMED, SMOKING_VALUES), commonEventParts).map(([valueCode, rest]): Expr => ({
      observation: { code: [{ system: LOINC, code: SMOKING }], valueCode, ...rest },
    })),
    // Codes alone, which the code index answers: panels and their components.
    fc
      .tuple(codesOf(LOINC, [SYSTOLIC, DIASTOLIC, BP_PANEL]), commonEventParts)
      .map(([code, rest]): Expr => ({ observation: { code, ...rest } })),
    event('procedure', codesOf(SNOMED, PROCEDURES)),
    event('immunization', codesOf(CVX, VACCINES)),
    event('encounter', encounterCodeSet),
  );

  const expr: fc.Arbitrary<Expr> = fc.letrec<{ expr: Expr }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      { weight: 4, arbitrary: leaf },
      {
        weight: 1,
        arbitrary: fc
          .array(tie('expr'), { minLength: 1, maxLength: 3 })
          .map((all) => ({ all }) as Expr),
      },
      {
        weight: 1,
        arbitrary: fc
          .array(tie('expr'), { minLength: 1, maxLength: 3 })
          .map((any) => ({ any }) as Expr),
      },
      { weight: 1, arbitrary: tie('expr').map((not) => ({ not })) },
    ),
  })).expr;

  const quantityMeasure = fc
    .record({
      analyte: analyteQuery,
      pick: fc.constantFrom('latest', 'earliest', 'mean' as const),
      period: sometimes(period, 30),
    })
    .chain(({ analyte, pick, period }) =>
      fc.uniqueArray(analyte.unit.value, { minLength: 2, maxLength: 5 }).map((values) => ({
        observation: analyte.codes,
        unit: analyte.unit.unit,
        pick,
        ...(period === undefined ? {} : { period }),
        // Means land anywhere on the grid; edges 0.0371 off it keep bins exact.
        edges: values.sort((a, b) => a - b).map((v) => (pick === 'mean' ? v + 0.0371 : v)) as [
          number,
          number,
          ...number[],
        ],
      })),
    );

  const measure: fc.Arbitrary<Measure> = fc.oneof(
    fc.constant<Measure>({ count: 'patients' }),
    quantityMeasure.map((histogram): Measure => ({ histogram })),
    quantityMeasure.map(({ edges: _edges, ...summary }): Measure => ({ summary })),
  );

  return { expr, dimension, measure };
}

/**
 * A random valid query (it passes parseQuery) over the codes and units of
 * populationArbitrary, with asOf set; with hints, its dates, ages and values
 * are often the population's own.
 * @example fc.sample(queryArbitrary(), 1)[0].cohort
 */
export function queryArbitrary(
  hints: QueryHints = NO_HINTS,
): fc.Arbitrary<CohortQuery & { asOf: string }> {
  return asOfArbitrary(hints).chain((asOf) => {
    const { expr, dimension, measure } = queryParts(hints, asOf);
    return fc
      .record({
        cohort: expr,
        stratify: fc.uniqueArray(dimension, {
          maxLength: 3,
          selector: (d) => (typeof d === 'string' ? d : Object.keys(d)[0]),
        }),
        measures: fc.array(measure, { minLength: 1, maxLength: 3 }),
      })
      .map(({ cohort, stratify, measures }) => ({
        version: 1 as const,
        cohort,
        asOf,
        ...(stratify.length === 0 ? {} : { stratify }),
        measures: measures as [Measure, ...Measure[]],
      }));
  });
}

/**
 * A population and queries over it that use its dates, ages and values.
 * @example fc.assert(fc.property(populationWithQueries(), ([resources, queries]) => ...))
 */
export function populationWithQueries(
  options: PopulationOptions & { readonly maxQueries?: number } = {},
): fc.Arbitrary<[FhirResource[], (CohortQuery & { asOf: string })[]]> {
  return populationArbitrary(options).chain((resources) =>
    fc.tuple(
      fc.constant(resources),
      fc.array(queryArbitrary(populationHints(resources)), {
        minLength: 1,
        maxLength: options.maxQueries ?? 8,
      }),
    ),
  );
}

/**
 * Clamping bounds for a query's summaries, by measure index: undefined for
 * other measures and, now and then, for a summary. Mostly two values of the
 * summary's unit, often the population's own, so that bounds cut values
 * below, above or on both sides; sometimes equal bounds, or bounds wider
 * than any value.
 * @example fc.sample(summaryBoundsArbitrary(canonical.measures, hints), 1)[0] // [undefined, { min: 6, max: 8 }]
 */
export function summaryBoundsArbitrary(
  measures: readonly Measure[],
  hints: QueryHints = NO_HINTS,
): fc.Arbitrary<(SummaryBounds | undefined)[]> {
  const perMeasure = measures.map((m): fc.Arbitrary<SummaryBounds | undefined> => {
    if (!('summary' in m)) return fc.constant(undefined);
    const unit = m.summary.unit;
    const value = orHint(
      UNIT_VALUES.get(unit) ?? fc.integer({ min: 0, max: 300 }),
      hints.values.get(unit),
    );
    const cut = fc
      .tuple(value, value)
      .map(([a, b]): SummaryBounds => (a <= b ? { min: a, max: b } : { min: b, max: a }));
    return fc.oneof(
      { weight: 1, arbitrary: fc.constant(undefined) },
      { weight: 6, arbitrary: cut },
      { weight: 1, arbitrary: value.map((v): SummaryBounds => ({ min: v, max: v })) },
      { weight: 1, arbitrary: fc.constant<SummaryBounds>({ min: -1e6, max: 1e6 }) },
    );
  });
  return fc.tuple(...perMeasure);
}

/** A random query with the clamping bounds of its summaries. */
export interface BoundedQuery {
  readonly query: CohortQuery & { asOf: string };
  readonly summaryBounds: readonly (SummaryBounds | undefined)[];
}

/**
 * A population and queries over it, as populationWithQueries, each with
 * random bounds for its summaries (the measure order parseQuery and
 * canonicalQuery keep).
 * @example fc.assert(fc.property(populationWithBoundedQueries(), ([resources, queries]) => ...))
 */
export function populationWithBoundedQueries(
  options: PopulationOptions & { readonly maxQueries?: number } = {},
): fc.Arbitrary<[FhirResource[], BoundedQuery[]]> {
  return populationArbitrary(options).chain((resources) => {
    const hints = populationHints(resources);
    const bounded = queryArbitrary(hints).chain((query) =>
      summaryBoundsArbitrary(query.measures ?? [], hints).map((summaryBounds): BoundedQuery => ({
        query,
        summaryBounds,
      })),
    );
    return fc.tuple(
      fc.constant(resources),
      fc.array(bounded, { minLength: 1, maxLength: options.maxQueries ?? 8 }),
    );
  });
}
