// The five demo regions: population pyramids and the regional differences in
// health that make cross-region queries interesting. Figures are rounded,
// plausible approximations of published regional statistics, not data.

export const REGION_IDS = ['lombardia', 'galicia', 'sachsen', 'dolnoslaskie', 'toscana'] as const;
export type RegionId = (typeof REGION_IDS)[number];

/** Chronic conditions whose regional prevalence differs (see clinical.ts). */
export type ConditionKey =
  | 'diabetes2'
  | 'prediabetes'
  | 'diabetes1'
  | 'hypertension'
  | 'copd'
  | 'asthma'
  | 'breastCancer'
  | 'prostateCancer'
  | 'lungCancer'
  | 'colonCancer'
  | 'ckd'
  | 'ihd'
  | 'afib'
  | 'stroke'
  | 'hyperlipidaemia'
  | 'depression'
  | 'osteoporosis'
  | 'dementia'
  | 'hypothyroidism'
  | 'gerd';

export interface RegionProfile {
  readonly id: RegionId;
  readonly name: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  /** Share of the population per five-year age band, 0-4 ... 95-99, 100+ (relative weights). */
  readonly pyramid: readonly number[];
  /** Multipliers on the base prevalence; absent means 1. */
  readonly prevalence: Readonly<Partial<Record<ConditionKey, number>>>;
  /** Multiplier on age-specific mortality. */
  readonly mortality: number;
  /** Share of current smokers among adults. */
  readonly smokers: number;
  /** Mean adult BMI. */
  readonly meanBmi: number;
  /** Mean adult height in cm (female, male). */
  readonly height: readonly [number, number];
  /** Influenza vaccination uptake at 65+. */
  readonly fluUptake: number;
  /** COVID-19 primary course uptake among adults. */
  readonly covidUptake: number;
  /** Share of laboratories reporting glucose in mmol/L instead of mg/dL. */
  readonly glucoseMmolShare: number;
}

const ITALY_MORTALITY = 0.9;

export const REGIONS: Readonly<Record<RegionId, RegionProfile>> = Object.freeze({
  lombardia: {
    id: 'lombardia',
    name: 'Lombardia',
    country: 'IT',
    pyramid: [
      3.7, 4.3, 4.8, 4.9, 4.9, 5.2, 5.6, 6.1, 7.0, 8.2, 8.4, 8.0, 6.8, 5.9, 5.6, 4.7, 3.8, 2.4, 1.1,
      0.3, 0.03,
    ],
    prevalence: { diabetes2: 0.85, hypertension: 0.95, copd: 0.9, breastCancer: 1.12, ckd: 0.95 },
    mortality: ITALY_MORTALITY,
    smokers: 0.19,
    meanBmi: 25.3,
    height: [163, 176],
    fluUptake: 0.55,
    covidUptake: 0.86,
    glucoseMmolShare: 0.04,
  },
  toscana: {
    id: 'toscana',
    name: 'Toscana',
    country: 'IT',
    pyramid: [
      3.3, 3.9, 4.4, 4.6, 4.7, 4.9, 5.2, 5.7, 6.7, 7.9, 8.3, 8.2, 7.2, 6.3, 6.1, 5.1, 4.3, 2.8, 1.3,
      0.35, 0.04,
    ],
    prevalence: { diabetes2: 0.9, hypertension: 1.0, copd: 0.9, breastCancer: 1.05, dementia: 1.1 },
    mortality: ITALY_MORTALITY,
    smokers: 0.21,
    meanBmi: 25.4,
    height: [163, 176],
    fluUptake: 0.6,
    covidUptake: 0.87,
    glucoseMmolShare: 0.04,
  },
  galicia: {
    id: 'galicia',
    name: 'Galicia',
    country: 'ES',
    pyramid: [
      3.0, 3.6, 4.2, 4.2, 4.1, 4.3, 4.8, 5.8, 7.3, 8.2, 8.0, 7.9, 7.6, 6.8, 6.3, 5.2, 4.0, 3.0, 1.5,
      0.4, 0.05,
    ],
    prevalence: {
      diabetes2: 1.1,
      hypertension: 1.05,
      copd: 0.95,
      asthma: 1.15,
      breastCancer: 0.95,
    },
    mortality: 0.92,
    smokers: 0.2,
    meanBmi: 26.4,
    height: [161, 174],
    fluUptake: 0.62,
    covidUptake: 0.9,
    glucoseMmolShare: 0.03,
  },
  sachsen: {
    id: 'sachsen',
    name: 'Sachsen',
    country: 'DE',
    pyramid: [
      4.2, 4.9, 4.9, 4.3, 3.9, 4.8, 6.1, 6.5, 6.0, 5.2, 6.3, 8.0, 8.3, 7.3, 5.5, 5.1, 5.3, 2.7, 1.0,
      0.25, 0.03,
    ],
    prevalence: {
      diabetes2: 1.35,
      hypertension: 1.25,
      copd: 1.1,
      ckd: 1.2,
      hyperlipidaemia: 1.15,
      ihd: 1.15,
    },
    mortality: 1.05,
    smokers: 0.24,
    meanBmi: 26.9,
    height: [166, 179],
    fluUptake: 0.4,
    covidUptake: 0.66,
    glucoseMmolShare: 0.25,
  },
  dolnoslaskie: {
    id: 'dolnoslaskie',
    name: 'Dolnośląskie',
    country: 'PL',
    pyramid: [
      4.6, 5.3, 5.2, 4.6, 4.5, 5.5, 7.0, 8.3, 8.0, 7.0, 6.0, 6.0, 7.0, 7.6, 6.3, 3.6, 2.5, 1.7, 0.7,
      0.15, 0.02,
    ],
    prevalence: {
      diabetes2: 1.15,
      hypertension: 1.3,
      copd: 1.25,
      lungCancer: 1.4,
      ihd: 1.3,
      stroke: 1.2,
    },
    mortality: 1.25,
    smokers: 0.27,
    meanBmi: 27.0,
    height: [165, 178],
    fluUptake: 0.15,
    covidUptake: 0.6,
    glucoseMmolShare: 0.02,
  },
});

export function isRegionId(value: string): value is RegionId {
  return (REGION_IDS as readonly string[]).includes(value);
}
