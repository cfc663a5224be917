// A brute-force evaluator of cohort queries over parsed FHIR resources, in
// plain TypeScript and sets of patient ids. It follows the query-language page
// literally and shares nothing with the SQL compiler but the contract types,
// the unit conversion policy (engine/units.ts: which conversions UCUM allows,
// which codes carry a molar mass, the clinical conversions) and these decisions, which the page leaves
// open and the engine documents in engine/compile.ts:
// - whole-year age on day D: years since birth, less one if the birthday has
//   not come round yet that year (by month and day); undefined before birth;
//   no birth date, no age (so no age criterion, ageAtEvent or ageBand);
// - a dead patient stops ageing: the age on day D is the age on the date of
//   deceasedDateTime when that comes before D; known dead without a date,
//   the patient ages on;
// - an Observation's components are observations of their own code and
//   value on the Observation's date: code, value and valueCode hold for one
//   component (or the Observation itself); atLeast counts resources;
// - events without a date fail any period or ageAtEvent, and are never
//   histogram or summary values;
// - `latest`/`earliest`: the mean of the values on the latest/earliest date;
// - a histogram value below the first edge is in no bin and counts as missing;
// - a summary's clamped sums clamp each patient's value to the measure's
//   bounds, when the query gives it bounds.
import {
  canonicalJson,
  exprNode,
  isIcd10,
  type AgeRange,
  type CodeSet,
  type Dimension,
  type EventCriterion,
  type EventKind,
  type Expr,
  type Measure,
  type MedicationCriterion,
  type ObservationCriterion,
  type PatientCriterion,
  type Period,
  type Pick,
  type StratumKey,
} from '@tessera/schemas';
import { convertObservedValue } from '../../src/engine/units.ts';
import type { SourceQuery } from '../../src/engine/bounds.ts';
import {
  canonicalSystem,
  readFhir,
  type FhirResource,
  type OracleCoding,
  type OracleData,
  type OracleEvent,
  type OraclePart,
  type OraclePatient,
} from './read-fhir.ts';

export interface OracleCell {
  readonly count: number;
  /** Sum of the members' record keys mod 2^32, when a recordKey function was given. */
  readonly cellKey?: number;
}

export type OracleMeasure =
  | { readonly type: 'count' }
  | {
      readonly type: 'histogram';
      readonly unit: string;
      readonly bins: readonly {
        readonly from: number;
        readonly to?: number;
        readonly cell: OracleCell;
      }[];
      readonly missing: OracleCell;
    }
  | {
      readonly type: 'summary';
      readonly unit: string;
      readonly n: OracleCell;
      readonly mean: number | null;
      readonly sd: number | null;
      readonly sumAbs: number;
      readonly maxAbs: number;
      readonly clampedSum: number | null;
      readonly clampedSumSquares: number | null;
    };

export interface OracleResult {
  readonly total: OracleCell;
  readonly strata: readonly { readonly key: StratumKey; readonly cell: OracleCell }[];
  readonly overlapping: boolean;
  readonly measures: readonly OracleMeasure[];
}

export interface OracleOptions {
  /** The record key of a patient id; without it cells carry no cellKey. */
  readonly recordKey?: (patientId: string) => number;
}

/** Whole years from `birth` to `on` (ISO dates), undefined before birth. */
export function wholeYears(birth: string, on: string): number | undefined {
  if (on < birth) return undefined;
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [y, m, d] = on.split('-').map(Number) as [number, number, number];
  const birthdayPassed = m > bm || (m === bm && d >= bd);
  return y - by - (birthdayPassed ? 0 : 1);
}

function inAgeRange(age: number | undefined, range: AgeRange): boolean {
  return (
    age !== undefined &&
    (range.min === undefined || age >= range.min) &&
    (range.max === undefined || age <= range.max)
  );
}

function inPeriod(date: string | undefined, period: Period | undefined): boolean {
  if (period === undefined) return true;
  if (date === undefined) return false;
  return (
    (period.from === undefined || date >= period.from) &&
    (period.to === undefined || date <= period.to)
  );
}

function codingInSet(coding: OracleCoding, codes: CodeSet): boolean {
  return codes.some((c) => {
    const system = canonicalSystem(c.system);
    if (system !== coding.system) return false;
    const wanted = isIcd10(system) ? c.code.replaceAll('.', '') : c.code;
    return c.descendants === true ? coding.code.startsWith(wanted) : coding.code === wanted;
  });
}

/** The event itself and, for an Observation, each of its components. */
function partsOf(event: OracleEvent): OraclePart[] {
  return [event, ...event.components];
}

/** The part's value in `unit`, per matching coding (conversions differ by code). */
function partValuesIn(part: OraclePart, codes: CodeSet, unit: string): number[] {
  const q = part.quantity;
  if (q === undefined || q.unit === undefined) return [];
  const out: number[] = [];
  for (const coding of part.codings) {
    if (!codingInSet(coding, codes)) continue;
    const v = convertObservedValue(q.value, q.unit, unit, coding.system, coding.code);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** The observation's values in `unit`: of every part whose code is in the set. */
function valuesIn(event: OracleEvent, codes: CodeSet, unit: string): number[] {
  return partsOf(event).flatMap((part) => partValuesIn(part, codes, unit));
}

/** True when one part has a code in the set and meets the criterion's value and valueCode. */
function partMatches(part: OraclePart, c: EventCriterion | ObservationCriterion): boolean {
  if (!part.codings.some((coding) => codingInSet(coding, c.code))) return false;
  if ('value' in c && c.value) {
    const { min, max, unit } = c.value;
    const ok = partValuesIn(part, c.code, unit).some(
      (v) => (min === undefined || v >= min) && (max === undefined || v <= max),
    );
    if (!ok) return false;
  }
  if ('valueCode' in c && c.valueCode) {
    const valueCode = c.valueCode;
    if (!part.valueCodings.some((coding) => codingInSet(coding, valueCode))) return false;
  }
  return true;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

class Evaluation {
  readonly #data: OracleData;
  readonly #asOf: string;
  readonly #eventsByKind = new Map<EventKind, OracleEvent[]>();
  readonly #eventsByPatient = new Map<string, OracleEvent[]>();

  constructor(data: OracleData, asOf: string) {
    this.#data = data;
    this.#asOf = asOf;
    for (const e of data.events) {
      push(this.#eventsByKind, e.kind, e);
      push(this.#eventsByPatient, e.patientId, e);
    }
  }

  eventsOf(patientId: string, kind: EventKind): OracleEvent[] {
    return (this.#eventsByPatient.get(patientId) ?? []).filter((e) => e.kind === kind);
  }

  /** The age on `on`, or on the death date when the patient died before. */
  ageAt(patient: OraclePatient, on: string | undefined): number | undefined {
    if (patient.birthDate === undefined || on === undefined) return undefined;
    const died = patient.deceasedDate;
    return wholeYears(patient.birthDate, died !== undefined && died < on ? died : on);
  }

  cohort(expr: Expr): Set<string> {
    const node = exprNode(expr);
    const all = [...this.#data.patients.keys()];
    switch (node.op) {
      case 'all': {
        const sets = node.children.map((c) => this.cohort(c));
        return new Set(all.filter((id) => sets.every((s) => s.has(id))));
      }
      case 'any': {
        const sets = node.children.map((c) => this.cohort(c));
        return new Set(all.filter((id) => sets.some((s) => s.has(id))));
      }
      case 'not': {
        const inner = this.cohort(node.child);
        return new Set(all.filter((id) => !inner.has(id)));
      }
      case 'patient':
        return new Set(
          [...this.#data.patients.values()]
            .filter((p) => this.patientMatches(p, node.criterion))
            .map((p) => p.id),
        );
      case 'event':
        return this.eventCohort(node.kind, node.criterion);
      case 'consent': {
        const decision = node.criterion.decision ?? 'permit';
        const asOf = this.#asOf;
        const code = node.criterion.code;
        return new Set(
          this.#data.provisions
            .filter(
              (p) =>
                p.decision === decision &&
                (p.start === undefined || p.start <= asOf) &&
                (p.end === undefined || p.end >= asOf) &&
                p.codings.some((coding) => codingInSet(coding, code)),
            )
            .map((p) => p.patientId),
        );
      }
    }
  }

  patientMatches(p: OraclePatient, c: PatientCriterion): boolean {
    if (c.gender && !c.gender.includes(p.gender)) return false;
    if (c.age && !inAgeRange(this.ageAt(p, this.#asOf), c.age)) return false;
    if (c.birthDate && (p.birthDate === undefined || !inPeriod(p.birthDate, c.birthDate)))
      return false;
    if (c.deceased !== undefined && p.deceased !== c.deceased) return false;
    return true;
  }

  eventCohort(
    kind: EventKind,
    c: EventCriterion | ObservationCriterion | MedicationCriterion,
  ): Set<string> {
    const resources = new Map<string, Set<string>>();
    const types = 'resourceTypes' in c ? c.resourceTypes : undefined;
    for (const e of this.#eventsByKind.get(kind) ?? []) {
      if (!partsOf(e).some((part) => partMatches(part, c))) continue;
      if (types !== undefined && !types.some((t) => e.resourceKey.startsWith(`${t}/`))) continue;
      if (!inPeriod(e.date, c.period)) continue;
      if (
        c.ageAtEvent &&
        !inAgeRange(this.ageAt(this.#data.patients.get(e.patientId)!, e.date), c.ageAtEvent)
      ) {
        continue;
      }
      const seen = resources.get(e.patientId) ?? new Set<string>();
      seen.add(e.resourceKey);
      resources.set(e.patientId, seen);
    }
    const atLeast = c.atLeast ?? 1;
    return new Set([...resources].filter(([, r]) => r.size >= atLeast).map(([id]) => id));
  }

  /** Stratum labels of a patient in one dimension (none, one or, for codes, several). */
  labels(p: OraclePatient, dimension: Dimension): string[] {
    if (dimension === 'gender') return [p.gender];
    if (dimension === 'deceased') return [String(p.deceased)];
    if ('ageBand' in dimension) {
      const age = this.ageAt(p, this.#asOf);
      if (age === undefined) return [];
      const edges = dimension.ageBand;
      for (let i = edges.length - 1; i >= 0; i--) {
        if (age >= edges[i]!) return [bandLabel(edges, i)];
      }
      return [];
    }
    const events = this.eventsOf(p.id, dimension.codes.of);
    return dimension.codes.in
      .filter((c) => events.some((e) => e.codings.some((coding) => codingInSet(coding, [c]))))
      .map((c) => `${c.system}|${c.code}`);
  }

  /** One value per patient of a histogram's or summary's observation, when there is one. */
  measureValue(
    patientId: string,
    m: { observation: CodeSet; unit: string; pick?: Pick; period?: Period },
  ): number | undefined {
    const dated: [string, number][] = [];
    for (const e of this.eventsOf(patientId, 'observation')) {
      if (e.date === undefined || !inPeriod(e.date, m.period)) continue;
      const values = valuesIn(e, m.observation, m.unit);
      if (values.length > 0) dated.push([e.date, Math.max(...values)]);
    }
    if (dated.length === 0) return undefined;
    const pick = m.pick ?? 'latest';
    let chosen = dated;
    if (pick !== 'mean') {
      const dates = dated.map(([d]) => d).sort();
      const target = pick === 'latest' ? dates[dates.length - 1] : dates[0];
      chosen = dated.filter(([d]) => d === target);
    }
    return chosen.reduce((sum, [, v]) => sum + v, 0) / chosen.length;
  }
}

function bandLabel(edges: readonly number[], i: number): string {
  const next = edges[i + 1];
  return next === undefined ? `${edges[i]!}+` : `${edges[i]!}-${next - 1}`;
}

function dimensionLabels(dimension: Dimension): { name: keyof StratumKey; labels: string[] } {
  if (dimension === 'gender')
    return { name: 'gender', labels: ['female', 'male', 'other', 'unknown'] };
  if (dimension === 'deceased') return { name: 'deceased', labels: ['true', 'false'] };
  if ('ageBand' in dimension) {
    return {
      name: 'ageBand',
      labels: dimension.ageBand.map((_, i) => bandLabel(dimension.ageBand, i)),
    };
  }
  return { name: 'codes', labels: dimension.codes.in.map((c) => `${c.system}|${c.code}`) };
}

/**
 * Evaluates a query over FHIR resources by brute force: the true figures the
 * engine must reproduce.
 * @example evaluateOracle(resources, { ...canonicalQuery(q), asOf: '2026-01-01' }).total.count
 */
export function evaluateOracle(
  input: readonly FhirResource[] | OracleData,
  query: SourceQuery,
  options: OracleOptions = {},
): OracleResult {
  const data = Array.isArray(input) ? readFhir(input) : (input as OracleData);
  const ev = new Evaluation(data, query.asOf);
  const cell = (ids: readonly string[]): OracleCell => {
    const recordKey = options.recordKey;
    if (!recordKey) return { count: ids.length };
    const sum = ids.reduce((acc, id) => (acc + recordKey(id)) % 0x1_0000_0000, 0);
    return { count: ids.length, cellKey: sum };
  };

  const members = [...ev.cohort(query.cohort)].sort();
  const patients = members.map((id) => data.patients.get(id)!);

  const dims = query.stratify.map(dimensionLabels);
  const strata: { key: StratumKey; cell: OracleCell }[] = [];
  if (dims.length > 0) {
    const byKey = new Map<string, string[]>();
    for (const p of patients) {
      let combos: string[][] = [[]];
      for (const dimension of query.stratify) {
        const labels = ev.labels(p, dimension);
        combos = combos.flatMap((prefix) => labels.map((l) => [...prefix, l]));
      }
      for (const combo of combos) {
        const k = canonicalJson(combo);
        push(byKey, k, p.id);
      }
    }
    let keys: string[][] = [[]];
    for (const d of dims) keys = keys.flatMap((prefix) => d.labels.map((l) => [...prefix, l]));
    for (const labels of keys) {
      const key = Object.fromEntries(dims.map((d, i) => [d.name, labels[i]])) as StratumKey;
      strata.push({ key, cell: cell(byKey.get(canonicalJson(labels)) ?? []) });
    }
  }

  const measures = query.measures.map((measure: Measure, index): OracleMeasure => {
    if ('histogram' in measure) {
      const h = measure.histogram;
      const bins = h.edges.map((): string[] => []);
      const missing: string[] = [];
      for (const id of members) {
        const v = ev.measureValue(id, h);
        // The last edge at or below the value; none when below the first edge.
        const bin = v === undefined ? -1 : h.edges.findLastIndex((edge) => v >= edge);
        (bins[bin] ?? missing).push(id);
      }
      return {
        type: 'histogram',
        unit: h.unit,
        bins: h.edges.map((from, i) => {
          const to = h.edges[i + 1];
          return to === undefined
            ? { from, cell: cell(bins[i]!) }
            : { from, to, cell: cell(bins[i]!) };
        }),
        missing: cell(missing),
      };
    }
    if ('summary' in measure) {
      const s = measure.summary;
      const withValue: string[] = [];
      const values: number[] = [];
      for (const id of members) {
        const v = ev.measureValue(id, s);
        if (v === undefined) continue;
        withValue.push(id);
        values.push(v);
      }
      const n = values.length;
      const mean = n === 0 ? null : values.reduce((a, v) => a + v, 0) / n;
      const sd =
        n < 2 || mean === null
          ? null
          : Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1));
      const bounds = query.summaryBounds?.[index];
      const clamped =
        bounds === undefined
          ? undefined
          : values.map((v) => Math.min(Math.max(v, bounds.min), bounds.max));
      return {
        type: 'summary',
        unit: s.unit,
        n: cell(withValue),
        mean,
        sd,
        sumAbs: values.reduce((a, v) => a + Math.abs(v), 0),
        maxAbs: values.reduce((a, v) => Math.max(a, Math.abs(v)), 0),
        clampedSum: clamped === undefined ? null : clamped.reduce((a, v) => a + v, 0),
        clampedSumSquares: clamped === undefined ? null : clamped.reduce((a, v) => a + v * v, 0),
      };
    }
    return { type: 'count' };
  });

  return {
    total: cell(members),
    strata,
    overlapping: query.stratify.some((d) => typeof d === 'object' && 'codes' in d),
    measures,
  };
}
