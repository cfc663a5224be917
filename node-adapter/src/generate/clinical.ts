// The clinical vocabulary of generated regions: which conditions exist, how
// common they are by age and sex, how they are treated and followed up, with
// their codes (ICD-10 WHO, LOINC + UCUM, ATC, SNOMED CT, CVX). Prevalences are
// rounded European orders of magnitude, good enough for plausible cohorts.
import { isoToDay } from './calendar.ts';
import type { ConditionKey } from './regions.ts';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
export const LOINC = 'http://loinc.org';
export const ATC = 'http://www.whocc.no/atc';
export const SNOMED = 'http://snomed.info/sct';
export const CVX = 'http://hl7.org/fhir/sid/cvx';
export const UCUM = 'http://unitsofmeasure.org';
export const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export interface Code {
  readonly code: string;
  readonly display: string;
  /** The SNOMED CT equivalent, written as a second coding (as many sources record both). */
  readonly snomed?: string;
}

/** `{"coding":[{...}]}` for a code, built once so the inner loop only concatenates. */
export function concept(system: string, code: Code): string {
  const coding = [{ system, code: code.code, display: code.display }];
  if (code.snomed !== undefined)
    coding.push({ system: SNOMED, code: code.snomed, display: code.display });
  return JSON.stringify({ coding });
}

export type Sex = 'female' | 'male';

export interface PatientTraits {
  readonly sex: Sex;
  /** Age in years at the end of the patient's window (death or reference date). */
  readonly age: number;
  readonly smoker: 'never' | 'former' | 'current';
  readonly has: ReadonlySet<ConditionKey>;
}

export interface Treatment {
  readonly atc: Code;
  /** Share of patients with the condition who get it. */
  readonly share: number;
  /** Prescribed through a Medication resource rather than a code. */
  readonly byReference?: boolean;
}

export interface ChronicCondition {
  readonly key: ConditionKey;
  /** ICD-10 codes with relative weights. */
  readonly codes: readonly (readonly [Code, number])[];
  readonly minAge: number;
  readonly sex?: Sex;
  /** Probability of having the condition by the end of the window (before the regional multiplier). */
  prevalence(t: PatientTraits): number;
  readonly treatments: readonly Treatment[];
  /** Diagnosed in an emergency, then admitted (MI, stroke). */
  readonly acuteOnset?: boolean;
}

/** Piecewise prevalence by age band: [upper age exclusive, probability] pairs. */
function byAge(bands: readonly (readonly [number, number])[]): (age: number) => number {
  return (age) => {
    for (const [upper, p] of bands) if (age < upper) return p;
    return bands[bands.length - 1]?.[1] ?? 0;
  };
}

const SMOKING_RISK = { never: 0.45, former: 1.6, current: 2.4 } as const;

const c = (code: string, display: string): Code => ({ code, display });
const t = (code: string, display: string, share: number, byReference = false): Treatment => ({
  atc: c(code, display),
  share,
  ...(byReference ? { byReference } : {}),
});

const diabetes2Age = byAge([
  [30, 0.002],
  [40, 0.012],
  [50, 0.035],
  [60, 0.075],
  [70, 0.13],
  [80, 0.18],
  [200, 0.2],
]);
const hypertensionAge = byAge([
  [30, 0.01],
  [40, 0.05],
  [50, 0.15],
  [60, 0.3],
  [70, 0.47],
  [80, 0.6],
  [200, 0.68],
]);
const copdAge = byAge([
  [40, 0],
  [50, 0.015],
  [60, 0.04],
  [70, 0.07],
  [80, 0.1],
  [200, 0.11],
]);
const breastAge = byAge([
  [30, 0],
  [40, 0.002],
  [50, 0.009],
  [60, 0.019],
  [70, 0.03],
  [80, 0.04],
  [200, 0.045],
]);
const prostateAge = byAge([
  [50, 0],
  [60, 0.008],
  [70, 0.03],
  [80, 0.06],
  [200, 0.08],
]);
const lungAge = byAge([
  [45, 0],
  [60, 0.002],
  [70, 0.006],
  [200, 0.009],
]);
const colonAge = byAge([
  [45, 0.0003],
  [60, 0.003],
  [70, 0.007],
  [200, 0.012],
]);
const ckdAge = byAge([
  [40, 0.002],
  [50, 0.01],
  [60, 0.025],
  [70, 0.05],
  [80, 0.1],
  [200, 0.17],
]);
const ihdAge = byAge([
  [40, 0.001],
  [50, 0.01],
  [60, 0.03],
  [70, 0.07],
  [80, 0.11],
  [200, 0.14],
]);
const afibAge = byAge([
  [50, 0.002],
  [60, 0.01],
  [70, 0.03],
  [80, 0.07],
  [200, 0.12],
]);
const strokeAge = byAge([
  [50, 0.001],
  [60, 0.006],
  [70, 0.015],
  [80, 0.03],
  [200, 0.045],
]);
const lipidAge = byAge([
  [30, 0.01],
  [40, 0.04],
  [50, 0.1],
  [60, 0.18],
  [70, 0.25],
  [200, 0.27],
]);
const osteoAge = byAge([
  [50, 0.002],
  [60, 0.03],
  [70, 0.08],
  [80, 0.15],
  [200, 0.22],
]);
const dementiaAge = byAge([
  [65, 0],
  [75, 0.02],
  [85, 0.08],
  [200, 0.18],
]);

const sexFactor = (t: PatientTraits, male: number): number => (t.sex === 'male' ? male : 1);

/** Evaluated in this order, so comorbidity factors see the conditions before them. */
export const CHRONIC_CONDITIONS: readonly ChronicCondition[] = [
  {
    key: 'diabetes1',
    codes: [
      [c('E10.9', 'Type 1 diabetes mellitus without complications'), 3],
      [c('E10.65', 'Type 1 diabetes mellitus with hyperglycaemia'), 1],
    ],
    minAge: 1,
    prevalence: () => 0.004,
    treatments: [
      t('A10AE04', 'insulin glargine', 0.9, true),
      t('A10AB05', 'insulin aspart', 0.85, true),
      t('A10AB01', 'insulin (human)', 0.15, true),
    ],
  },
  {
    key: 'diabetes2',
    codes: [
      [c('E11.9', 'Type 2 diabetes mellitus without complications'), 6],
      [c('E11.65', 'Type 2 diabetes mellitus with hyperglycaemia'), 1],
      [c('E11.22', 'Type 2 diabetes mellitus with diabetic chronic kidney disease'), 1],
      [c('E11.40', 'Type 2 diabetes mellitus with diabetic neuropathy'), 1],
      [c('E11.5', 'Type 2 diabetes mellitus with peripheral circulatory complications'), 1],
    ],
    minAge: 18,
    prevalence: (p) => diabetes2Age(p.age) * sexFactor(p, 1.2) * (p.has.has('diabetes1') ? 0 : 1),
    treatments: [
      t('A10BA02', 'metformin', 0.85),
      t('A10BH01', 'sitagliptin', 0.22),
      t('A10BK03', 'empagliflozin', 0.2),
      t('A10BB09', 'gliclazide', 0.15),
      t('A10AE04', 'insulin glargine', 0.15, true),
      t('A10AB05', 'insulin aspart', 0.05, true),
    ],
  },
  {
    // After diabetes2: a diabetic is no longer prediabetic.
    key: 'prediabetes',
    codes: [
      [
        { code: 'R73.0', display: 'Prediabetes (abnormal glucose tolerance)', snomed: '15777000' },
        1,
      ],
    ],
    minAge: 18,
    prevalence: (p) =>
      p.has.has('diabetes2') || p.has.has('diabetes1') ? 0 : p.age < 40 ? 0.03 : 0.08,
    treatments: [],
  },
  {
    key: 'hypertension',
    codes: [[c('I10', 'Essential (primary) hypertension'), 1]],
    minAge: 18,
    prevalence: (p) => hypertensionAge(p.age) * (p.has.has('diabetes2') ? 1.5 : 1),
    treatments: [
      t('C09AA05', 'ramipril', 0.45),
      t('C08CA01', 'amlodipine', 0.35),
      t('C03AA03', 'hydrochlorothiazide', 0.2),
      t('C07AB07', 'bisoprolol', 0.2),
      t('C09CA03', 'valsartan', 0.2),
    ],
  },
  {
    key: 'hyperlipidaemia',
    codes: [
      [c('E78.0', 'Pure hypercholesterolaemia'), 2],
      [c('E78.5', 'Hyperlipidaemia, unspecified'), 3],
    ],
    minAge: 25,
    prevalence: (p) => lipidAge(p.age) * (p.has.has('diabetes2') ? 1.6 : 1),
    treatments: [t('C10AA05', 'atorvastatin', 0.55), t('C10AA01', 'simvastatin', 0.3)],
  },
  {
    key: 'copd',
    codes: [
      [c('J44.9', 'Chronic obstructive pulmonary disease, unspecified'), 4],
      [c('J44.1', 'Chronic obstructive pulmonary disease with acute exacerbation, unspecified'), 1],
    ],
    minAge: 40,
    prevalence: (p) => copdAge(p.age) * sexFactor(p, 1.4) * SMOKING_RISK[p.smoker],
    treatments: [
      t('R03BB04', 'tiotropium bromide', 0.6),
      t('R03AC02', 'salbutamol', 0.7),
      t('R03AK07', 'formoterol and budesonide', 0.4),
    ],
  },
  {
    key: 'asthma',
    codes: [
      [c('J45.9', 'Asthma, unspecified'), 5],
      [c('J45.0', 'Predominantly allergic asthma'), 3],
      [c('J45.1', 'Nonallergic asthma'), 1],
    ],
    minAge: 3,
    prevalence: (p) => (p.age < 18 ? 0.08 : 0.055) * (p.age >= 18 && p.sex === 'female' ? 1.3 : 1),
    treatments: [
      t('R03AC02', 'salbutamol', 0.9),
      t('R03BA02', 'budesonide', 0.45),
      t('R03AK07', 'formoterol and budesonide', 0.25),
    ],
  },
  {
    key: 'breastCancer',
    codes: [
      [c('C50.9', 'Malignant neoplasm: Breast, unspecified'), 4],
      [c('C50.4', 'Malignant neoplasm: Upper-outer quadrant of breast'), 3],
      [c('C50.1', 'Malignant neoplasm: Central portion of breast'), 1],
    ],
    minAge: 25,
    sex: 'female',
    prevalence: (p) => breastAge(p.age),
    treatments: [t('L02BA01', 'tamoxifen', 0.35), t('L02BG04', 'letrozole', 0.45)],
  },
  {
    key: 'prostateCancer',
    codes: [[c('C61', 'Malignant neoplasm of prostate'), 1]],
    minAge: 45,
    sex: 'male',
    prevalence: (p) => prostateAge(p.age),
    treatments: [t('L02BB03', 'bicalutamide', 0.3)],
  },
  {
    key: 'lungCancer',
    codes: [
      [c('C34.9', 'Malignant neoplasm: Bronchus or lung, unspecified'), 3],
      [c('C34.1', 'Malignant neoplasm: Upper lobe, bronchus or lung'), 1],
    ],
    minAge: 40,
    prevalence: (p) =>
      lungAge(p.age) * sexFactor(p, 1.5) * SMOKING_RISK[p.smoker] * SMOKING_RISK[p.smoker],
    treatments: [],
  },
  {
    key: 'colonCancer',
    codes: [
      [c('C18.9', 'Malignant neoplasm: Colon, unspecified'), 3],
      [c('C18.7', 'Malignant neoplasm: Sigmoid colon'), 1],
    ],
    minAge: 35,
    prevalence: (p) => colonAge(p.age) * sexFactor(p, 1.3),
    treatments: [],
  },
  {
    key: 'ckd',
    codes: [
      [c('N18.3', 'Chronic kidney disease, stage 3'), 6],
      [c('N18.4', 'Chronic kidney disease, stage 4'), 2],
      [c('N18.5', 'Chronic kidney disease, stage 5'), 1],
    ],
    minAge: 20,
    prevalence: (p) =>
      ckdAge(p.age) *
      (p.has.has('diabetes2') || p.has.has('diabetes1') ? 2.5 : 1) *
      (p.has.has('hypertension') ? 1.6 : 1),
    treatments: [t('C03CA01', 'furosemide', 0.3)],
  },
  {
    key: 'ihd',
    codes: [
      [c('I25.1', 'Atherosclerotic heart disease'), 3],
      [c('I21.9', 'Acute myocardial infarction, unspecified'), 1],
    ],
    minAge: 35,
    prevalence: (p) =>
      ihdAge(p.age) *
      sexFactor(p, 1.6) *
      (p.has.has('diabetes2') ? 1.5 : 1) *
      (p.smoker === 'current' ? 1.6 : 1),
    treatments: [
      t('B01AC06', 'acetylsalicylic acid', 0.8),
      t('C10AA05', 'atorvastatin', 0.7),
      t('C07AB07', 'bisoprolol', 0.5),
    ],
    acuteOnset: true,
  },
  {
    key: 'afib',
    codes: [
      [c('I48.9', 'Atrial fibrillation and atrial flutter, unspecified'), 3],
      [c('I48.0', 'Paroxysmal atrial fibrillation'), 1],
    ],
    minAge: 40,
    prevalence: (p) => afibAge(p.age) * sexFactor(p, 1.3),
    treatments: [
      t('B01AF02', 'apixaban', 0.6),
      t('B01AA03', 'warfarin', 0.25),
      t('C07AB07', 'bisoprolol', 0.4),
    ],
  },
  {
    key: 'stroke',
    codes: [[c('I63.9', 'Cerebral infarction, unspecified'), 1]],
    minAge: 40,
    prevalence: (p) =>
      strokeAge(p.age) * (p.has.has('afib') ? 2.5 : 1) * (p.has.has('hypertension') ? 1.5 : 1),
    treatments: [t('B01AC06', 'acetylsalicylic acid', 0.6), t('C10AA05', 'atorvastatin', 0.6)],
    acuteOnset: true,
  },
  {
    key: 'depression',
    codes: [
      [c('F32.9', 'Depressive episode, unspecified'), 3],
      [c('F33.1', 'Recurrent depressive disorder, current episode moderate'), 1],
    ],
    minAge: 15,
    prevalence: (p) => (p.age < 18 ? 0.02 : 0.06) * (p.sex === 'female' ? 1.6 : 1),
    treatments: [t('N06AB06', 'sertraline', 0.4), t('N06AB10', 'escitalopram', 0.35)],
  },
  {
    key: 'osteoporosis',
    codes: [[c('M81.0', 'Postmenopausal osteoporosis'), 1]],
    minAge: 50,
    prevalence: (p) => osteoAge(p.age) * (p.sex === 'male' ? 0.25 : 1),
    treatments: [t('M05BA04', 'alendronic acid', 0.5)],
  },
  {
    key: 'dementia',
    codes: [
      [c('F03', 'Unspecified dementia'), 2],
      [c('G30.9', "Alzheimer's disease, unspecified"), 1],
    ],
    minAge: 60,
    prevalence: (p) => dementiaAge(p.age),
    treatments: [t('N06DA02', 'donepezil', 0.35)],
  },
  {
    key: 'hypothyroidism',
    codes: [[c('E03.9', 'Hypothyroidism, unspecified'), 1]],
    minAge: 10,
    prevalence: (p) => (p.sex === 'female' ? 0.05 : 0.01) * (p.age < 30 ? 0.4 : 1),
    treatments: [t('H03AA01', 'levothyroxine sodium', 0.9)],
  },
  {
    key: 'gerd',
    codes: [[c('K21.9', 'Gastro-oesophageal reflux disease without oesophagitis'), 1]],
    minAge: 18,
    prevalence: (p) => (p.age < 40 ? 0.04 : 0.08),
    treatments: [t('A02BC01', 'omeprazole', 0.5), t('A02BC02', 'pantoprazole', 0.4)],
  },
];

export interface AcuteCondition {
  readonly code: Code;
  /** Relative weight by age. */
  weight(age: number): number;
  /** First day number it can occur on (COVID-19). */
  readonly from?: number;
  readonly emergency?: boolean;
  readonly admitted?: number;
  readonly treatment?: readonly Code[];
  readonly procedure?: Code;
}

export const ACUTE_CONDITIONS: readonly AcuteCondition[] = [
  {
    code: c('J06.9', 'Acute upper respiratory infection, unspecified'),
    weight: (a) => (a < 15 ? 5 : 3),
  },
  {
    code: c('J20.9', 'Acute bronchitis, unspecified'),
    weight: () => 1.5,
    treatment: [c('J01CA04', 'amoxicillin')],
  },
  {
    code: c('J18.9', 'Pneumonia, unspecified'),
    weight: (a) => (a >= 65 ? 1.5 : 0.4),
    admitted: 0.3,
    treatment: [c('J01CR02', 'amoxicillin and beta-lactamase inhibitor')],
  },
  {
    code: c('N39.0', 'Urinary tract infection, site not specified'),
    weight: (a) => (a >= 15 ? 1.5 : 0.4),
    treatment: [c('J01XE01', 'nitrofurantoin'), c('J01XX01', 'fosfomycin')],
  },
  {
    code: c('A09', 'Infectious gastroenteritis and colitis, unspecified'),
    weight: (a) => (a < 10 ? 2 : 0.8),
  },
  {
    code: c('J11.1', 'Influenza with other respiratory manifestations, virus not identified'),
    weight: () => 0.8,
  },
  {
    code: c('U07.1', 'COVID-19, virus identified'),
    weight: () => 1.5,
    from: isoToDay('2020-03-01'),
  },
  {
    code: c('S52.5', 'Fracture of lower end of radius'),
    weight: (a) => (a >= 60 || a < 16 ? 0.6 : 0.25),
    emergency: true,
    treatment: [c('N02BE01', 'paracetamol')],
  },
  {
    code: c('S72.0', 'Fracture of neck of femur'),
    weight: (a) => (a >= 75 ? 0.8 : 0.01),
    emergency: true,
    admitted: 1,
    procedure: c('52734007', 'Total replacement of hip'),
  },
  {
    code: c('K35.8', 'Acute appendicitis, other and unspecified'),
    weight: (a) => (a >= 8 && a < 40 ? 0.25 : 0.05),
    emergency: true,
    admitted: 1,
    procedure: c('80146002', 'Excision of appendix'),
  },
];

export const OBSERVATIONS = {
  weight: c('29463-7', 'Body weight'),
  bmi: c('39156-5', 'Body mass index (BMI) [Ratio]'),
  systolic: c('8480-6', 'Systolic blood pressure'),
  diastolic: c('8462-4', 'Diastolic blood pressure'),
  hba1c: c('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
  glucose: c('2345-7', 'Glucose [Mass/volume] in Serum or Plasma'),
  egfr: c('33914-3', 'Glomerular filtration rate/1.73 sq M.predicted'),
  cholesterol: c('2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma'),
  smoking: c('72166-2', 'Tobacco smoking status'),
} as const;

export const SMOKING_STATUS = {
  never: c('266919005', 'Never smoked tobacco'),
  former: c('8517006', 'Ex-smoker'),
  current: c('77176002', 'Smoker'),
} as const;

export const PROCEDURES = {
  mammography: c('71651007', 'Mammography'),
  colonoscopy: c('73761001', 'Colonoscopy'),
  spirometry: c('127783003', 'Spirometry'),
  ecg: c('29303009', 'Electrocardiographic procedure'),
  dialysis: c('302497006', 'Hemodialysis'),
  pci: c('415070008', 'Percutaneous coronary intervention'),
  lumpectomy: c('392021009', 'Lumpectomy of breast'),
  cataract: c('110473004', 'Cataract extraction'),
} as const;

export const VACCINES = {
  fluStandard: c('140', 'Influenza, seasonal, injectable, preservative free'),
  fluHighDose: c('197', 'Influenza, high-dose, quadrivalent'),
  covidPfizer: c('208', 'COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose'),
  covidModerna: c('207', 'COVID-19, mRNA, LNP-S, PF, 100 mcg/0.5mL dose or 50 mcg/0.25mL dose'),
  pcv13: c('133', 'Pneumococcal conjugate PCV 13'),
  ppsv23: c('33', 'Pneumococcal polysaccharide PPV23'),
  zoster: c('187', 'Zoster vaccine recombinant'),
  hexavalent: c('146', 'DTaP,IPV,Hib,HepB'),
  mmr: c('03', 'MMR'),
  hpv: c('165', 'HPV9'),
  tdap: c('115', 'Tdap'),
} as const;

export const ENCOUNTER_TYPES = {
  checkUp: c('185349003', 'Encounter for check up'),
  symptom: c('185345009', 'Encounter for symptom'),
  followUp: c('390906007', 'Follow-up encounter'),
  emergency: c('50849002', 'Emergency room admission'),
  admission: c('32485007', 'Hospital admission'),
} as const;

export const ENCOUNTER_CLASSES = {
  ambulatory: c('AMB', 'ambulatory'),
  emergency: c('EMER', 'emergency'),
  inpatient: c('IMP', 'inpatient encounter'),
} as const;
