// Unit conversion policy shared by everything that compares quantities: which
// conversions exist (UCUM's, through @lhncbc/ucum-lhc) and which substances
// carry a molar mass, so that mass and amount-of-substance concentrations of
// the same analyte (glucose in mg/dL and mmol/L) convert into each other.
//
// UCUM converts what its units allow and knows nothing of clinical scales:
// it turns 6.5 % into 65 mmol/mol as plain ratios, while HbA1c in % (NGSP)
// and in mmol/mol (IFCC) are different calibrations. LOINC keeps them apart
// (4548-4 and 59261-8), so a query on one code meets the other's unit rarely;
// when it does, the contract's rule (convert when UCUM can) applies.
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
