// Capability choice: what the node asks the server for depends only on what
// the CapabilityStatement declares; everything else is left to the node.
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@tessera/schemas';
import type { CodeSet } from '@tessera/schemas';
import { readCapabilities, summariseCapabilities } from '../fhir-client/capabilities.ts';
import {
  DATE_MARGIN_DAYS,
  MAX_VALUES_PER_PARAM,
  medicationSearches,
  planSearches,
  shiftDate,
} from './plan.ts';
import type { EventSearch } from './plan.ts';
import { SPECIAL_VALUES } from '../ingest/flatten.ts';
import { buildSearchUrl } from '../fhir-client/search-url.ts';
import type { SearchSpec } from '../fhir-client/search-url.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SNOMED = 'http://snomed.info/sct';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';

interface Declared {
  readonly name: string;
  readonly type: string;
  readonly modifier?: string[];
  readonly comparator?: string[];
}

/** A CapabilityStatement declaring `resources`; modifiers and prefixes through contained SearchParameters. */
function statement(resources: Record<string, Declared[]>, common: Declared[] = []): unknown {
  const contained: unknown[] = [];
  const param = (type: string, p: Declared): Record<string, unknown> => {
    if (p.modifier === undefined && p.comparator === undefined)
      return { name: p.name, type: p.type };
    const id = `${type}-${p.name}`;
    contained.push({
      resourceType: 'SearchParameter',
      id,
      code: p.name,
      type: p.type,
      modifier: p.modifier,
      comparator: p.comparator,
    });
    return { name: p.name, type: p.type, definition: `#${id}` };
  };
  const rest = {
    mode: 'server',
    searchParam: common.map((p) => param('all', p)),
    resource: Object.entries(resources).map(([type, params]) => ({
      type,
      interaction: [{ code: 'search-type' }],
      searchParam: params.map((p) => param(type, p)),
    })),
  };
  return { resourceType: 'CapabilityStatement', fhirVersion: '4.0.1', contained, rest: [rest] };
}

const FULL = readCapabilities(
  statement(
    {
      Patient: [],
      Condition: [
        { name: 'code', type: 'token', modifier: ['below'] },
        { name: 'onset-date', type: 'date', modifier: ['missing'] },
        { name: 'onset-age', type: 'quantity', modifier: ['missing'] },
        { name: 'recorded-date', type: 'date' },
      ],
      Observation: [
        { name: 'code', type: 'token' },
        { name: 'date', type: 'date', comparator: ['ge', 'le'] },
        {
          name: 'value-quantity',
          type: 'quantity',
          comparator: ['ge', 'le', 'eq'],
          modifier: ['missing'],
        },
        { name: 'value-concept', type: 'token' },
        { name: 'component-code', type: 'token' },
        { name: 'component-value-quantity', type: 'quantity', comparator: ['ge', 'le'] },
        { name: 'component-value-concept', type: 'token' },
      ],
      MedicationRequest: [
        { name: 'code', type: 'token' },
        { name: 'medication', type: 'reference', modifier: ['missing'] },
        { name: 'authoredon', type: 'date' },
      ],
      MedicationStatement: [{ name: 'code', type: 'token' }],
      Medication: [{ name: 'code', type: 'token' }],
      Encounter: [
        { name: 'type', type: 'token' },
        { name: 'class', type: 'token' },
        { name: 'date', type: 'date', comparator: ['eq'] },
      ],
    },
    [{ name: '_count', type: 'number' }],
  ),
);

const BARE = readCapabilities(
  statement({
    Patient: [],
    Condition: [],
    Observation: [],
    Encounter: [{ name: 'type', type: 'token' }],
  }),
);

/** Each search as the query string it becomes, decoded, for readable expectations. */
function urls(specs: readonly SearchSpec[]): string[] {
  return specs.map((s) =>
    decodeURIComponent(buildSearchUrl('https://f', s).slice('https://f/'.length)),
  );
}

describe('readCapabilities', () => {
  it('reads declared parameters, modifiers and prefixes', () => {
    const summary = summariseCapabilities(FULL);
    expect(summary.types.Condition).toEqual({
      params: ['code', 'onset-age', 'onset-date', 'recorded-date'],
      modifiers: ['code:below', 'onset-age:missing', 'onset-date:missing'],
    });
    expect(summary.common).toEqual(['_count']);
    expect(summary.unsearchable).toEqual([
      'Procedure',
      'MedicationAdministration',
      'Immunization',
      'Consent',
    ]);
  });

  it('refuses what is not an R4 CapabilityStatement that can search Patient', () => {
    const refuse = (value: unknown): void => {
      expect(() => readCapabilities(value)).toThrow(ProblemError);
    };
    refuse({ resourceType: 'OperationOutcome' });
    refuse({ ...(statement({ Patient: [] }) as object), fhirVersion: '5.0.0' });
    refuse(statement({ Condition: [] }));
    refuse({ resourceType: 'CapabilityStatement', rest: [{ mode: 'client' }] });
  });

  it('ignores types it never reads and types without search', () => {
    const caps = readCapabilities({
      resourceType: 'CapabilityStatement',
      rest: [
        {
          mode: 'server',
          resource: [
            { type: 'Patient', interaction: [{ code: 'read' }, { code: 'search-type' }] },
            { type: 'Condition', interaction: [{ code: 'read' }] },
            { type: 'Group', interaction: [{ code: 'search-type' }] },
          ],
        },
      ],
    });
    expect([...caps.types.keys()]).toEqual(['Patient']);
  });
});

describe('planSearches', () => {
  it('sends exact codes, ICD-10 in both forms, and descendants with :below where declared', () => {
    const codes: CodeSet = [
      { system: ICD10, code: 'E119' },
      { system: ICD10, code: 'I10' },
      { system: ICD10, code: 'E1', descendants: true },
      { system: SNOMED, code: '15777000' },
    ];
    expect(urls(planSearches(FULL, 'Condition', { kind: 'condition', code: codes }))).toEqual([
      `Condition?code=${ICD10}|E119,${ICD10}|E11.9,${ICD10}|I10,${SNOMED}|15777000`,
      `Condition?code:below=${ICD10}|E1`,
    ]);
  });

  it('fetches a whole code system for descendants when :below is not declared', () => {
    const codes: CodeSet = [
      { system: LOINC, code: '4548-4' },
      { system: ATC, code: 'A10', descendants: true },
      { system: ATC, code: 'A10BA02' },
    ];
    expect(urls(planSearches(FULL, 'Observation', { kind: 'observation', code: codes }))).toEqual([
      `Observation?code=${ATC}|,${LOINC}|4548-4`,
      `Observation?component-code=${ATC}|,${LOINC}|4548-4`,
    ]);
  });

  it('splits long code lists so URLs stay short', () => {
    const codes = Array.from({ length: 100 }, (_, i) => ({
      system: SNOMED,
      code: String(i),
    })) as unknown as CodeSet;
    const specs = planSearches(FULL, 'Observation', { kind: 'observation', code: codes });
    // On the Observation's code and on its components' codes.
    expect(specs).toHaveLength(2 * Math.ceil(100 / MAX_VALUES_PER_PARAM));
  });

  it('widens dates by two days and searches a Condition by onset and by recorded date', () => {
    const specs = planSearches(FULL, 'Condition', {
      kind: 'condition',
      code: [{ system: SNOMED, code: '1' }],
      period: { from: '2020-03-01', to: '2020-12-31' },
    });
    expect(DATE_MARGIN_DAYS).toBe(2);
    expect(urls(specs)).toEqual([
      `Condition?code=${SNOMED}|1&onset-date=ge2020-02-28&onset-date=le2021-01-02`,
      `Condition?code=${SNOMED}|1&recorded-date=ge2020-02-28&recorded-date=le2021-01-02`,
      // An onsetAge is dated from the birth date, which no search parameter covers;
      // servers differ on whether `onset-date:missing=true` finds it, `onset-age` does.
      `Condition?code=${SNOMED}|1&onset-date:missing=true`,
      `Condition?code=${SNOMED}|1&onset-age:missing=false`,
    ]);
  });

  it('leaves a period to the node where the date parameter misses fallback dates and :missing is not declared', () => {
    // Observation `date` does not cover `issued`; FULL declares no :missing on it.
    expect(
      urls(
        planSearches(FULL, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '4548-4' }],
          period: { from: '2020-03-01' },
        }),
      ),
    ).toEqual([`Observation?code=${LOINC}|4548-4`, `Observation?component-code=${LOINC}|4548-4`]);
  });

  it('uses value-quantity and value-concept where declared, not for codes with a molar mass or a clinical conversion', () => {
    expect(
      urls(
        planSearches(FULL, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '29463-7' }],
          value: { min: 6.5, unit: 'kg' },
          valueCode: [{ system: SNOMED, code: '449868002' }],
        }),
      ),
    ).toEqual([
      `Observation?code=${LOINC}|29463-7&value-quantity=ge6.4999999935|http://unitsofmeasure.org|kg&value-concept=${SNOMED}|449868002`,
      // valueInteger and valueRatio are no Quantity: fetched beside it, checked in the node.
      `Observation?code=${LOINC}|29463-7&value-quantity:missing=true&value-concept=${SNOMED}|449868002`,
      // FULL declares no :missing on component-value-quantity: the node checks components' values.
      `Observation?component-code=${LOINC}|29463-7&component-value-concept=${SNOMED}|449868002`,
    ]);
    // Codes standing for valueBoolean or a valueString: no concept search finds them.
    expect(
      urls(
        planSearches(FULL, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '4548-4' }],
          valueCode: [{ system: SPECIAL_VALUES, code: 'true' }],
        }),
      ),
    ).toEqual([`Observation?code=${LOINC}|4548-4`, `Observation?component-code=${LOINC}|4548-4`]);
    expect(
      urls(
        planSearches(FULL, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '2339-0' }],
          value: { max: 126, unit: 'mg/dL' },
        }),
      ),
    ).toEqual([`Observation?code=${LOINC}|2339-0`, `Observation?component-code=${LOINC}|2339-0`]);
    // HbA1c: 48 mmol/mol is 6.54 % by the master equation, 4.8 % to a server's UCUM.
    expect(
      urls(
        planSearches(FULL, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '4548-4' }],
          value: { max: 48, unit: 'mmol/mol' },
        }),
      ),
    ).toEqual([`Observation?code=${LOINC}|4548-4`, `Observation?component-code=${LOINC}|4548-4`]);
  });

  it('reads every Observation, values unnarrowed, when components cannot be searched by code', () => {
    const noComponents = readCapabilities(
      statement({
        Patient: [],
        Observation: [
          { name: 'code', type: 'token' },
          { name: 'value-quantity', type: 'quantity', comparator: ['ge', 'le'] },
        ],
      }),
    );
    expect(
      urls(
        planSearches(noComponents, 'Observation', {
          kind: 'observation',
          code: [{ system: LOINC, code: '8480-6' }],
          value: { min: 140, unit: 'mm[Hg]' },
        }),
      ),
    ).toEqual(['Observation']);
  });

  it('leaves dates to the node when a parameter lacks ge/le', () => {
    expect(
      urls(
        planSearches(FULL, 'Encounter', {
          kind: 'encounter',
          code: [{ system: SNOMED, code: '1' }],
          period: { from: '2020-01-01' },
        }),
      ),
    ).toEqual([`Encounter?type=${SNOMED}|1`, `Encounter?class=${SNOMED}|1`]);
  });

  it('reads medication uses by inline code and, where :missing is declared, every referencing use', () => {
    expect(
      urls(
        planSearches(FULL, 'MedicationRequest', {
          kind: 'medication',
          code: [{ system: ATC, code: 'A10BA02' }],
          period: { to: '2020-01-01' },
        }),
      ),
    ).toEqual([
      `MedicationRequest?code=${ATC}|A10BA02&authoredon=le2020-01-03`,
      `MedicationRequest?medication:missing=false&authoredon=le2020-01-03`,
    ]);
    // Without :missing, contained Medications could only be found by reading every use.
    expect(
      urls(
        planSearches(FULL, 'MedicationStatement', {
          kind: 'medication',
          code: [{ system: ATC, code: 'A10BA02' }],
        }),
      ),
    ).toEqual(['MedicationStatement']);
    // Without `ingredient-code`, a Medication coded on an ingredient alone is found only by reading them all.
    expect(
      urls(medicationSearches(FULL, [{ system: ATC, code: 'A10', descendants: true }])),
    ).toEqual(['Medication']);
    expect(urls(medicationSearches(BARE, [{ system: ATC, code: 'A10' }]))).toEqual([]);
  });

  it('finds Medications by their own code or an ingredient code', () => {
    const caps = readCapabilities(
      statement({
        Patient: [],
        Medication: [
          { name: 'code', type: 'token' },
          { name: 'ingredient-code', type: 'token' },
        ],
      }),
    );
    expect(urls(medicationSearches(caps, [{ system: ATC, code: 'A12BA01' }]))).toEqual([
      `Medication?code=${ATC}|A12BA01`,
      `Medication?ingredient-code=${ATC}|A12BA01`,
    ]);
  });

  it('falls back to reading the whole type when the server declares nothing', () => {
    const search: EventSearch = {
      kind: 'condition',
      code: [{ system: SNOMED, code: '1' }],
      period: { from: '2020-01-01' },
    };
    expect(urls(planSearches(BARE, 'Condition', search))).toEqual(['Condition']);
    // Encounter type is declared but class is not: a class match could be missed, so no code filter.
    expect(
      urls(
        planSearches(BARE, 'Encounter', {
          kind: 'encounter',
          code: [{ system: SNOMED, code: '1' }],
        }),
      ),
    ).toEqual(['Encounter']);
    expect(
      planSearches(BARE, 'Procedure', { kind: 'procedure', code: [{ system: SNOMED, code: '1' }] }),
    ).toEqual([]);
  });
});

describe('shiftDate', () => {
  it('moves across month, year and leap days', () => {
    expect(shiftDate('2024-03-01', -2)).toBe('2024-02-28');
    expect(shiftDate('2023-12-31', 2)).toBe('2024-01-02');
    expect(shiftDate('2024-02-28', 1)).toBe('2024-02-29');
  });
});
