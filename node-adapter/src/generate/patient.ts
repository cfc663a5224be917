// One synthetic patient's record over the window before the reference date,
// written as FHIR R4 JSON strings. Pure: the patient's own seeded stream in,
// resource lines out through `emit`, so the same (seed, region, index) gives
// the same bytes however the caller batches or writes them.
import { dateTimeOf, DAYS_PER_YEAR, dayToIso, isoToDay } from './calendar.ts';
import {
  ACT_CODE,
  ACUTE_CONDITIONS,
  ATC,
  CHRONIC_CONDITIONS,
  concept,
  CVX,
  ENCOUNTER_CLASSES,
  ENCOUNTER_TYPES,
  ICD10,
  LOINC,
  OBSERVATIONS,
  PROCEDURES,
  SMOKING_STATUS,
  SNOMED,
  UCUM,
  VACCINES,
} from './clinical.ts';
import type { ChronicCondition, Code, PatientTraits, Sex, Treatment } from './clinical.ts';
import { createRng, hashString } from './prng.ts';
import type { Rng } from './prng.ts';
import type { ConditionKey, RegionProfile } from './regions.ts';

export type GeneratedType =
  | 'Patient'
  | 'Condition'
  | 'Observation'
  | 'Procedure'
  | 'MedicationRequest'
  | 'Medication'
  | 'Immunization'
  | 'Encounter';

export type Emit = (type: GeneratedType, json: string) => void;

export interface PatientSettings {
  readonly region: RegionProfile;
  readonly seed: number;
  /** Day number of the reference date; no event is later. */
  readonly referenceDay: number;
  /** Length of the record window in years. */
  readonly windowYears: number;
}

// JSON fragments built once per (system, code object).
const conceptCache = new Map<string, WeakMap<Code, string>>();
function cached(system: string, code: Code): string {
  let bySystem = conceptCache.get(system);
  if (bySystem === undefined) {
    bySystem = new WeakMap();
    conceptCache.set(system, bySystem);
  }
  let json = bySystem.get(code);
  if (json === undefined) {
    json = concept(system, code);
    bySystem.set(code, json);
  }
  return json;
}

const OBESITY: Code = { code: 'E66.9', display: 'Obesity, unspecified' };
const FLU_SEASON_START = (year: number): number => isoToDay(`${year}-10-01`);

function codingJson(system: string, code: Code): string {
  return JSON.stringify({ system, code: code.code, display: code.display });
}

const CLINICAL_ACTIVE =
  '{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]}';
const CLINICAL_RESOLVED =
  '{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"resolved"}]}';
const VERIFIED =
  '{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]}';
const REFUTED =
  '{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]}';
const DIAGNOSIS_CATEGORY =
  '[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis"}]}]';
const OBS_CATEGORY = (code: string): string =>
  `[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"${code}"}]}]`;
const VITAL_SIGNS = OBS_CATEGORY('vital-signs');
const LABORATORY = OBS_CATEGORY('laboratory');
const SOCIAL_HISTORY = OBS_CATEGORY('social-history');

const CLASS_JSON = {
  ambulatory: codingJson(ACT_CODE, ENCOUNTER_CLASSES.ambulatory),
  emergency: codingJson(ACT_CODE, ENCOUNTER_CLASSES.emergency),
  inpatient: codingJson(ACT_CODE, ENCOUNTER_CLASSES.inpatient),
} as const;
type EncounterClass = keyof typeof CLASS_JSON;

const COVID_START = isoToDay('2021-01-10');
const FLU_HIGH_DOSE_FROM = 2020;
const ZOSTER_FROM = isoToDay('2018-06-01');
const HPV_BOYS_FROM = isoToDay('2018-01-01');

/** The Medication resource id of a formulary entry (medications prescribed by reference). */
export function medicationId(region: RegionProfile, atc: string): string {
  return `${region.id}-atc-${atc}`;
}

/** The region's formulary: one Medication per ATC code prescribed by reference. */
export function formulary(region: RegionProfile): string[] {
  const seen = new Map<string, Code>();
  for (const condition of CHRONIC_CONDITIONS) {
    for (const treatment of condition.treatments) {
      if (treatment.byReference === true) seen.set(treatment.atc.code, treatment.atc);
    }
  }
  return [...seen.values()]
    .sort((a, b) => (a.code < b.code ? -1 : 1))
    .map(
      (atc) =>
        `{"resourceType":"Medication","id":"${medicationId(region, atc.code)}","status":"active","code":${cached(ATC, atc)}}`,
    );
}

interface Diagnosis {
  readonly condition: ChronicCondition;
  readonly onset: number;
  readonly code: Code;
  readonly treatments: readonly Treatment[];
}

/**
 * Writes patient `index` of the region: a Patient and about fifty clinical
 * resources, all dated inside the window and before death.
 */
export function generatePatient(settings: PatientSettings, index: number, emit: Emit): void {
  new PatientBuilder(settings, index, emit).build();
}

class PatientBuilder {
  readonly #s: PatientSettings;
  readonly #emit: Emit;
  readonly #rng: Rng;
  readonly #pid: string;
  readonly #subject: string;
  #n = 0;

  // Demographics.
  sex: Sex = 'female';
  birthDay = 0;
  windowStart = 0;
  endDay = 0;
  deceased = false;
  smoker: PatientTraits['smoker'] = 'never';
  diagnoses: Diagnosis[] = [];
  // Body.
  adultHeight = 170;
  bmiBase = 25;

  constructor(settings: PatientSettings, index: number, emit: Emit) {
    this.#s = settings;
    this.#emit = emit;
    this.#rng = createRng(settings.seed, hashString(settings.region.id), index, 0x7e55e7a);
    this.#pid = `${settings.region.id}-${index}`;
    this.#subject = `{"reference":"Patient/${this.#pid}"}`;
  }

  build(): void {
    this.#demographics();
    this.#emitPatient();
    this.#chronicConditions();
    this.#checkUps();
    this.#acuteEpisodes();
    this.#immunizations();
  }

  #id(prefix: string): string {
    this.#n += 1;
    return `${this.#pid}-${prefix}${this.#n}`;
  }

  #ageAt(day: number): number {
    return (day - this.birthDay) / DAYS_PER_YEAR;
  }

  #has(key: ConditionKey, day: number): boolean {
    for (const d of this.diagnoses) if (d.condition.key === key && d.onset <= day) return true;
    return false;
  }

  #demographics(): void {
    const { region, referenceDay, windowYears } = this.#s;
    const rng = this.#rng;
    const band = rng.weighted(region.pyramid);
    const ageAtReference = band * 5 + rng.next() * 5;
    this.birthDay = referenceDay - Math.floor(ageAtReference * DAYS_PER_YEAR) - 1;
    const femaleShare = ageAtReference < 50 ? 0.49 : ageAtReference < 80 ? 0.53 : 0.63;
    this.sex = rng.chance(femaleShare) ? 'female' : 'male';
    this.windowStart = Math.max(
      referenceDay - Math.round(windowYears * DAYS_PER_YEAR),
      this.birthDay,
    );
    this.endDay = referenceDay;
    // Age-specific mortality (Gompertz), one draw per year of the window.
    for (let day = this.windowStart; day < referenceDay; day += 365) {
      const age = this.#ageAt(day);
      const q =
        (age < 1 ? 0.003 : Math.min(0.45, 0.00002 * Math.exp(0.095 * age))) * region.mortality;
      const span = Math.min(365, referenceDay - day);
      if (rng.chance((q * span) / 365)) {
        this.endDay = day + rng.int(0, span - 1);
        this.deceased = true;
        break;
      }
    }
    const age = this.#ageAt(this.endDay);
    if (age >= 15) {
      const r = rng.next();
      const current = region.smokers * (this.sex === 'male' ? 1.15 : 0.85);
      this.smoker =
        r < current ? 'current' : r < current + (age > 40 ? 0.24 : 0.1) ? 'former' : 'never';
    }
    const [femaleHeight, maleHeight] = region.height;
    this.adultHeight = rng.normal(this.sex === 'female' ? femaleHeight : maleHeight, 6.5);
    this.bmiBase = clamp(
      rng.normal(region.meanBmi + (Math.min(age, 70) - 45) * 0.04, 4.3),
      16.5,
      50,
    );
  }

  #emitPatient(): void {
    const { region } = this.#s;
    const deceased = this.deceased
      ? `"deceasedDateTime":"${dateTimeOf(this.endDay, this.#rng.int(0, 1439))}"`
      : '"deceasedBoolean":false';
    this.#emit(
      'Patient',
      `{"resourceType":"Patient","id":"${this.#pid}","active":true,"gender":"${this.sex}","birthDate":"${dayToIso(this.birthDay)}",${deceased},"address":[{"state":${JSON.stringify(region.name)},"country":"${region.country}"}]}`,
    );
  }

  // --- resources ---------------------------------------------------------

  #encounter(day: number, cls: EncounterClass, type: Code, hours = 0): string {
    const id = this.#id('e');
    const startMinute = this.#rng.int(7 * 60, 18 * 60);
    const start = dateTimeOf(day, startMinute);
    const endDay = Math.min(day + Math.floor(hours / 24), this.endDay);
    const end = dateTimeOf(endDay, Math.min(startMinute + 20 + (hours % 24) * 60, 1439));
    this.#emit(
      'Encounter',
      `{"resourceType":"Encounter","id":"${id}","status":"finished","class":${CLASS_JSON[cls]},"type":[${cached(SNOMED, type)}],"subject":${this.#subject},"period":{"start":"${start}","end":"${end}"}}`,
    );
    return id;
  }

  #condition(day: number, code: Code, encounter: string, resolvedAfter?: number): void {
    const rng = this.#rng;
    const id = this.#id('c');
    const when = dateTimeOf(day, rng.int(7 * 60, 19 * 60));
    const r = rng.next();
    // Real feeds vary in how they date a condition; a few are refuted.
    const onset =
      r < 0.04
        ? ''
        : r < 0.06
          ? `"onsetPeriod":{"start":"${when}"},`
          : `"onsetDateTime":"${when}",`;
    const verification = rng.chance(0.003) ? REFUTED : VERIFIED;
    const abatement =
      resolvedAfter === undefined
        ? ''
        : `,"abatementDateTime":"${dateTimeOf(Math.min(day + resolvedAfter, this.#s.referenceDay), 600)}"`;
    this.#emit(
      'Condition',
      `{"resourceType":"Condition","id":"${id}","clinicalStatus":${resolvedAfter === undefined ? CLINICAL_ACTIVE : CLINICAL_RESOLVED},"verificationStatus":${verification},"category":${DIAGNOSIS_CATEGORY},"code":${cached(ICD10, code)},"subject":${this.#subject},"encounter":{"reference":"Encounter/${encounter}"},${onset}"recordedDate":"${when}"${abatement}}`,
    );
  }

  #quantity(
    day: number,
    encounter: string,
    code: Code,
    category: string,
    value: number,
    unit: string,
  ): void {
    const status = this.#rng.chance(0.001) ? 'entered-in-error' : 'final';
    this.#emit(
      'Observation',
      `{"resourceType":"Observation","id":"${this.#id('o')}","status":"${status}","category":${category},"code":${cached(LOINC, code)},"subject":${this.#subject},"encounter":{"reference":"Encounter/${encounter}"},"effectiveDateTime":"${dateTimeOf(day, this.#rng.int(7 * 60, 18 * 60))}","valueQuantity":{"value":${value},"unit":"${unit}","system":"${UCUM}","code":"${unit}"}}`,
    );
  }

  #smokingStatus(day: number, encounter: string): void {
    this.#emit(
      'Observation',
      `{"resourceType":"Observation","id":"${this.#id('o')}","status":"final","category":${SOCIAL_HISTORY},"code":${cached(LOINC, OBSERVATIONS.smoking)},"subject":${this.#subject},"encounter":{"reference":"Encounter/${encounter}"},"effectiveDateTime":"${dateTimeOf(day, 600)}","valueCodeableConcept":${cached(SNOMED, SMOKING_STATUS[this.smoker])}}`,
    );
  }

  #prescription(
    day: number,
    treatment: Treatment | Code,
    encounter: string | undefined,
    chronic: boolean,
  ): void {
    const atc = 'atc' in treatment ? treatment.atc : treatment;
    const byReference = 'atc' in treatment && treatment.byReference === true;
    const medication = byReference
      ? `"medicationReference":{"reference":"Medication/${medicationId(this.#s.region, atc.code)}"}`
      : `"medicationCodeableConcept":${cached(ATC, atc)}`;
    const status = chronic && this.endDay - day < 400 && !this.deceased ? 'active' : 'completed';
    const context =
      encounter === undefined ? '' : `,"encounter":{"reference":"Encounter/${encounter}"}`;
    this.#emit(
      'MedicationRequest',
      `{"resourceType":"MedicationRequest","id":"${this.#id('m')}","status":"${status}","intent":"order",${medication},"subject":${this.#subject}${context},"authoredOn":"${dateTimeOf(day, this.#rng.int(8 * 60, 18 * 60))}"}`,
    );
  }

  #procedure(day: number, code: Code, encounter: string | undefined, hours = 0): void {
    if (day >= this.endDay) return;
    const start = dateTimeOf(day, this.#rng.int(8 * 60, 16 * 60));
    const performed =
      hours > 0
        ? `"performedPeriod":{"start":"${start}","end":"${dateTimeOf(day, 17 * 60 + hours)}"}`
        : `"performedDateTime":"${start}"`;
    const context =
      encounter === undefined ? '' : `,"encounter":{"reference":"Encounter/${encounter}"}`;
    this.#emit(
      'Procedure',
      `{"resourceType":"Procedure","id":"${this.#id('p')}","status":"completed","code":${cached(SNOMED, code)},"subject":${this.#subject}${context},${performed}}`,
    );
  }

  #vaccine(day: number, code: Code): void {
    if (day < this.windowStart || day >= this.endDay) return;
    this.#emit(
      'Immunization',
      `{"resourceType":"Immunization","id":"${this.#id('i')}","status":"completed","vaccineCode":${cached(CVX, code)},"patient":${this.#subject},"occurrenceDateTime":"${dateTimeOf(day, this.#rng.int(8 * 60, 17 * 60))}","primarySource":true}`,
    );
  }

  // --- clinical course ---------------------------------------------------

  #chronicConditions(): void {
    const { region } = this.#s;
    const rng = this.#rng;
    const has = new Set<ConditionKey>();
    const traits: PatientTraits = {
      sex: this.sex,
      age: this.#ageAt(this.endDay),
      smoker: this.smoker,
      has,
    };
    for (const condition of CHRONIC_CONDITIONS) {
      if (condition.sex !== undefined && condition.sex !== this.sex) continue;
      if (traits.age < condition.minAge) continue;
      const p = condition.prevalence(traits) * (region.prevalence[condition.key] ?? 1);
      if (!rng.chance(p)) continue;
      const earliest = Math.max(
        this.windowStart,
        this.birthDay + Math.ceil(condition.minAge * DAYS_PER_YEAR),
      );
      if (earliest >= this.endDay) continue;
      has.add(condition.key);
      const code = condition.codes[rng.weighted(condition.codes.map(([, w]) => w))]?.[0];
      if (code === undefined) continue;
      const treatments = condition.treatments.filter((t) => rng.chance(t.share));
      const diagnosis = { condition, onset: rng.int(earliest, this.endDay - 1), code, treatments };
      this.diagnoses.push(diagnosis);
      this.#diagnose(diagnosis);
    }
    if (this.bmiBase >= 30 && rng.chance(0.4) && traits.age >= 18) {
      const day = rng.int(Math.max(this.windowStart, this.birthDay + 18 * 365), this.endDay - 1);
      if (day >= this.windowStart) {
        const encounter = this.#encounter(day, 'ambulatory', ENCOUNTER_TYPES.followUp);
        this.#condition(day, OBESITY, encounter);
      }
    }
  }

  #diagnose(d: Diagnosis): void {
    const rng = this.#rng;
    const day = d.onset;
    let encounter: string;
    if (d.condition.acuteOnset === true) {
      this.#encounter(day, 'emergency', ENCOUNTER_TYPES.emergency, 4);
      encounter = this.#encounter(day, 'inpatient', ENCOUNTER_TYPES.admission, 24 * rng.int(2, 8));
    } else {
      encounter = this.#encounter(day, 'ambulatory', ENCOUNTER_TYPES.symptom);
    }
    this.#condition(day, d.code, encounter);
    for (const treatment of d.treatments) this.#prescription(day, treatment, encounter, true);
    switch (d.condition.key) {
      case 'diabetes1':
      case 'diabetes2':
        this.#quantity(
          day,
          encounter,
          OBSERVATIONS.hba1c,
          LABORATORY,
          round1(clamp(rng.normal(8.1, 1.3), 6.5, 14.5)),
          '%',
        );
        break;
      case 'breastCancer':
        this.#procedure(day, PROCEDURES.mammography, encounter);
        if (rng.chance(0.7))
          this.#procedure(
            Math.min(day + rng.int(14, 40), this.endDay),
            PROCEDURES.lumpectomy,
            undefined,
            2,
          );
        break;
      case 'colonCancer':
        this.#procedure(day, PROCEDURES.colonoscopy, encounter);
        break;
      case 'ihd':
        if (d.code.code === 'I21.9' || rng.chance(0.3))
          this.#procedure(day, PROCEDURES.pci, encounter, 2);
        break;
      case 'copd':
      case 'asthma':
        this.#procedure(day, PROCEDURES.spirometry, encounter);
        break;
      case 'ckd':
        this.#quantity(
          day,
          encounter,
          OBSERVATIONS.egfr,
          LABORATORY,
          this.#egfr(d.code.code),
          'mL/min/{1.73_m2}',
        );
        if (d.code.code === 'N18.5') {
          for (let k = 0; k < 3; k++) {
            const session = day + 7 + k * rng.int(20, 60);
            if (session < this.endDay) this.#procedure(session, PROCEDURES.dialysis, undefined, 4);
          }
        }
        break;
      default:
        break;
    }
  }

  #egfr(stage: string): number {
    const rng = this.#rng;
    if (stage === 'N18.5') return rng.int(5, 14);
    if (stage === 'N18.4') return rng.int(15, 29);
    return rng.int(30, 59);
  }

  #checkUps(): void {
    const rng = this.#rng;
    let mammography = -Infinity;
    let colonoscopy = false;
    let smokingRecorded = false;
    let day = this.windowStart + rng.int(0, Math.round(this.#interval(this.windowStart) * 365));
    while (day < this.endDay) {
      const age = this.#ageAt(day);
      const encounter = this.#encounter(day, 'ambulatory', ENCOUNTER_TYPES.checkUp);
      this.#vitals(day, age, encounter);
      if (age >= 15 && !smokingRecorded) {
        this.#smokingStatus(day, encounter);
        smokingRecorded = true;
      }
      this.#labs(day, age, encounter);
      for (const d of this.diagnoses) {
        if (d.onset >= day) continue;
        for (const treatment of d.treatments) {
          if (rng.chance(0.5)) this.#prescription(day, treatment, encounter, true);
        }
      }
      if (
        this.sex === 'female' &&
        age >= 50 &&
        age < 70 &&
        day - mammography > 700 &&
        rng.chance(0.6)
      ) {
        this.#procedure(day + rng.int(5, 40), PROCEDURES.mammography, undefined);
        mammography = day;
      }
      if (!colonoscopy && age >= 50 && age < 75 && rng.chance(0.05)) {
        this.#procedure(day + rng.int(10, 60), PROCEDURES.colonoscopy, undefined);
        colonoscopy = true;
      }
      if (
        (this.#has('hypertension', day) || this.#has('afib', day) || this.#has('ihd', day)) &&
        rng.chance(0.3)
      ) {
        this.#procedure(day, PROCEDURES.ecg, encounter);
      }
      if ((this.#has('copd', day) || this.#has('asthma', day)) && rng.chance(0.25)) {
        this.#procedure(day, PROCEDURES.spirometry, encounter);
      }
      if (age >= 70 && rng.chance(0.02))
        this.#procedure(day + rng.int(30, 120), PROCEDURES.cataract, undefined);
      day += Math.max(30, Math.round(this.#interval(day) * 365 * (0.7 + 0.6 * rng.next())));
    }
  }

  /** Years between check-ups at `day`. */
  #interval(day: number): number {
    const age = this.#ageAt(day);
    if (age < 2) return 0.5;
    if (age < 18) return 3;
    const chronic = this.diagnoses.some((d) => d.onset <= day);
    if (chronic) return age >= 65 ? 1.2 : 1.5;
    return age >= 65 ? 2 : 3;
  }

  #vitals(day: number, age: number, encounter: string): void {
    const rng = this.#rng;
    const height = heightAt(age, this.adultHeight) / 100;
    const bmi = clamp(
      age >= 18
        ? this.bmiBase + (this.#has('diabetes2', day) ? 1.5 : 0) + rng.normal(0, 0.6)
        : childBmi(age, this.bmiBase) + rng.normal(0, 0.5),
      11,
      60,
    );
    const kg = bmi * height * height;
    // Infant scales and some practice systems report grams.
    if ((age < 2 && rng.chance(0.7)) || rng.chance(0.02)) {
      this.#quantity(day, encounter, OBSERVATIONS.weight, VITAL_SIGNS, Math.round(kg * 1000), 'g');
    } else {
      this.#quantity(day, encounter, OBSERVATIONS.weight, VITAL_SIGNS, round1(kg), 'kg');
    }
    if (age >= 2)
      this.#quantity(day, encounter, OBSERVATIONS.bmi, VITAL_SIGNS, round1(bmi), 'kg/m2');
    if (age >= 3) {
      const hypertensive = this.#has('hypertension', day);
      const systolic = Math.round(
        clamp(
          age < 12
            ? 95 + age * 1.5 + rng.normal(0, 7)
            : 108 +
                0.45 * Math.max(0, age - 20) +
                (hypertensive ? 12 : 0) +
                (bmi - 25) * 0.6 +
                rng.normal(0, 10),
          75,
          230,
        ),
      );
      const diastolic = Math.round(clamp(0.55 * systolic + 12 + rng.normal(0, 6), 40, 130));
      this.#quantity(day, encounter, OBSERVATIONS.systolic, VITAL_SIGNS, systolic, 'mm[Hg]');
      this.#quantity(day, encounter, OBSERVATIONS.diastolic, VITAL_SIGNS, diastolic, 'mm[Hg]');
    }
  }

  #labs(day: number, age: number, encounter: string): void {
    const rng = this.#rng;
    const type1 = this.#has('diabetes1', day);
    const diabetic = type1 || this.#has('diabetes2', day);
    if (diabetic) {
      const hba1c = clamp(rng.normal(type1 ? 7.9 : 7.3, 1.1), 5.6, 14);
      this.#quantity(day, encounter, OBSERVATIONS.hba1c, LABORATORY, round1(hba1c), '%');
      if (rng.chance(0.6))
        this.#glucose(day, encounter, clamp(rng.normal(28.7 * hba1c - 46.7, 30), 60, 450));
    } else if (age >= 40) {
      if (rng.chance(0.25)) this.#glucose(day, encounter, clamp(rng.normal(94, 11), 65, 125));
      if (rng.chance(0.08)) {
        this.#quantity(
          day,
          encounter,
          OBSERVATIONS.hba1c,
          LABORATORY,
          round1(clamp(rng.normal(5.45, 0.35), 4.3, 6.4)),
          '%',
        );
      }
    }
    const ckd = this.diagnoses.find((d) => d.condition.key === 'ckd' && d.onset <= day);
    if (ckd !== undefined) {
      this.#quantity(
        day,
        encounter,
        OBSERVATIONS.egfr,
        LABORATORY,
        this.#egfr(ckd.code.code),
        'mL/min/{1.73_m2}',
      );
    } else if (age >= 60 && rng.chance(0.2)) {
      const egfr = Math.round(clamp(rng.normal(95 - 0.6 * (age - 40), 12), 60, 130));
      this.#quantity(day, encounter, OBSERVATIONS.egfr, LABORATORY, egfr, 'mL/min/{1.73_m2}');
    }
    const lipid = this.#has('hyperlipidaemia', day) || this.#has('ihd', day);
    if ((lipid && rng.chance(0.5)) || (age >= 40 && rng.chance(0.15))) {
      const value = Math.round(clamp(rng.normal(lipid ? 230 : 200, 35), 110, 380));
      this.#quantity(day, encounter, OBSERVATIONS.cholesterol, LABORATORY, value, 'mg/dL');
    }
  }

  #glucose(day: number, encounter: string, mgPerDl: number): void {
    if (this.#rng.chance(this.#s.region.glucoseMmolShare)) {
      this.#quantity(
        day,
        encounter,
        OBSERVATIONS.glucose,
        LABORATORY,
        round1(mgPerDl / 18.016),
        'mmol/L',
      );
    } else {
      this.#quantity(
        day,
        encounter,
        OBSERVATIONS.glucose,
        LABORATORY,
        Math.round(mgPerDl),
        'mg/dL',
      );
    }
  }

  #acuteEpisodes(): void {
    const rng = this.#rng;
    const years = (this.endDay - this.windowStart) / DAYS_PER_YEAR;
    const episodes = rng.poisson(0.13 * years);
    for (let k = 0; k < episodes; k++) {
      const day = rng.int(this.windowStart, this.endDay - 1);
      const age = this.#ageAt(day);
      const candidates = ACUTE_CONDITIONS.filter((a) => a.from === undefined || day >= a.from);
      const acute = candidates[rng.weighted(candidates.map((a) => a.weight(age)))];
      if (acute === undefined) continue;
      const encounter = this.#encounter(
        day,
        acute.emergency === true ? 'emergency' : 'ambulatory',
        acute.emergency === true ? ENCOUNTER_TYPES.emergency : ENCOUNTER_TYPES.symptom,
        acute.emergency === true ? 3 : 0,
      );
      const admitted = acute.admitted !== undefined && rng.chance(acute.admitted);
      const stay = admitted
        ? this.#encounter(day, 'inpatient', ENCOUNTER_TYPES.admission, 24 * rng.int(2, 10))
        : encounter;
      this.#condition(day, acute.code, encounter, rng.int(7, 45));
      if (acute.treatment !== undefined && rng.chance(0.8))
        this.#prescription(day, rng.pick(acute.treatment), encounter, false);
      if (acute.procedure !== undefined) this.#procedure(day, acute.procedure, stay, 2);
    }
  }

  #immunizations(): void {
    const { region } = this.#s;
    const rng = this.#rng;
    const startYear = Number(dayToIso(this.windowStart).slice(0, 4));
    const endYear = Number(dayToIso(this.endDay).slice(0, 4));
    const chronic = this.diagnoses.length > 0;
    for (let year = startYear; year <= endYear; year++) {
      const day = FLU_SEASON_START(year) + rng.int(0, 60);
      const age = this.#ageAt(day);
      if (age >= 65) {
        if (rng.chance(region.fluUptake)) {
          this.#vaccine(
            day,
            year >= FLU_HIGH_DOSE_FROM ? VACCINES.fluHighDose : VACCINES.fluStandard,
          );
        }
      } else if (age >= 18 && rng.chance(chronic ? region.fluUptake * 0.5 : 0.04)) {
        this.#vaccine(day, VACCINES.fluStandard);
      }
    }
    if (
      this.#ageAt(COVID_START) >= 18 &&
      this.endDay > COVID_START &&
      rng.chance(region.covidUptake)
    ) {
      const older = this.#ageAt(COVID_START) >= 70;
      const first = COVID_START + (older ? rng.int(20, 90) : rng.int(90, 220));
      const product = rng.chance(0.8) ? VACCINES.covidPfizer : VACCINES.covidModerna;
      this.#vaccine(first, product);
      this.#vaccine(first + rng.int(21, 42), product);
      if (rng.chance(0.65))
        this.#vaccine(
          isoToDay('2021-12-01') + rng.int(0, 110),
          rng.chance(0.6) ? VACCINES.covidPfizer : VACCINES.covidModerna,
        );
      if (this.#ageAt(COVID_START) >= 60 && rng.chance(0.45))
        this.#vaccine(isoToDay('2022-10-01') + rng.int(0, 100), VACCINES.covidPfizer);
    }
    const at65 = this.birthDay + Math.round(65 * DAYS_PER_YEAR);
    if (at65 < this.endDay && rng.chance(0.35)) {
      this.#vaccine(
        Math.max(at65, this.windowStart) + rng.int(0, 700),
        rng.chance(0.5) ? VACCINES.pcv13 : VACCINES.ppsv23,
      );
    }
    const at60 = this.birthDay + Math.round(60 * DAYS_PER_YEAR);
    if (this.endDay > ZOSTER_FROM && this.#ageAt(this.endDay) >= 60 && rng.chance(0.12)) {
      this.#vaccine(
        Math.max(at60, ZOSTER_FROM, this.windowStart) + rng.int(0, 900),
        VACCINES.zoster,
      );
    }
    this.#childhood();
  }

  #childhood(): void {
    const rng = this.#rng;
    const b = this.birthDay;
    if (rng.chance(0.92))
      for (const days of [61, 122, 335])
        this.#vaccine(b + days + rng.int(0, 20), VACCINES.hexavalent);
    if (rng.chance(0.9)) {
      this.#vaccine(b + rng.int(365, 455), VACCINES.mmr);
      this.#vaccine(b + rng.int(5 * 365, 6 * 365), VACCINES.mmr);
    }
    const at11 = b + 11 * 365 + rng.int(0, 365);
    if ((this.sex === 'female' || at11 >= HPV_BOYS_FROM) && rng.chance(0.6)) {
      this.#vaccine(at11, VACCINES.hpv);
      this.#vaccine(at11 + rng.int(180, 365), VACCINES.hpv);
    }
    if (rng.chance(0.7)) this.#vaccine(b + 14 * 365 + rng.int(0, 365), VACCINES.tdap);
  }
}

function clamp(x: number, min: number, max: number): number {
  return x < min ? min : x > max ? max : x;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Height in cm at an age, reaching the adult height at 18. */
function heightAt(age: number, adult: number): number {
  if (age < 1) return 50 + 25 * age;
  if (age < 13) return 75 + 6.1 * (age - 1);
  if (age < 18) return 148.2 + ((adult - 148.2) * (age - 13)) / 5;
  return adult;
}

/** A child's BMI, drifting from infant values towards the adult one. */
function childBmi(age: number, adult: number): number {
  if (age < 1) return 13.5 + 3.5 * age;
  if (age < 6) return 17 - 0.3 * (age - 1);
  return 15.5 + ((adult - 15.5) * (age - 6)) / 12;
}
