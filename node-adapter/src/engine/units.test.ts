// The unit conversion policy: UCUM's conversions, molar masses, and the
// table of clinical conversions that UCUM must not make.
import { describe, expect, it } from 'vitest';
import {
  CLINICAL_CONVERSIONS,
  clinicalConversionOf,
  convertObservedValue,
  convertsBeyondUcum,
} from './units.ts';

const LOINC = 'http://loinc.org';
const NGSP_CODES = ['4548-4', '17856-6', '4549-2'];
const IFCC = '59261-8';

describe('HbA1c: NGSP % and IFCC mmol/mol by the master equation', () => {
  it('converts % into mmol/mol as IFCC = 10.929 × (NGSP − 2.15)', () => {
    for (const code of [...NGSP_CODES, IFCC]) {
      expect(convertObservedValue(6.5, '%', 'mmol/mol', LOINC, code)).toBeCloseTo(47.54115, 10);
      expect(convertObservedValue(2.15, '%', 'mmol/mol', LOINC, code)).toBeCloseTo(0, 10);
    }
  });

  it('converts mmol/mol into % by the exact inverse (published rounded: 0.0915 × IFCC + 2.15)', () => {
    const ngsp = convertObservedValue(48, 'mmol/mol', '%', LOINC, IFCC)!;
    expect(ngsp).toBeCloseTo(48 / 10.929 + 2.15, 12);
    expect(Math.abs(ngsp - (0.0915 * 48 + 2.15))).toBeLessThan(0.001);
    for (const value of [4, 5.7, 6.5, 9.9, 14]) {
      const there = convertObservedValue(value, '%', 'mmol/mol', LOINC, '4548-4')!;
      expect(convertObservedValue(there, 'mmol/mol', '%', LOINC, '4548-4')).toBeCloseTo(value, 12);
    }
  });

  it('never falls back on UCUM, which would read 6.5 % as 65 mmol/mol', () => {
    expect(convertObservedValue(6.5, '%', '1', LOINC, '4548-4')).toBeUndefined();
    expect(convertObservedValue(48, 'mmol/mol', 'umol/mol', LOINC, IFCC)).toBeUndefined();
    expect(convertObservedValue(6.5, '%', '%', LOINC, '4548-4')).toBe(6.5);
  });

  it('leaves other calibrations and other codes to UCUM: no clinical conversion exists for them', () => {
    // JDS/JSCC % and the IFCC-traceable pure mass fraction are not NGSP.
    for (const code of ['62388-4', '71875-9', '2339-0', '8480-6']) {
      expect(clinicalConversionOf(LOINC, code)).toBeUndefined();
    }
    expect(convertObservedValue(6.5, '%', 'mmol/mol', LOINC, '71875-9')).toBeCloseTo(65, 10);
    expect(convertObservedValue(7, 'mmol/L', 'mg/dL', LOINC, '2339-0')).toBeCloseTo(126.112, 10);
    expect(convertObservedValue(7, 'mmol/L', 'mg/dL', LOINC, '8480-6')).toBeUndefined();
    expect(convertObservedValue(20, 'kPa', 'mm[Hg]', LOINC, '8480-6')).toBeCloseTo(150.0124, 3);
  });

  it('is the only clinical conversion, and a server cannot apply it', () => {
    expect(CLINICAL_CONVERSIONS.map((c) => c.analyte)).toEqual(['HbA1c, NGSP % and IFCC mmol/mol']);
    expect(convertsBeyondUcum(LOINC, '4548-4')).toBe(true);
    expect(convertsBeyondUcum(LOINC, '2339-0')).toBe(true);
    expect(convertsBeyondUcum(LOINC, '8480-6')).toBe(false);
  });
});
