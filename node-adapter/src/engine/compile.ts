// Compiles a canonical cohort query into one SQL statement over the store's
// tables (store/layout.ts). The statement computes the cohort once, as a CTE
// of patients, and answers the total, the strata and every measure from it,
// as rows of one common shape (OUTPUT_COLUMNS) that decode.ts turns into a
// RawResult. Every value of the query reaches SQL as a bound parameter.
//
// Semantics fixed here (the query-language page leaves them open):
// - `all` is AND, `any` is OR and `not` the complement within the node's
//   patients; every criterion is two-valued, so a missing birth date can make
//   a criterion false but never makes `not` of it false as well.
// - Ages are whole years (age.ts). A patient without a birth date never meets
//   an age criterion, an ageAtEvent criterion or any ageBand stratum; a
//   patient born after asOf (or an event before birth) has no age at all.
// - A dead patient stops ageing: age on day D is the age on the death date
//   when that comes first (deceased_date, the date part of
//   deceasedDateTime). A patient known dead without a date ages on. Age
//   criteria and bands on asOf are birth-date bounds computed once; for
//   patients who died before asOf the same bounds are computed from their
//   death date (dialect.yearsBefore), which only they pay for.
// - An event without an event date never meets a `period` or `ageAtEvent`
//   criterion, and is never a histogram or summary value (it cannot be placed
//   in time); without such conditions it matches on its codes.
// - An Observation's components are observations of their own code and value
//   on the Observation's date (store/layout.ts): `code`, `value` and
//   `valueCode` must hold for the same component (or the Observation itself),
//   and `atLeast` counts the resources, not the components.
// - `value`: the distinct units stored for the criterion's codes are looked up
//   first (compileUnitProbe); the bounds are converted into each of them
//   (units.ts: UCUM, or the code's clinical conversion), and values in a unit
//   that does not convert (or without a unit) never match.
// - Histogram and summary values: each observation's value is converted into
//   the measure's unit (unconvertible ones are ignored); per patient `latest`
//   and `earliest` take the observations on the latest (earliest) event date,
//   the mean of them when several share that date; `mean` is the mean of all
//   in the period. A value below the first histogram edge falls in no bin and
//   counts as missing, so the bins and `missing` always add up to the total.
// - Strata: every stratum of the cross product, first dimension slowest, each
//   dimension in its listed order (gender female, male, other, unknown;
//   deceased true, false; age bands ascending; codes as in the canonical
//   CodeSet, keyed `system|code`). A `codes` dimension reads conditions of any
//   date, and its presence makes the result `overlapping`.
// - atLeast counts distinct resource_id within the kind's table.
import {
  canonicalCodeSet,
  canonicalJson,
  dimensionName,
  exprNode,
  normaliseCode,
  type AgeRange,
  type CanonicalQuery,
  type CodeSet,
  type ConsentCriterion,
  type Dimension,
  type EvaluableQuery,
  type EventCriterion,
  type EventKind,
  type Expr,
  type Measure,
  type MedicationCriterion,
  type ObservationCriterion,
  type PatientCriterion,
  type Period,
  type Pick,
  type ValueRange,
} from '@tessera/schemas';
import { CODE_PATIENT_TABLES, EVENT_TABLES } from '../store/layout.ts';
import { ageBandLabels, latestBirthDateForAge } from './age.ts';
import { summaryBoundsAt, type SourceQuery } from './bounds.ts';
import type { Dialect, SqlType } from './dialect.ts';
import type { SqlValue } from './runner.ts';
import { convertObservedValue } from './units.ts';

export type { EvaluableQuery };

export interface CompiledSql {
  readonly sql: string;
  readonly params: readonly SqlValue[];
}

/** A unit stored for observations with a given code (one row of the unit probe). */
export interface StoredUnit {
  readonly system: string;
  readonly code: string;
  readonly unit: string;
}

/** Stored units per observation CodeSet, keyed by codeSetKey. */
export type StoredUnits = ReadonlyMap<string, readonly StoredUnit[]>;

export interface CompileOptions {
  readonly dialect: Dialect;
  /**
   * The units stored for the query's quantity CodeSets (from the unit probe).
   * Without them no stored value can be converted, so `value` criteria match
   * nothing and histograms and summaries see no values.
   */
  readonly storedUnits?: StoredUnits;
}

/** One stratify dimension as decode.ts needs it. */
export interface DimensionPlan {
  readonly name: 'gender' | 'deceased' | 'ageBand' | 'codes';
  /** Stratum labels in result order; SQL reports the label's index. */
  readonly labels: readonly string[];
}

export type MeasurePlan =
  | { readonly type: 'count' }
  | {
      readonly type: 'histogram';
      readonly part: number;
      readonly unit: string;
      readonly edges: readonly number[];
    }
  | { readonly type: 'summary'; readonly part: number; readonly unit: string };

export interface ResultPlan {
  readonly dimensions: readonly DimensionPlan[];
  readonly overlapping: boolean;
  readonly measures: readonly MeasurePlan[];
}

export interface CompiledQuery extends CompiledSql {
  readonly plan: ResultPlan;
}

/**
 * The columns of every output row: `part` says what the row is (PART_TOTAL,
 * PART_STRATA, or a measure's part number), `i0`..`i2` are stratum label
 * indexes (or the histogram bin, NULL for missing), `n` and `ck` the count and
 * cell key, `f0`..`f5` the summary's mean, sd, sum of |v|, max of |v|, and
 * the sum and sum of squares of the values clamped to the measure's bounds
 * (NULL without bounds).
 */
export const OUTPUT_COLUMNS = [
  'part',
  'i0',
  'i1',
  'i2',
  'n',
  'ck',
  'f0',
  'f1',
  'f2',
  'f3',
  'f4',
  'f5',
] as const;
export const PART_TOTAL = 0;
export const PART_STRATA = 1;
const FIRST_MEASURE_PART = 2;

export const GENDER_LABELS = ['female', 'male', 'other', 'unknown'] as const;
export const DECEASED_LABELS = ['true', 'false'] as const;

/**
 * The key of a CodeSet in StoredUnits: its canonical JSON, so equal sets in
 * any spelling share a key.
 * @example codeSetKey([{ system: 'http://loinc.org', code: '4548-4' }])
 */
export function codeSetKey(codes: CodeSet): string {
  return canonicalJson(canonicalCodeSet(codes));
}

/** Binds values as cast placeholders; an equal value of the same type reuses its placeholder. */
interface Binder {
  readonly dialect: Dialect;
  bind(value: SqlValue, type: SqlType): string;
  readonly values: SqlValue[];
}

function createBinder(dialect: Dialect): Binder {
  const values: SqlValue[] = [];
  const slots = new Map<string, string>();
  return {
    dialect,
    values,
    bind(value, type) {
      const key = `${type}\u0000${typeof value}\u0000${String(value)}`;
      let slot = slots.get(key);
      if (slot === undefined) {
        values.push(value);
        slot = dialect.cast(dialect.placeholder(values.length), type);
        slots.set(key, slot);
      }
      return slot;
    },
  };
}

function joinOr(parts: readonly string[]): string {
  if (parts.length === 0) return 'FALSE';
  return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
}

function joinAnd(parts: readonly string[]): string {
  if (parts.length === 0) return 'TRUE';
  return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
}

function inList(column: string, values: readonly string[], b: Binder): string {
  const bound = values.map((v) => b.bind(v, 'text'));
  return bound.length === 1 ? `${column} = ${bound[0]!}` : `${column} IN (${bound.join(', ')})`;
}

/** Rows of `alias` (with `system` and `code` columns) whose coding is in the set. */
function codeSetPredicate(alias: string, codes: CodeSet, b: Binder): string {
  const bySystem = new Map<string, { exact: string[]; prefixes: string[] }>();
  for (const coding of codes) {
    let entry = bySystem.get(coding.system);
    if (!entry) {
      entry = { exact: [], prefixes: [] };
      bySystem.set(coding.system, entry);
    }
    // Canonical codes are normalised already; normalising again is free and
    // keeps the compiler right for any CodeSet it is handed.
    const code = normaliseCode(coding.system, coding.code);
    (coding.descendants ? entry.prefixes : entry.exact).push(code);
  }
  return joinOr(
    [...bySystem].map(([system, { exact, prefixes }]) => {
      const tests = prefixes.map((p) => b.dialect.startsWith(`${alias}.code`, b.bind(p, 'text')));
      if (exact.length > 0) tests.unshift(inList(`${alias}.code`, exact, b));
      return `(${alias}.system = ${b.bind(system, 'text')} AND ${joinOr(tests)})`;
    }),
  );
}

function periodPredicates(column: string, period: Period | undefined, b: Binder): string[] {
  const parts: string[] = [];
  if (period?.from !== undefined) parts.push(`${column} >= ${b.bind(period.from, 'date')}`);
  if (period?.to !== undefined) parts.push(`${column} <= ${b.bind(period.to, 'date')}`);
  return parts;
}

/**
 * Whole-year age bounds as a test of `age`, the difference of two dateKeys
 * (dialect.ts); min defaults to 0, so a date before birth never matches.
 */
function ageKeyPredicates(age: string, range: AgeRange, b: Binder): string[] {
  const parts = [`${age} >= ${b.bind((range.min ?? 0) * 10000, 'integer')}`];
  if (range.max !== undefined) {
    parts.push(`${age} < ${b.bind((range.max + 1) * 10000, 'integer')}`);
  }
  return parts;
}

/** The latest birth date of `alias`'s patients at least `years` old on their death date. */
function deathBound(alias: string, years: number, b: Binder): string {
  return b.dialect.yearsBefore(`${alias}.deceased_date`, b.bind(years, 'integer'));
}

/**
 * An age range on asOf over patients `p`, two-valued. Birth-date bounds
 * (age.ts) decide for the living and those who died on or after asOf; for
 * those who died before it, the same bounds taken from the death date.
 * Dying never adds years, so the asOf bound of `min` holds for everyone and
 * stays a plain comparison the scan can apply first.
 */
function ageOnAsOfPredicates(range: AgeRange, asOf: string, b: Binder): string[] {
  const min = range.min ?? 0;
  const parts = [
    'p.birth_date IS NOT NULL',
    `p.birth_date <= ${b.bind(latestBirthDateForAge(asOf, min), 'date')}`,
  ];
  const died = [`p.birth_date <= ${deathBound('p', min, b)}`];
  let living = 'TRUE';
  if (range.max !== undefined) {
    died.push(`p.birth_date > ${deathBound('p', range.max + 1, b)}`);
    living = `p.birth_date > ${b.bind(latestBirthDateForAge(asOf, range.max + 1), 'date')}`;
  }
  parts.push(
    `CASE WHEN p.deceased_date < ${b.bind(asOf, 'date')} THEN ${joinAnd(died)} ELSE ${living} END`,
  );
  return parts;
}

function patientPredicate(c: PatientCriterion, asOf: string, b: Binder): string {
  const parts: string[] = [];
  if (c.gender) parts.push(inList('p.gender', c.gender, b));
  if (c.age) parts.push(...ageOnAsOfPredicates(c.age, asOf, b));
  if (c.birthDate) {
    parts.push('p.birth_date IS NOT NULL', ...periodPredicates('p.birth_date', c.birthDate, b));
  }
  if (c.deceased !== undefined) parts.push(`p.deceased = ${b.bind(c.deceased, 'boolean')}`);
  return joinAnd(parts);
}

/** Groups stored units into SQL branches: `unit = u [AND the codings that need it]`. */
interface UnitBranch<T> {
  readonly unit: string;
  readonly result: T;
  readonly codings: StoredUnit[];
  restrictCodes: boolean;
}

/**
 * Converts something (bounds or a linear map) per stored (system, code, unit)
 * and groups equal results per unit. A branch names its codings only when the
 * same unit converts differently (or not at all) for another coding, which
 * happens only when molar masses or clinical conversions (units.ts) differ
 * between the codes.
 */
function unitBranches<T>(
  stored: readonly StoredUnit[],
  convert: (s: StoredUnit) => T | undefined,
): UnitBranch<T>[] {
  const branches = new Map<string, UnitBranch<T>>();
  const perUnit = new Map<string, number>();
  const unconverted = new Set<string>();
  for (const s of stored) {
    const result = convert(s);
    if (result === undefined) {
      unconverted.add(s.unit);
      continue;
    }
    const key = canonicalJson([s.unit, result]);
    let branch = branches.get(key);
    if (!branch) {
      branch = { unit: s.unit, result, codings: [], restrictCodes: false };
      branches.set(key, branch);
      perUnit.set(s.unit, (perUnit.get(s.unit) ?? 0) + 1);
    }
    branch.codings.push(s);
  }
  for (const branch of branches.values()) {
    branch.restrictCodes = unconverted.has(branch.unit) || (perUnit.get(branch.unit) ?? 0) > 1;
  }
  return [...branches.values()];
}

function unitBranchCondition<T>(alias: string, branch: UnitBranch<T>, b: Binder): string {
  const parts = [`${alias}.unit = ${b.bind(branch.unit, 'text')}`];
  if (branch.restrictCodes) {
    const bySystem = new Map<string, string[]>();
    for (const c of branch.codings)
      bySystem.set(c.system, [...(bySystem.get(c.system) ?? []), c.code]);
    parts.push(
      joinOr(
        [...bySystem].map(
          ([system, codes]) =>
            `(${alias}.system = ${b.bind(system, 'text')} AND ${inList(`${alias}.code`, codes, b)})`,
        ),
      ),
    );
  }
  return joinAnd(parts);
}

/** A value range: the bounds converted into each stored unit of the codes. */
function valuePredicate(
  alias: string,
  codes: CodeSet,
  range: ValueRange,
  storedUnits: StoredUnits,
  b: Binder,
): string {
  const convertBound = (bound: number | undefined, s: StoredUnit) =>
    bound === undefined
      ? null
      : (convertObservedValue(bound, range.unit, s.unit, s.system, s.code) ?? undefined);
  const branches = unitBranches(storedUnits.get(codeSetKey(codes)) ?? [], (s) => {
    const min = convertBound(range.min, s);
    const max = convertBound(range.max, s);
    return min === undefined || max === undefined ? undefined : { min, max };
  });
  return joinOr(
    branches.map((branch) => {
      const parts = [unitBranchCondition(alias, branch, b)];
      const { min, max } = branch.result;
      if (min !== null) parts.push(`${alias}.value >= ${b.bind(min, 'double')}`);
      if (max !== null) parts.push(`${alias}.value <= ${b.bind(max, 'double')}`);
      return joinAnd(parts);
    }),
  );
}

/**
 * Observation rows of `alias` whose own coded value is in the set: the value
 * of the same component (or of the Observation itself) as the row's code.
 */
function valueCodePredicate(alias: string, valueCodes: CodeSet, b: Binder): string {
  return (
    `EXISTS (SELECT 1 FROM observation_value_codes v WHERE v.resource_id = ${alias}.resource_id ` +
    `AND v.component = ${alias}.component AND ${codeSetPredicate('v', valueCodes, b)})`
  );
}

interface CompileContext {
  readonly b: Binder;
  readonly asOf: string;
  readonly storedUnits: StoredUnits;
}

/** True when a criterion asks for its codes alone, which the kind's code index answers. */
function codesAlone(c: EventCriterion | ObservationCriterion | MedicationCriterion): boolean {
  return (
    c.period === undefined &&
    !('resourceTypes' in c && c.resourceTypes) &&
    !('value' in c && c.value) &&
    !('valueCode' in c && c.valueCode) &&
    c.ageAtEvent === undefined &&
    (c.atLeast ?? 1) <= 1
  );
}

/** The patient ids with at least `atLeast` distinct matching resources of the kind. */
function eventSubquery(
  kind: EventKind,
  c: EventCriterion | ObservationCriterion | MedicationCriterion,
  ctx: CompileContext,
): string {
  const { b } = ctx;
  if (codesAlone(c)) {
    return `SELECT e.patient_key FROM ${CODE_PATIENT_TABLES[kind]} e WHERE ${codeSetPredicate('e', c.code, b)}`;
  }
  const where = [
    codeSetPredicate('e', c.code, b),
    ...periodPredicates('e.event_date', c.period, b),
  ];
  if ('value' in c && c.value) {
    where.push(valuePredicate('e', c.code, c.value, ctx.storedUnits, b));
  }
  if ('valueCode' in c && c.valueCode) where.push(valueCodePredicate('e', c.valueCode, b));
  if ('resourceTypes' in c && c.resourceTypes) {
    // Medication rows carry their resource type in resource_id (store/layout.ts).
    where.push(
      joinOr(
        c.resourceTypes.map((t) => b.dialect.startsWith('e.resource_id', b.bind(`${t}/`, 'text'))),
      ),
    );
  }
  let from = `${EVENT_TABLES[kind]} e`;
  if (c.ageAtEvent) {
    // The age on the event date, or on the death date when that came first.
    from += ' JOIN patients b ON b.patient_key = e.patient_key';
    const key = (date: string) => b.dialect.dateKey(date);
    const born = key('b.birth_date');
    const age =
      `CASE WHEN b.deceased_date < e.event_date THEN (${key('b.deceased_date')} - ${born}) ` +
      `ELSE (${key('e.event_date')} - ${born}) END`;
    where.push(...ageKeyPredicates(`(${age})`, c.ageAtEvent, b));
  }
  const atLeast = c.atLeast ?? 1;
  const select = `SELECT e.patient_key FROM ${from} WHERE ${where.join(' AND ')}`;
  return atLeast <= 1
    ? select
    : `${select} GROUP BY e.patient_key HAVING count(DISTINCT e.resource_id) >= ${b.bind(atLeast, 'bigint')}`;
}

/**
 * A cohort of one criterion on codes alone, counted by the total only, read
 * from the kind's code index without touching the patients: the index holds
 * each patient once per code, with its record key, and only patients of the
 * store. The common feasibility question ("how many have code X"), answered
 * without joining a table of every patient. Undefined for any other cohort.
 */
function codeIndexCohort(expr: Expr, ctx: CompileContext): string | undefined {
  const node = exprNode(expr);
  if (node.op !== 'event' || !codesAlone(node.criterion)) return undefined;
  const { code } = node.criterion;
  // Several codings, or a prefix, can match one patient on several rows.
  const once = code.length === 1 && code[0].descendants !== true;
  return (
    `SELECT ${once ? '' : 'DISTINCT '}e.patient_key, e.record_key FROM ${CODE_PATIENT_TABLES[node.kind]} e ` +
    `WHERE ${codeSetPredicate('e', code, ctx.b)}`
  );
}

/** A two-valued predicate over patients `p`. */
function cohortPredicate(expr: Expr, ctx: CompileContext): string {
  const node = exprNode(expr);
  switch (node.op) {
    case 'all':
      return joinAnd(node.children.map((child) => cohortPredicate(child, ctx)));
    case 'any':
      return joinOr(node.children.map((child) => cohortPredicate(child, ctx)));
    case 'not':
      return `(NOT ${cohortPredicate(node.child, ctx)})`;
    case 'patient':
      return patientPredicate(node.criterion, ctx.asOf, ctx.b);
    case 'event':
      return `p.patient_key IN (${eventSubquery(node.kind, node.criterion, ctx)})`;
    case 'consent':
      return `p.patient_key IN (${consentSubquery(node.criterion, ctx)})`;
  }
}

/**
 * The patients with a provision of the criterion's decision and codes in
 * force on asOf (store/layout.ts keeps only provisions of active Consents).
 */
function consentSubquery(c: ConsentCriterion, ctx: CompileContext): string {
  const { b } = ctx;
  const asOf = b.bind(ctx.asOf, 'date');
  return (
    `SELECT c.patient_key FROM consents c WHERE ${codeSetPredicate('c', c.code, b)} ` +
    `AND c.decision = ${b.bind(c.decision ?? 'permit', 'text')} ` +
    `AND (c.period_start IS NULL OR c.period_start <= ${asOf}) ` +
    `AND (c.period_end IS NULL OR c.period_end >= ${asOf})`
  );
}

/**
 * (patient_key, k) for a codes dimension: the patients with an event of
 * stratum k's coding, read from the kind's code index (one row per patient
 * and code). The exact codings of one system share a pass, labelled after
 * the code (within a system a code is one stratum); a coding with
 * descendants, or one equal to an earlier coding once normalised, gets a
 * pass of its own, as its rows may belong to other strata as well.
 */
function codeStrataSql(table: string, codes: CodeSet, b: Binder): string {
  const exact = new Map<string, Map<string, number>>();
  const branches: string[] = [];
  codes.forEach((coding, k) => {
    const code = normaliseCode(coding.system, coding.code);
    let bySystem = exact.get(coding.system);
    if (coding.descendants !== true && bySystem?.has(code) !== true) {
      if (bySystem === undefined) exact.set(coding.system, (bySystem = new Map<string, number>()));
      bySystem.set(code, k);
      return;
    }
    branches.push(
      `SELECT DISTINCT e.patient_key, ${k} AS k FROM ${table} e WHERE ${codeSetPredicate('e', [coding], b)}`,
    );
  });
  const perSystem = [...exact].map(([system, byCode]) => {
    const whens = [...byCode].map(([code, k]) => `WHEN ${b.bind(code, 'text')} THEN ${k}`);
    return (
      `SELECT t.patient_key, CASE t.code ${whens.join(' ')} END AS k FROM ` +
      `(SELECT e.patient_key, e.code FROM ${table} e WHERE e.system = ${b.bind(system, 'text')} ` +
      `AND ${inList('e.code', [...byCode.keys()], b)}) t`
    );
  });
  return [...perSystem, ...branches].join(' UNION ALL ');
}

interface Stratification {
  readonly plans: DimensionPlan[];
  /** Label index expressions over cohort row `c` (and `k` for codes). */
  readonly labels: string[];
  /** Per label: whether it can be NULL (a patient in no stratum of the dimension). */
  readonly nullable: boolean[];
  /** CTE body of (patient_key, k) for a codes dimension. */
  readonly codeStrata?: string;
}

function stratification(dimensions: readonly Dimension[], ctx: CompileContext): Stratification {
  const { b, asOf } = ctx;
  const plans: DimensionPlan[] = [];
  const labels: string[] = [];
  const nullable: boolean[] = [];
  let codeStrata: string | undefined;
  for (const dimension of dimensions) {
    const name = dimensionName(dimension);
    if (dimension === 'gender') {
      plans.push({ name, labels: GENDER_LABELS });
      const whens = GENDER_LABELS.map((g, i) => `WHEN ${b.bind(g, 'text')} THEN ${i}`);
      labels.push(`CASE c.gender ${whens.join(' ')} END`);
      nullable.push(true);
    } else if (dimension === 'deceased') {
      plans.push({ name, labels: DECEASED_LABELS });
      labels.push('CASE WHEN c.deceased THEN 0 ELSE 1 END');
      nullable.push(false);
    } else if ('ageBand' in dimension) {
      const edges = dimension.ageBand;
      plans.push({ name, labels: ageBandLabels(edges) });
      // Band i holds ages in [edge_i, edge_i+1): born after the bound of
      // edge_i+1 and on or before that of edge_i; no birth date, no band.
      // Patients who died before asOf: the bounds of their death date.
      const bands = (bound: (age: number) => string) =>
        `CASE WHEN c.birth_date > ${bound(edges[0])} THEN NULL ` +
        edges
          .slice(1)
          .map((edge, i) => `WHEN c.birth_date > ${bound(edge)} THEN ${i} `)
          .join('') +
        `ELSE ${edges.length - 1} END`;
      const onAsOf = bands((age) => b.bind(latestBirthDateForAge(asOf, age), 'date'));
      const atDeath = bands((age) => deathBound('c', age, b));
      labels.push(
        `CASE WHEN c.birth_date IS NULL THEN NULL ` +
          `WHEN c.deceased_date < ${b.bind(asOf, 'date')} THEN ${atDeath} ELSE ${onAsOf} END`,
      );
      nullable.push(true);
    } else {
      const codes = dimension.codes.in;
      plans.push({ name, labels: codes.map((c) => `${c.system}|${c.code}`) });
      codeStrata = codeStrataSql(CODE_PATIENT_TABLES[dimension.codes.of], codes, b);
      labels.push('k.k');
      nullable.push(false);
    }
  }
  return codeStrata === undefined
    ? { plans, labels, nullable }
    : { plans, labels, nullable, codeStrata };
}

interface QuantityMeasure {
  readonly observation: CodeSet;
  readonly unit: string;
  readonly pick?: Pick;
  readonly period?: Period;
}

/** CTEs `<name>_r` (one converted value per resource) and `<name>` (one value per cohort patient). */
function measureValueCtes(name: string, m: QuantityMeasure, ctx: CompileContext): string[] {
  const { b } = ctx;
  const branches = unitBranches(ctx.storedUnits.get(codeSetKey(m.observation)) ?? [], (s) => {
    // value_in_measure_unit = a * value + b; UCUM's and the clinical conversions are affine.
    const offset = convertObservedValue(0, s.unit, m.unit, s.system, s.code);
    const one = convertObservedValue(1, s.unit, m.unit, s.system, s.code);
    return offset === undefined || one === undefined ? undefined : { scale: one - offset, offset };
  });
  const converted =
    branches.length === 0
      ? b.dialect.cast('NULL', 'double')
      : `CASE ${branches
          .map(({ result, ...branch }) => {
            let value = 'o.value';
            if (result.scale !== 1) value += ` * ${b.bind(result.scale, 'double')}`;
            if (result.offset !== 0) value += ` + ${b.bind(result.offset, 'double')}`;
            return `WHEN ${unitBranchCondition('o', { ...branch, result }, b)} THEN ${value}`;
          })
          .join(' ')} END`;
  const where = [
    codeSetPredicate('o', m.observation, b),
    'o.event_date IS NOT NULL',
    'o.value IS NOT NULL',
    ...periodPredicates('o.event_date', m.period, b),
    'o.patient_key IN (SELECT patient_key FROM cohort)',
  ];
  // One value per resource: a resource has a row per matching coding, of
  // itself and of its components (one code may appear in several), and as
  // molar masses are per code only some of them may convert; hence max.
  const perResource =
    `${name}_r AS (SELECT o.patient_key, o.resource_id, o.event_date, max(${converted}) AS v ` +
    `FROM observations o WHERE ${where.join(' AND ')} GROUP BY o.patient_key, o.resource_id, o.event_date)`;
  const pick = m.pick ?? 'latest';
  const perPatient =
    pick === 'mean'
      ? `${name} AS (SELECT patient_key, avg(v) AS v FROM ${name}_r WHERE v IS NOT NULL GROUP BY patient_key)`
      : `${name} AS (SELECT patient_key, avg(v) AS v FROM (SELECT patient_key, v, event_date = ` +
        `${pick === 'latest' ? 'max' : 'min'}(event_date) OVER (PARTITION BY patient_key) AS chosen ` +
        `FROM ${name}_r WHERE v IS NOT NULL) t WHERE chosen GROUP BY patient_key)`;
  return [perResource, perPatient];
}

/** Builds an output row; absent columns are typed NULLs so every UNION ALL branch has one shape. */
function outputRow(
  b: Binder,
  columns: Partial<Record<(typeof OUTPUT_COLUMNS)[number], string>>,
): string {
  const types: Record<(typeof OUTPUT_COLUMNS)[number], SqlType> = {
    part: 'integer',
    i0: 'integer',
    i1: 'integer',
    i2: 'integer',
    n: 'bigint',
    ck: 'bigint',
    f0: 'double',
    f1: 'double',
    f2: 'double',
    f3: 'double',
    f4: 'double',
    f5: 'double',
  };
  return OUTPUT_COLUMNS.map(
    (column) => `${b.dialect.cast(columns[column] ?? 'NULL', types[column])} AS ${column}`,
  ).join(', ');
}

function quantityMeasure(
  measure: Measure,
): { type: 'histogram' | 'summary'; spec: QuantityMeasure } | undefined {
  if ('histogram' in measure) return { type: 'histogram', spec: measure.histogram };
  if ('summary' in measure) return { type: 'summary', spec: measure.summary };
  return undefined;
}

/** Every observation CodeSet whose stored units the query needs. */
export function quantityCodeSets(query: CanonicalQuery): CodeSet[] {
  const sets = new Map<string, CodeSet>();
  const add = (codes: CodeSet) => sets.set(codeSetKey(codes), codes);
  const stack: Expr[] = [query.cohort];
  while (stack.length > 0) {
    const node = exprNode(stack.pop()!);
    if (node.op === 'all' || node.op === 'any') stack.push(...node.children);
    else if (node.op === 'not') stack.push(node.child);
    else if (node.op === 'event' && node.kind === 'observation' && node.criterion.value) {
      add(node.criterion.code);
    }
  }
  for (const measure of query.measures) {
    const q = quantityMeasure(measure);
    if (q) add(q.spec.observation);
  }
  return [...sets.values()];
}

/**
 * The statement listing the distinct (system, code, unit) stored with a
 * value for each quantity CodeSet of the query (column `k` is the set's
 * index in `codeSets`), or undefined when the query compares no quantities.
 * @example compileUnitProbe(query, duckDbDialect)?.sql
 */
export function compileUnitProbe(
  query: CanonicalQuery,
  dialect: Dialect,
): (CompiledSql & { readonly codeSets: readonly CodeSet[] }) | undefined {
  return compileUnitProbeFor(quantityCodeSets(query), dialect);
}

/**
 * The unit probe for the given observation code sets (see compileUnitProbe),
 * or undefined when there are none.
 * @example compileUnitProbeFor([[{ system: 'http://loinc.org', code: '4548-4' }]], duckDbDialect)
 */
export function compileUnitProbeFor(
  codeSets: readonly CodeSet[],
  dialect: Dialect,
): (CompiledSql & { readonly codeSets: readonly CodeSet[] }) | undefined {
  if (codeSets.length === 0) return undefined;
  const b = createBinder(dialect);
  const sql = codeSets
    .map(
      (codes, i) =>
        `SELECT ${i} AS k, o.system, o.code, o.unit FROM observations o WHERE ${codeSetPredicate('o', codes, b)} ` +
        `AND o.value IS NOT NULL AND o.unit IS NOT NULL GROUP BY o.system, o.code, o.unit`,
    )
    .join(' UNION ALL ');
  return { sql: `${sql} ORDER BY k, system, code, unit`, params: b.values, codeSets };
}

/** Reads the unit probe's rows into StoredUnits. */
export function readStoredUnits(
  codeSets: readonly CodeSet[],
  rows: readonly Record<string, unknown>[],
): StoredUnits {
  const units = new Map<string, StoredUnit[]>(codeSets.map((c) => [codeSetKey(c), []]));
  for (const row of rows) {
    const codes = codeSets[Number(row.k)];
    const { system, code, unit } = row;
    if (
      !codes ||
      typeof system !== 'string' ||
      typeof code !== 'string' ||
      typeof unit !== 'string'
    ) {
      throw new TypeError(
        `unexpected unit probe row ${JSON.stringify(row, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`,
      );
    }
    units.get(codeSetKey(codes))!.push({ system, code, unit });
  }
  return units;
}

/**
 * Compiles a canonical query (asOf pinned) into one statement and the plan
 * that decodes its rows.
 * @example compileQuery(canonicalQuery({ ...q, asOf: '2026-01-01' }) as EvaluableQuery, { dialect: duckDbDialect })
 */
export function compileQuery(query: SourceQuery, options: CompileOptions): CompiledQuery {
  const b = createBinder(options.dialect);
  const ctx: CompileContext = {
    b,
    asOf: query.asOf,
    storedUnits: options.storedUnits ?? new Map(),
  };
  // The cohort is computed once however often the statement reads it; read
  // only by the total, it is left to the planner, which then aggregates it
  // as it is produced instead of storing it first.
  const readOnce = query.stratify.length === 0 && query.measures.every((m) => !quantityMeasure(m));
  const indexOnly = readOnce ? codeIndexCohort(query.cohort, ctx) : undefined;
  // Age bands read the death date; nothing else after the cohort does.
  const deathDate = query.stratify.some((d) => typeof d === 'object' && 'ageBand' in d)
    ? ' p.deceased_date,'
    : '';
  const ctes = [
    indexOnly !== undefined
      ? `cohort AS (${indexOnly})`
      : `cohort ${readOnce ? 'AS' : options.dialect.materializedCte} (SELECT p.patient_key, p.gender, p.birth_date,${deathDate} p.deceased, p.record_key ` +
        `FROM patients p WHERE ${cohortPredicate(query.cohort, ctx)})`,
  ];
  const selects = [
    `SELECT ${outputRow(b, { part: String(PART_TOTAL), n: 'count(*)', ck: b.dialect.cellKey('c.record_key') })} FROM cohort c`,
  ];

  const strata = stratification(query.stratify, ctx);
  if (strata.plans.length > 0) {
    if (strata.codeStrata !== undefined) ctes.push(`code_strata AS (${strata.codeStrata})`);
    const dims = strata.labels.map((_, i) => `d${i}`);
    // Only labels that can be NULL need the filter: pushed down, it is
    // evaluated per scanned row, however selective the rest of the query.
    const where = dims.filter((_, i) => strata.nullable[i]).map((d) => `${d} IS NOT NULL`);
    ctes.push(
      `labelled AS (SELECT c.record_key, ${strata.labels.map((l, i) => `${l} AS d${i}`).join(', ')} FROM cohort c` +
        `${strata.codeStrata === undefined ? '' : ' JOIN code_strata k ON k.patient_key = c.patient_key'})`,
    );
    selects.push(
      `SELECT ${outputRow(b, {
        part: String(PART_STRATA),
        ...Object.fromEntries(dims.map((d, i) => [`i${i}`, d])),
        n: 'count(*)',
        ck: b.dialect.cellKey('record_key'),
      })} FROM labelled${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY ${dims.join(', ')}`,
    );
  }

  const measures = query.measures.map((measure, index): MeasurePlan => {
    const q = quantityMeasure(measure);
    if (!q) return { type: 'count' };
    const part = FIRST_MEASURE_PART + index;
    const name = `m${index}`;
    ctes.push(...measureValueCtes(name, q.spec, ctx));
    if (q.type === 'histogram' && 'histogram' in measure) {
      const edges = measure.histogram.edges;
      const bins = edges
        .map((edge, i) => `WHEN v.v >= ${b.bind(edge, 'double')} THEN ${i}`)
        .reverse()
        .join(' ');
      selects.push(
        `SELECT ${outputRow(b, { part: String(part), i0: 'bin', n: 'count(*)', ck: b.dialect.cellKey('record_key') })} ` +
          `FROM (SELECT c.record_key, CASE ${bins} END AS bin FROM cohort c LEFT JOIN ${name} v ON v.patient_key = c.patient_key) h GROUP BY bin`,
      );
      return { type: 'histogram', part, unit: q.spec.unit, edges };
    }
    // Each patient's value clamped to the policy's bounds before summing.
    const bounds = summaryBoundsAt(query, index);
    const clamped =
      bounds === undefined
        ? undefined
        : `LEAST(GREATEST(v.v, ${b.bind(bounds.min, 'double')}), ${b.bind(bounds.max, 'double')})`;
    selects.push(
      `SELECT ${outputRow(b, {
        part: String(part),
        n: 'count(*)',
        ck: b.dialect.cellKey('c.record_key'),
        f0: 'avg(v.v)',
        f1: b.dialect.stddevSample('v.v'),
        f2: 'COALESCE(sum(abs(v.v)), 0)',
        f3: 'COALESCE(max(abs(v.v)), 0)',
        ...(clamped === undefined
          ? {}
          : {
              f4: `COALESCE(sum(${clamped}), 0)`,
              f5: `COALESCE(sum(${clamped} * ${clamped}), 0)`,
            }),
      })} FROM ${name} v JOIN cohort c ON c.patient_key = v.patient_key`,
    );
    return { type: 'summary', part, unit: q.spec.unit };
  });

  return {
    sql: `WITH ${ctes.join(',\n')}\n${selects.join('\nUNION ALL\n')}`,
    params: b.values,
    plan: {
      dimensions: strata.plans,
      overlapping: strata.plans.some((d) => d.name === 'codes'),
      measures,
    },
  };
}
