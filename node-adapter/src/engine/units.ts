// Unit conversion policy shared by everything that compares quantities: which
// conversions exist (UCUM's, through @lhncbc/ucum-lhc, and a short table of
// clinical ones), and which substances carry a molar mass, so that mass and
// amount-of-substance concentrations of the same analyte (glucose in mg/dL
// and mmol/L) convert into each other.
//
// UCUM converts what its units allow and knows nothing of clinical scales:
// it turns 6.5 % into 65 mmol/mol as plain ratios, while HbA1c in % (NGSP,
// DCCT-aligned) and in mmol/mol (IFCC) are different calibrations of one
// measurement, related by the IFCC-NGSP master equation. For the codes of
// such an analyte the table below decides alone: its equation between its
// two units, and no conversion to or from any other unit. For every other
// code no clinical conversion exists and UCUM's rules apply.
import ucum from '@lhncbc/ucum-lhc';

const LOINC = 'http://loinc.org';
const GLUCOSE_G_PER_MOL = 180.16;

// LOINC glucose codes in mass and in substance concentration. A code absent
// here never converts between mass and moles: UCUM cannot know the substance.
const GLUCOSE_LOINC_CODES = [
  '2339-0', // Glucose [Mass/volume] in Blood
  '2345-7', // Glucose [Mass/volume] in Serum or Plasma
  '2340-8', // Glucose [Mass/volume] in Blood by Automated test strip
  '41653-7', // Glucose [Mass/volume] in Capillary blood by Glucometer
  '1558-6', // Fasting glucose [Mass/volume] in Serum or Plasma
  '15074-8', // Glucose [Moles/volume] in Blood
  '14749-6', // Glucose [Moles/volume] in Serum or Plasma
  '14743-9', // Glucose [Moles/volume] in Capillary blood by Glucometer
  '14771-0', // Fasting glucose [Moles/volume] in Serum or Plasma
];

/** Molar mass (g/mol) of the substance an observation code measures, by `system|code`. */
export const MOLAR_MASS_BY_CODE: ReadonlyMap<string, number> = new Map(
  GLUCOSE_LOINC_CODES.map((code) => [`${LOINC}|${code}`, GLUCOSE_G_PER_MOL]),
);

/**
 * The molar mass of what an observation code measures, if known.
 * @example molarMassOf('http://loinc.org', '2339-0') // 180.16
 */
export function molarMassOf(system: string, code: string): number | undefined {
  return MOLAR_MASS_BY_CODE.get(`${system}|${code}`);
}

/**
 * A conversion between two calibrations of one analyte, `to = scale * from +
 * offset`, and its exact inverse the other way.
 */
export interface ClinicalConversion {
  readonly analyte: string;
  /** The codes (`system|code`) whose values it converts. */
  readonly codes: readonly string[];
  readonly from: string;
  readonly to: string;
  readonly scale: number;
  readonly offset: number;
}

// HbA1c as a fraction of total haemoglobin, in Blood. A value in % is read as
// NGSP (DCCT-aligned), one in mmol/mol as IFCC, whichever of these codes it
// carries. Left out on purpose: 62388-4 (JDS/JSCC %, a third calibration) and
// 71875-9 (pure mass fraction, IFCC-traceable in %), whose % is not NGSP, and
// 41995-2 (mass per volume), which is not a fraction at all.
const HBA1C_FRACTION_LOINC_CODES = [
  '4548-4', // Hemoglobin A1c/Hemoglobin.total in Blood
  '17856-6', // Hemoglobin A1c/Hemoglobin.total in Blood by HPLC
  '4549-2', // Hemoglobin A1c/Hemoglobin.total in Blood by Electrophoresis
  '59261-8', // Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol
];

/**
 * Every clinical conversion the node knows: the IFCC-NGSP master equation,
 * IFCC = 10.929 × (NGSP − 2.15) (Hoelzel et al., Clin Chem 2004); the reverse
 * is its exact inverse, which the literature rounds to 0.0915 × IFCC + 2.15.
 */
export const CLINICAL_CONVERSIONS: readonly ClinicalConversion[] = Object.freeze([
  {
    analyte: 'HbA1c, NGSP % and IFCC mmol/mol',
    codes: HBA1C_FRACTION_LOINC_CODES.map((code) => `${LOINC}|${code}`),
    from: '%',
    to: 'mmol/mol',
    scale: 10.929,
    offset: -10.929 * 2.15,
  },
]);

const CLINICAL_BY_CODE: ReadonlyMap<string, ClinicalConversion> = new Map(
  CLINICAL_CONVERSIONS.flatMap((c) => c.codes.map((code) => [code, c] as const)),
);

/**
 * The clinical conversion that governs an observation code's units, if any.
 * @example clinicalConversionOf('http://loinc.org', '4548-4')?.to // 'mmol/mol'
 */
export function clinicalConversionOf(system: string, code: string): ClinicalConversion | undefined {
  return CLINICAL_BY_CODE.get(`${system}|${code}`);
}

/**
 * True when a code's values convert by rules a FHIR server's UCUM search
 * cannot know (a molar mass, a clinical conversion).
 * @example convertsBeyondUcum('http://loinc.org', '59261-8') // true
 */
export function convertsBeyondUcum(system: string, code: string): boolean {
  return (
    molarMassOf(system, code) !== undefined || clinicalConversionOf(system, code) !== undefined
  );
}

/**
 * A value of an observation coded `system|code`, recorded in unit `from`,
 * expressed in unit `to`: by the code's clinical conversion when it has one
 * (and not at all between other units), else as UCUM converts, with the
 * code's molar mass. Undefined when it cannot be converted.
 * @example convertObservedValue(6.5, '%', 'mmol/mol', 'http://loinc.org', '4548-4') // 47.54115
 * @example convertObservedValue(7, 'mmol/L', 'mg/dL', 'http://loinc.org', '2339-0') // 126.112
 */
export function convertObservedValue(
  value: number,
  from: string,
  to: string,
  system: string,
  code: string,
): number | undefined {
  if (from === to) return value;
  const clinical = clinicalConversionOf(system, code);
  if (clinical === undefined) return convertQuantity(value, from, to, molarMassOf(system, code));
  if (from === clinical.from && to === clinical.to) return clinical.scale * value + clinical.offset;
  if (from === clinical.to && to === clinical.from)
    return (value - clinical.offset) / clinical.scale;
  return undefined;
}

const utils = ucum.UcumLhcUtils.getInstance();

/**
 * `value` in unit `from` expressed in unit `to` (UCUM codes), or undefined
 * when UCUM cannot convert (unknown unit, incommensurable units, or mass and
 * moles without a molar mass). Identical unit strings need no conversion.
 * @example convertQuantity(7, 'mmol/L', 'mg/dL', 180.16) // 126.112
 * @example convertQuantity(1, 'kg', 'm') // undefined
 */
export function convertQuantity(
  value: number,
  from: string,
  to: string,
  molarMass?: number,
): number | undefined {
  if (from === to) return value;
  let result;
  try {
    result = utils.convertUnitTo(
      from,
      value,
      to,
      molarMass === undefined ? {} : { molecularWeight: molarMass },
    );
  } catch {
    return undefined;
  }
  const converted = result.toVal;
  return result.status === 'succeeded' &&
    typeof converted === 'number' &&
    Number.isFinite(converted)
    ? converted
    : undefined;
}
