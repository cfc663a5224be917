// The query semantics applied in the node to what the FHIR server returned:
// criteria as sets of patient ids, `all`/`any`/`not` as set algebra (`not`
// is the complement within every Patient the server holds), then strata and
// measures over the cohort. Pure: patients and events in, RawResult out.
//
// The semantics the query-language page leaves open follow the engine's
// (engine/compile.ts), so the live source and the embedded store agree:
// whole-year ages with no age before birth or without a birth date, and no
// ageing after a known death date; events without a date fail any period or
// ageAtEvent and are never measure values; `latest`/`earliest` take the mean
// of the values on the latest/earliest date; a histogram value below the
// first edge counts as missing; summaries' clamped sums clamp each patient's
// value to the measure's bounds; an Observation's components are
// observations of their own code and value (store/layout.ts).
import { canonicalJson, exprNode, normaliseCode } from '@tessera/schemas';
import type {
  AgeRange,
  CodeSet,
  ConsentCriterion,
  Dimension,
  EvaluableQuery,
  EventCriterion,
  EventKind,
  Expr,
  MedicationCriterion,
  ObservationCriterion,
  PatientCriterion,
  Period,
  Pick,
  StratumKey,
} from '@tessera/schemas';
import { ageBandLabels } from '../engine/age.ts';
import { summaryBoundsAt } from '../engine/bounds.ts';
import type { SourceQuery } from '../engine/bounds.ts';
import type { RawCell, RawMeasure, RawResult, RawStratum } from '../engine/raw-result.ts';
import { convertObservedValue } from '../engine/units.ts';
import { cellKeyOf } from '../store/record-key.ts';

export type Gender = 'female' | 'male' | 'other' | 'unknown';

export interface LivePatient {
  readonly id: string;
  readonly gender: Gender;
  /** `YYYY-MM-DD` or null. */
  readonly birthDate: string | null;
  readonly deceased: boolean;
  /** The date of deceasedDateTime (`YYYY-MM-DD`), or null: ages stop at it. */
  readonly deceasedDate: string | null;
  readonly recordKey: number;
}

export interface LiveCoding {
  readonly system: string;
  /** Normalised (ICD-10 without dots). */
  readonly code: string;
}

/** What an event, or one of an Observation's components, says: codes and value. */
export interface LivePart {
  readonly codings: readonly LiveCoding[];
  readonly value: number | null;
  readonly unit: string | null;
  readonly valueCodings: readonly LiveCoding[];
}

/** One event resource of a known patient, read the way ingest reads it. */
export interface LiveEvent extends LivePart {
  /** `ResourceType/id`: distinct resources are counted by it. */
  readonly key: string;
  readonly patientId: string;
  readonly date: string | null;
  /** An Observation's components, each matched as an observation of its own code. */
  readonly components?: readonly LivePart[];
}

export type { EvaluableQuery, SourceQuery };
export type Criterion = EventCriterion | ObservationCriterion | MedicationCriterion;

/** The key one criterion's events are fetched and cached under. */
export function criterionKey(kind: EventKind, criterion: object): string {
  return `${kind}:${canonicalJson(criterion)}`;
}

/**
 * Whole years from `birth` to `on` (ISO dates); undefined before birth.
 * @example wholeYears('2000-02-29', '2001-02-28') // 0
 */
export function wholeYears(birth: string, on: string): number | undefined {
  if (on < birth) return undefined;
  const key = (d: string): number => Number(d.slice(0, 4) + d.slice(5, 7) + d.slice(8, 10));
  return Math.floor((key(on) - key(birth)) / 10_000);
}

function inRange(n: number | undefined, range: AgeRange): boolean {
  return (
    n !== undefined &&
    (range.min === undefined || n >= range.min) &&
    (range.max === undefined || n <= range.max)
  );
}

function inPeriod(date: string | null, period: Period | undefined): boolean {
  if (period === undefined) return true;
  if (date === null) return false;
  return (
    (period.from === undefined || date >= period.from) &&
    (period.to === undefined || date <= period.to)
  );
}

/** The age on `on`, or on the death date when the patient died before. */
function ageOf(patient: LivePatient, on: string | null): number | undefined {
  if (patient.birthDate === null || on === null) return undefined;
  const died = patient.deceasedDate;
  return wholeYears(patient.birthDate, died !== null && died < on ? died : on);
}

/** True when the coding is in the CodeSet (`descendants` as a prefix). */
export function codingIn(coding: LiveCoding, codes: CodeSet): boolean {
  return codes.some((c) => {
    if (c.system !== coding.system) return false;
    const wanted = normaliseCode(c.system, c.code);
    return c.descendants === true ? coding.code.startsWith(wanted) : coding.code === wanted;
  });
}

/** The event itself and, for an Observation, each of its components. */
function partsOf(event: LiveEvent): readonly LivePart[] {
  return event.components === undefined ? [event] : [event, ...event.components];
}

/** The part's value in `unit`, once per matching coding (conversions differ by code). */
function partValuesIn(part: LivePart, codes: CodeSet, unit: string): number[] {
  if (part.value === null || part.unit === null) return [];
  const out: number[] = [];
  for (const coding of part.codings) {
    if (!codingIn(coding, codes)) continue;
    const v = convertObservedValue(part.value, part.unit, unit, coding.system, coding.code);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** The event's values in `unit`: of every part whose code is in the set. */
function valuesIn(event: LiveEvent, codes: CodeSet, unit: string): number[] {
  return partsOf(event).flatMap((part) => partValuesIn(part, codes, unit));
}

/** True when the part's code is in the set and it meets the criterion's value and valueCode. */
function partMatches(part: LivePart, criterion: Criterion): boolean {
  if (!part.codings.some((coding) => codingIn(coding, criterion.code))) return false;
  if ('value' in criterion && criterion.value !== undefined) {
    const { min, max, unit } = criterion.value;
    const ok = partValuesIn(part, criterion.code, unit).some(
      (v) => (min === undefined || v >= min) && (max === undefined || v <= max),
    );
    if (!ok) return false;
  }
  if ('valueCode' in criterion && criterion.valueCode !== undefined) {
    const valueCode = criterion.valueCode;
    if (!part.valueCodings.some((coding) => codingIn(coding, valueCode))) return false;
  }
  return true;
}

/**
 * True when the event meets every part of the criterion but `atLeast`: code,
 * value and valueCode on the event itself or on one of its components.
 */
export function eventMatches(
  event: LiveEvent,
  criterion: Criterion,
  patient: LivePatient,
): boolean {
  if (!partsOf(event).some((part) => partMatches(part, criterion))) return false;
  if (!inPeriod(event.date, criterion.period)) return false;
  // A medication event's key starts with its resource type.
  if (
    'resourceTypes' in criterion &&
    criterion.resourceTypes !== undefined &&
    !criterion.resourceTypes.some((type) => event.key.startsWith(`${type}/`))
  ) {
    return false;
  }
  if (
    criterion.ageAtEvent !== undefined &&
    !inRange(ageOf(patient, event.date), criterion.ageAtEvent)
  ) {
    return false;
  }
  return true;
}

/** Patients with at least `atLeast` distinct matching resources. */
export function patientsMatching(
  events: Iterable<LiveEvent>,
  criterion: Criterion,
  patients: ReadonlyMap<string, LivePatient>,
): Set<string> {
  const resources = new Map<string, Set<string>>();
  for (const event of events) {
    const patient = patients.get(event.patientId);
    if (patient === undefined || !eventMatches(event, criterion, patient)) continue;
    let seen = resources.get(event.patientId);
    if (seen === undefined) resources.set(event.patientId, (seen = new Set()));
    seen.add(event.key);
  }
  const atLeast = criterion.atLeast ?? 1;
  const out = new Set<string>();
  for (const [id, seen] of resources) if (seen.size >= atLeast) out.add(id);
  return out;
}

/** True when the patient meets every key of the criterion. */
export function patientMatches(p: LivePatient, c: PatientCriterion, asOf: string): boolean {
  if (c.gender !== undefined && !c.gender.includes(p.gender)) return false;
  if (c.age !== undefined && !inRange(ageOf(p, asOf), c.age)) return false;
  if (c.birthDate !== undefined && (p.birthDate === null || !inPeriod(p.birthDate, c.birthDate))) {
    return false;
  }
  if (c.deceased !== undefined && p.deceased !== c.deceased) return false;
  return true;
}

/** Every event criterion of an Expr, once per criterionKey. */
export function eventCriteria(
  expr: Expr,
): Map<string, { readonly kind: EventKind; readonly criterion: Criterion }> {
  const out = new Map<string, { kind: EventKind; criterion: Criterion }>();
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const node = exprNode(stack.pop()!);
    switch (node.op) {
      case 'all':
      case 'any':
        stack.push(...node.children);
        break;
      case 'not':
        stack.push(node.child);
        break;
      case 'patient':
      case 'consent':
        break;
      case 'event':
        out.set(criterionKey(node.kind, node.criterion), {
          kind: node.kind,
          criterion: node.criterion,
        });
    }
  }
  return out;
}

/**
 * The cohort of an Expr; `events(kind, criterion)` gives the patients that
 * meet one event criterion.
 */
export function evaluateExpr(
  expr: Expr,
  patients: ReadonlyMap<string, LivePatient>,
  asOf: string,
  events: (kind: EventKind, criterion: Criterion) => ReadonlySet<string>,
  consents: (criterion: ConsentCriterion) => ReadonlySet<string>,
): Set<string> {
  const node = exprNode(expr);
  const inner = (child: Expr) => evaluateExpr(child, patients, asOf, events, consents);
  switch (node.op) {
    case 'all': {
      const [first, ...rest] = node.children.map(inner);
      const out = new Set(first);
      for (const id of out) if (!rest.every((s) => s.has(id))) out.delete(id);
      return out;
    }
    case 'any': {
      const out = new Set<string>();
      for (const child of node.children) {
        for (const id of inner(child)) out.add(id);
      }
      return out;
    }
    case 'not': {
      const excluded = inner(node.child);
      return new Set([...patients.keys()].filter((id) => !excluded.has(id)));
    }
    case 'patient':
      return new Set(
        [...patients.values()]
          .filter((p) => patientMatches(p, node.criterion, asOf))
          .map((p) => p.id),
      );
    case 'event':
      return new Set(events(node.kind, node.criterion));
    case 'consent':
      return new Set(consents(node.criterion));
  }
}

/** One value per patient for a histogram or summary, when there is one. */
export function measureValues(
  events: Iterable<LiveEvent>,
  m: {
    readonly observation: CodeSet;
    readonly unit: string;
    readonly pick?: Pick;
    readonly period?: Period;
  },
): Map<string, number> {
  const byPatient = new Map<string, [string, number][]>();
  for (const e of events) {
    if (e.date === null || !inPeriod(e.date, m.period)) continue;
    const values = valuesIn(e, m.observation, m.unit);
    if (values.length === 0) continue;
    let list = byPatient.get(e.patientId);
    if (list === undefined) byPatient.set(e.patientId, (list = []));
    list.push([e.date, Math.max(...values)]);
  }
  const pick = m.pick ?? 'latest';
  const out = new Map<string, number>();
  for (const [id, dated] of byPatient) {
    let chosen = dated;
    if (pick !== 'mean') {
      const dates = dated.map(([d]) => d).sort();
      const target = pick === 'latest' ? dates[dates.length - 1] : dates[0];
      chosen = dated.filter(([d]) => d === target);
    }
    out.set(id, chosen.reduce((sum, [, v]) => sum + v, 0) / chosen.length);
  }
  return out;
}

/** Events of one stratify or measure need, keyed by its index in the query. */
export interface ResultInputs {
  readonly patients: ReadonlyMap<string, LivePatient>;
  readonly cohort: ReadonlySet<string>;
  /** Condition events of each `codes` dimension, by stratify index. */
  readonly dimensionEvents: ReadonlyMap<number, readonly LiveEvent[]>;
  /** Observation events of each histogram or summary, by measure index. */
  readonly measureEvents: ReadonlyMap<number, readonly LiveEvent[]>;
}

function cellOf(ids: Iterable<string>, patients: ReadonlyMap<string, LivePatient>): RawCell {
  const keys: number[] = [];
  for (const id of ids) keys.push(patients.get(id)!.recordKey);
  return { count: keys.length, cellKey: cellKeyOf(keys) };
}

interface DimensionLabels {
  readonly name: keyof StratumKey;
  readonly labels: readonly string[];
  /** Indexes into `labels` a patient belongs to. */
  readonly of: (p: LivePatient) => number[];
}

function dimensionLabels(
  dimension: Dimension,
  asOf: string,
  events: readonly LiveEvent[],
): DimensionLabels {
  if (dimension === 'gender') {
    const labels = ['female', 'male', 'other', 'unknown'];
    return { name: 'gender', labels, of: (p) => [labels.indexOf(p.gender)] };
  }
  if (dimension === 'deceased') {
    return { name: 'deceased', labels: ['true', 'false'], of: (p) => [p.deceased ? 0 : 1] };
  }
  if ('ageBand' in dimension) {
    const edges = dimension.ageBand;
    return {
      name: 'ageBand',
      labels: ageBandLabels(edges),
      of: (p) => {
        const age = ageOf(p, asOf);
        if (age === undefined) return [];
        for (let i = edges.length - 1; i >= 0; i--) if (age >= edges[i]!) return [i];
        return [];
      },
    };
  }
  const codes = dimension.codes.in;
  const byPatient = new Map<string, Set<number>>();
  for (const e of events) {
    codes.forEach((c, i) => {
      if (!e.codings.some((coding) => codingIn(coding, [c]))) return;
      let set = byPatient.get(e.patientId);
      if (set === undefined) byPatient.set(e.patientId, (set = new Set()));
      set.add(i);
    });
  }
  return {
    name: 'codes',
    labels: codes.map((c) => `${c.system}|${c.code}`),
    of: (p) => [...(byPatient.get(p.id) ?? [])].sort((a, b) => a - b),
  };
}

function strataOf(query: EvaluableQuery, inputs: ResultInputs): RawStratum[] {
  if (query.stratify.length === 0) return [];
  const dims = query.stratify.map((d, i) =>
    dimensionLabels(d, query.asOf, inputs.dimensionEvents.get(i) ?? []),
  );
  const members = new Map<string, string[]>();
  for (const id of inputs.cohort) {
    const patient = inputs.patients.get(id)!;
    let combos: number[][] = [[]];
    for (const d of dims) {
      const own = d.of(patient);
      combos = combos.flatMap((prefix) => own.map((i) => [...prefix, i]));
    }
    for (const combo of combos) {
      const k = combo.join(',');
      let list = members.get(k);
      if (list === undefined) members.set(k, (list = []));
      list.push(id);
    }
  }
  let tuples: number[][] = [[]];
  for (const d of dims) tuples = tuples.flatMap((prefix) => d.labels.map((_, i) => [...prefix, i]));
  return tuples.map((tuple) => {
    const key: Record<string, string> = {};
    tuple.forEach((i, n) => {
      const d = dims[n]!;
      key[d.name] = d.labels[i]!;
    });
    return {
      key,
      cell: cellOf(members.get(tuple.join(',')) ?? [], inputs.patients),
    };
  });
}

function measuresOf(query: SourceQuery, inputs: ResultInputs): RawMeasure[] {
  return query.measures.map((measure, index): RawMeasure => {
    if ('histogram' in measure) {
      const h = measure.histogram;
      const values = measureValues(inputs.measureEvents.get(index) ?? [], h);
      const bins = h.edges.map((): string[] => []);
      const missing: string[] = [];
      for (const id of inputs.cohort) {
        const v = values.get(id);
        let bin = -1;
        if (v !== undefined) h.edges.forEach((edge, i) => (v >= edge ? (bin = i) : undefined));
        if (bin < 0) missing.push(id);
        else bins[bin]!.push(id);
      }
      return {
        type: 'histogram',
        unit: h.unit,
        bins: h.edges.map((from, i) => {
          const to = h.edges[i + 1];
          const cell = cellOf(bins[i]!, inputs.patients);
          return to === undefined ? { from, cell } : { from, to, cell };
        }),
        missing: cellOf(missing, inputs.patients),
      };
    }
    if ('summary' in measure) {
      const s = measure.summary;
      const values = measureValues(inputs.measureEvents.get(index) ?? [], s);
      const withValue: string[] = [];
      const list: number[] = [];
      for (const id of inputs.cohort) {
        const v = values.get(id);
        if (v === undefined) continue;
        withValue.push(id);
        list.push(v);
      }
      const n = list.length;
      const mean = n === 0 ? null : list.reduce((a, v) => a + v, 0) / n;
      const sd =
        n < 2 || mean === null
          ? null
          : Math.sqrt(list.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
      const bounds = summaryBoundsAt(query, index);
      let clampedSum: number | null = null;
      let clampedSumSquares: number | null = null;
      if (bounds !== undefined) {
        clampedSum = 0;
        clampedSumSquares = 0;
        for (const v of list) {
          const c = Math.min(Math.max(v, bounds.min), bounds.max);
          clampedSum += c;
          clampedSumSquares += c * c;
        }
      }
      return {
        type: 'summary',
        unit: s.unit,
        n: cellOf(withValue, inputs.patients),
        mean,
        sd,
        sumAbs: list.reduce((a, v) => a + Math.abs(v), 0),
        maxAbs: list.reduce((a, v) => Math.max(a, Math.abs(v)), 0),
        clampedSum,
        clampedSumSquares,
      };
    }
    return { type: 'count' };
  });
}

/** Total, strata and measures of a cohort; summaries clamped to the query's bounds. */
export function buildResult(query: SourceQuery, inputs: ResultInputs): RawResult {
  // Sorted, so sums of values add up in the same order whatever the server's order.
  const sorted: ResultInputs = { ...inputs, cohort: new Set([...inputs.cohort].sort()) };
  inputs = sorted;
  return {
    total: cellOf(inputs.cohort, inputs.patients),
    strata: strataOf(query, inputs),
    overlapping: query.stratify.some((d) => typeof d === 'object' && 'codes' in d),
    measures: measuresOf(query, inputs),
  };
}
