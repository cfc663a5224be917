// fast-check generators of valid cohort queries, for property tests in every
// package (canonical form here, engine-versus-oracle in the node adapter).
// Test support, kept outside `src/` (a test checks that no production file
// imports it), so fast-check never reaches a production bundle.
import fc from 'fast-check';
import type {
  AgeRange,
  CodeSet,
  Coding,
  CohortQuery,
  Dimension,
  Expr,
  Gender,
  Measure,
  PatientCriterion,
  Period,
  ValueRange,
} from '../../src/generated/query.ts';
import { EVENT_KINDS, type EventKind, normaliseCode } from '../../src/query/walk.ts';

/** The code systems the generators draw from. */
export const SYSTEMS = Object.freeze({
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  icd10gm: 'http://fhir.de/CodeSystem/bfarm/icd-10-gm',
  atc: 'http://www.whocc.no/atc',
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
  cvx: 'http://hl7.org/fhir/sid/cvx',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
});

const ICD10: readonly string[] = [SYSTEMS.icd10, SYSTEMS.icd10cm, SYSTEMS.icd10gm];

/** Which systems each kind's codes come from, so generated queries look like real ones. */
const KIND_SYSTEMS: Record<EventKind, readonly string[]> = {
  condition: [...ICD10, SYSTEMS.snomed],
  observation: [SYSTEMS.loinc, SYSTEMS.snomed],
  procedure: [SYSTEMS.snomed],
  medication: [SYSTEMS.atc],
  immunization: [SYSTEMS.cvx],
  encounter: [SYSTEMS.actCode, SYSTEMS.snomed],
};

export interface QueryArbitraryOptions {
  /** Maximum Expr height (a lone criterion has height 1); default 4. */
  readonly maxHeight?: number;
  /** Maximum children of one all/any; default 3. */
  readonly maxChildren?: number;
}

const icdCode = fc
  .tuple(
    fc.constantFrom('A', 'C', 'E', 'I', 'J', 'N', 'Z'),
    fc.integer({ min: 0, max: 99 }),
    fc.option(fc.integer({ min: 0, max: 9 }), { nil: undefined }),
    fc.boolean(),
  )
  .map(([letter, n, sub, dot]) => {
    const stem = `${letter}${String(n).padStart(2, '0')}`;
    return sub === undefined ? stem : `${stem}${dot ? '.' : ''}${sub}`;
  });

const atcCode = fc
  .tuple(
    fc.constantFrom('A10', 'A10B', 'A10BA', 'C09', 'C09AA', 'N02BE'),
    fc.integer({ min: 1, max: 9 }),
  )
  .map(([group, n]) => (group.length === 5 ? `${group}0${n}` : group));

const numericCode = fc.integer({ min: 1, max: 99_999_999 }).map(String);
const loincCode = fc
  .tuple(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 0, max: 9 }))
  .map(([n, check]) => `${n}-${check}`);

function codeFor(system: string): fc.Arbitrary<string> {
  if (ICD10.includes(system)) return icdCode;
  if (system === SYSTEMS.atc) return atcCode;
  if (system === SYSTEMS.loinc) return loincCode;
  if (system === SYSTEMS.actCode) return fc.constantFrom('AMB', 'EMER', 'IMP', 'HH', 'VR');
  return numericCode;
}

function codingFrom(systems: readonly string[]): fc.Arbitrary<Coding> {
  return fc.constantFrom(...systems).chain((system) => {
    const prefix = ICD10.includes(system) || system === SYSTEMS.atc;
    const descendants = prefix
      ? fc.option(fc.boolean(), { nil: undefined })
      : fc.constantFrom(undefined, false);
    return fc
      .record({ system: fc.constant(system), code: codeFor(system), descendants })
      .map(({ descendants: d, ...rest }): Coding =>
        d === undefined ? rest : { ...rest, descendants: d },
      );
  });
}

/**
 * A CodeSet with at most one coding per system and (normalised) code, so no
 * two codings of one set mean the same thing.
 */
export function arbitraryCodeSet(systems: readonly string[], maxLength = 4): fc.Arbitrary<CodeSet> {
  return fc
    .uniqueArray(codingFrom(systems), {
      minLength: 1,
      maxLength,
      selector: (c) => `${c.system}|${normaliseCode(c.system, c.code)}`,
    })
    .map((codes) => codes as CodeSet);
}

const isoDate = fc
  .integer({ min: Date.UTC(1900, 0, 1), max: Date.UTC(2030, 11, 31) })
  .map((ms) => new Date(ms).toISOString().slice(0, 10));

const period: fc.Arbitrary<Period> = fc
  .tuple(isoDate, isoDate, fc.constantFrom('from', 'to', 'both'))
  .map(([a, b, which]) => {
    const [from, to] = a <= b ? [a, b] : [b, a];
    if (which === 'from') return { from };
    if (which === 'to') return { to };
    return { from, to };
  });

function range(bound: fc.Arbitrary<number>): fc.Arbitrary<{ min?: number; max?: number }> {
  return fc.tuple(bound, bound, fc.constantFrom('min', 'max', 'both')).map(([a, b, which]) => {
    const [min, max] = a <= b ? [a, b] : [b, a];
    if (which === 'min') return { min };
    if (which === 'max') return { max };
    return { min, max };
  });
}

const ageRange: fc.Arbitrary<AgeRange> = range(fc.integer({ min: 0, max: 150 }));
const decimal = fc.integer({ min: -1000, max: 10_000 }).map((n) => n / 10);
const unit = fc.constantFrom('%', 'mg/dL', 'mmol/L', 'kg/m2', '1');
const valueRange: fc.Arbitrary<ValueRange> = fc
  .tuple(range(decimal), unit)
  .map(([r, u]) => ({ ...r, unit: u }));

const genders = fc
  .shuffledSubarray<Gender>(['female', 'male', 'other', 'unknown'], { minLength: 1 })
  .map((g) => g as NonNullable<PatientCriterion['gender']>);

const patientCriterion: fc.Arbitrary<PatientCriterion> = fc
  .record(
    { gender: genders, age: ageRange, birthDate: period, deceased: fc.boolean() },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0);

function eventExpr(kind: EventKind): fc.Arbitrary<Expr> {
  const base = {
    code: arbitraryCodeSet(KIND_SYSTEMS[kind]),
    period,
    ageAtEvent: ageRange,
    atLeast: fc.integer({ min: 1, max: 5 }),
  };
  const criterion =
    kind === 'observation'
      ? fc.record(
          {
            ...base,
            value: valueRange,
            valueCode: arbitraryCodeSet([SYSTEMS.snomed, SYSTEMS.loinc]),
          },
          { requiredKeys: ['code'] },
        )
      : fc.record(base, { requiredKeys: ['code'] });
  return criterion.map((c) => ({ [kind]: c }) as unknown as Expr);
}

/** One criterion: a patient criterion or an event criterion of any kind. */
export const arbitraryCriterion: fc.Arbitrary<Expr> = fc.oneof(
  patientCriterion.map((patient): Expr => ({ patient })),
  ...EVENT_KINDS.map(eventExpr),
);

/** An Expr tree no taller than `maxHeight`, with 1..`maxChildren` children per group. */
export function arbitraryExpr(maxHeight = 4, maxChildren = 3): fc.Arbitrary<Expr> {
  if (maxHeight <= 1) return arbitraryCriterion;
  const child = arbitraryExpr(maxHeight - 1, maxChildren);
  const children = fc.array(child, { minLength: 1, maxLength: maxChildren });
  return fc.oneof(
    { weight: 3, arbitrary: arbitraryCriterion },
    { weight: 2, arbitrary: children.map((all) => ({ all }) as Expr) },
    { weight: 2, arbitrary: children.map((any) => ({ any }) as Expr) },
    { weight: 1, arbitrary: child.map((not): Expr => ({ not })) },
  );
}

const ageBand = fc
  .uniqueArray(fc.integer({ min: 1, max: 150 }), { minLength: 1, maxLength: 11 })
  .map((edges) => ({ ageBand: [0, ...edges.sort((a, b) => a - b)] }) as Dimension);

// At most 4 codes, so three dimensions stay within 200 strata (4 x 12 x 4).
const codesDimension = arbitraryCodeSet(KIND_SYSTEMS.condition, 4).map((codes): Dimension => ({
  codes: { of: 'condition', in: codes },
}));

const dimension: fc.Arbitrary<Dimension> = fc.oneof(
  fc.constant<Dimension>('gender'),
  fc.constant<Dimension>('deceased'),
  ageBand,
  codesDimension,
);

function dimensionKey(d: Dimension): string {
  return typeof d === 'string' ? d : Object.keys(d)[0]!;
}

const pick = fc.constantFrom('latest', 'earliest', 'mean' as const);
const observationCodes = arbitraryCodeSet([SYSTEMS.loinc], 3);

const measure: fc.Arbitrary<Measure> = fc.oneof(
  fc.constant<Measure>({ count: 'patients' }),
  fc
    .record(
      {
        observation: observationCodes,
        unit,
        edges: fc
          .uniqueArray(decimal, { minLength: 2, maxLength: 8 })
          .map((e) => e.sort((a, b) => a - b)),
        pick,
        period,
      },
      { requiredKeys: ['observation', 'unit', 'edges'] },
    )
    .map((histogram) => ({ histogram }) as Measure),
  fc
    .record(
      { observation: observationCodes, unit, pick, period },
      { requiredKeys: ['observation', 'unit'] },
    )
    .map((summary): Measure => ({ summary })),
);

/**
 * Valid cohort queries: every criterion kind, dimension and measure, optional
 * keys present or absent, defaults sometimes spelled out.
 * @example fc.assert(fc.property(arbitraryQuery(), (q) => { parseQuery(q); }))
 */
export function arbitraryQuery(options: QueryArbitraryOptions = {}): fc.Arbitrary<CohortQuery> {
  const { maxHeight = 4, maxChildren = 3 } = options;
  return fc
    .record(
      {
        version: fc.constant(1 as const),
        cohort: arbitraryExpr(maxHeight, maxChildren),
        asOf: isoDate,
        stratify: fc.uniqueArray(dimension, { maxLength: 3, selector: dimensionKey }),
        measures: fc.array(measure, { minLength: 1, maxLength: 3 }),
        nodes: fc.uniqueArray(fc.constantFrom('lombardia', 'galicia', 'sachsen', 'toscana'), {
          minLength: 1,
        }),
        label: fc.string({ maxLength: 40 }),
      },
      { requiredKeys: ['version', 'cohort'] },
    )
    .map((q) => q as CohortQuery);
}
