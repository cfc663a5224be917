// The canonical form: two queries that mean the same thing serialise to the
// same bytes, so their hash keys the same caches, sticky noise, budgets and
// audit entries.
import { createHash } from 'node:crypto';
import type {
  CodeSet,
  Coding,
  CohortQuery,
  Dimension,
  Expr,
  Measure,
  MedicationCriterion,
  PatientCriterion,
} from '../generated/query.ts';
import { MEDICATION_RESOURCE_TYPES, exprNode, normaliseCode } from './walk.ts';

/** A canonical query: defaults filled in, `label` and `nodes` (routing, not meaning) dropped. */
export type CanonicalQuery = Omit<CohortQuery, 'label' | 'nodes' | 'stratify' | 'measures'> & {
  readonly stratify: Dimension[];
  readonly measures: NonNullable<CohortQuery['measures']>;
};

/**
 * A canonical query with its reference date pinned: what a node evaluates and
 * what gateway and nodes hash, so the same words asked on another day (ages,
 * look-back windows) are another question.
 */
export type EvaluableQuery = CanonicalQuery & { readonly asOf: string };

/**
 * The date part of an instant, in UTC: the reference date of a query that names none.
 * @example isoDate(new Date('2026-11-20T23:30:00Z')) // '2026-11-20'
 */
export function isoDate(instant: Date): string {
  return instant.toISOString().slice(0, 10);
}

/**
 * Pins a canonical query's reference date: its own `asOf`, else the day of `now` (UTC).
 * @example pinAsOf(canonicalQuery(q), new Date('2026-11-20T10:00:00Z')).asOf // '2026-11-20' when q has no asOf
 */
export function pinAsOf(query: CanonicalQuery, now: Date): EvaluableQuery {
  return { ...query, asOf: query.asOf ?? isoDate(now) };
}

/**
 * JSON with object keys sorted at every level and -0 written as 0.
 * @example canonicalJson({ b: 1, a: [2, -0] }) // '{"a":[2,0],"b":1}'
 */
export function canonicalJson(value: unknown): string {
  if (typeof value === 'number') return JSON.stringify(Object.is(value, -0) ? 0 : value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sortUnique<T>(items: readonly T[]): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) byKey.set(canonicalJson(item), item);
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

/**
 * Codings sorted and de-duplicated, ICD-10 dots removed, `descendants`
 * filled in; a code also listed with `descendants: true` is subsumed by it.
 * @example canonicalCodeSet([{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11.9' }])
 *   // [{ system: '...icd-10', code: 'E119', descendants: false }]
 */
export function canonicalCodeSet(codes: CodeSet): CodeSet {
  const normal = codes.map((c): Coding => ({
    system: c.system,
    code: normaliseCode(c.system, c.code),
    descendants: c.descendants ?? false,
  }));
  const withDescendants = new Set(
    normal.filter((c) => c.descendants).map((c) => `${c.system}|${c.code}`),
  );
  const kept = normal.filter((c) => c.descendants || !withDescendants.has(`${c.system}|${c.code}`));
  return sortUnique(kept) as CodeSet;
}

function canonicalPatient(p: PatientCriterion): PatientCriterion {
  return {
    ...p,
    ...(p.gender
      ? { gender: sortUnique(p.gender) as NonNullable<PatientCriterion['gender']> }
      : {}),
  };
}

/** Canonical Expr: flattened, sorted, de-duplicated, single-child groups and double negation removed. */
export function canonicalExpr(expr: Expr): Expr {
  const node = exprNode(expr);
  switch (node.op) {
    case 'all':
    case 'any': {
      const op = node.op;
      const flat: Expr[] = [];
      for (const child of node.children.map(canonicalExpr)) {
        const inner = exprNode(child);
        if (inner.op === op) flat.push(...inner.children);
        else flat.push(child);
      }
      const children = sortUnique(flat);
      if (children.length === 1) return children[0]!;
      return (op === 'all' ? { all: children } : { any: children }) as Expr;
    }
    case 'not': {
      const child = canonicalExpr(node.child);
      const inner = exprNode(child);
      return inner.op === 'not' ? inner.child : { not: child };
    }
    case 'patient':
      return { patient: canonicalPatient(node.criterion) };
    case 'consent': {
      const c = node.criterion;
      return { consent: { code: canonicalCodeSet(c.code), decision: c.decision ?? 'permit' } };
    }
    case 'event': {
      const c = node.criterion;
      const { resourceTypes, ...rest } =
        'resourceTypes' in c ? c : { ...c, resourceTypes: undefined };
      const criterion = {
        ...rest,
        code: canonicalCodeSet(c.code),
        atLeast: c.atLeast ?? 1,
        ...('valueCode' in c && c.valueCode ? { valueCode: canonicalCodeSet(c.valueCode) } : {}),
        ...canonicalResourceTypes(resourceTypes),
      };
      return { [node.kind]: criterion } as unknown as Expr;
    }
  }
}

/**
 * A medication criterion's resource types in a fixed order; all three are
 * the default and are left out, so the two spellings hash alike.
 */
function canonicalResourceTypes(
  types: MedicationCriterion['resourceTypes'],
): Pick<MedicationCriterion, 'resourceTypes'> {
  if (types === undefined) return {};
  const kept = MEDICATION_RESOURCE_TYPES.filter((t) => types.includes(t));
  return kept.length === MEDICATION_RESOURCE_TYPES.length
    ? {}
    : { resourceTypes: kept as NonNullable<MedicationCriterion['resourceTypes']> };
}

function canonicalDimension(d: Dimension): Dimension {
  if (typeof d === 'string' || 'ageBand' in d) return d;
  return { codes: { of: d.codes.of, in: canonicalCodeSet(d.codes.in) } };
}

function canonicalMeasure(m: Measure): Measure {
  if ('histogram' in m) {
    const h = m.histogram;
    return {
      histogram: { ...h, observation: canonicalCodeSet(h.observation), pick: h.pick ?? 'latest' },
    };
  }
  if ('summary' in m) {
    const s = m.summary;
    return {
      summary: { ...s, observation: canonicalCodeSet(s.observation), pick: s.pick ?? 'latest' },
    };
  }
  return m;
}

/**
 * The canonical form of a valid query.
 * @example canonicalQuery({ version: 1, cohort: { any: [X] }, label: 'x' }) // { version: 1, cohort: X, stratify: [], measures: [{ count: 'patients' }] }
 */
export function canonicalQuery(query: CohortQuery): CanonicalQuery {
  return {
    version: 1,
    cohort: canonicalExpr(query.cohort),
    ...(query.asOf === undefined ? {} : { asOf: query.asOf }),
    stratify: (query.stratify ?? []).map(canonicalDimension),
    measures: (query.measures ?? [{ count: 'patients' }]).map(
      canonicalMeasure,
    ) as CanonicalQuery['measures'],
  };
}

/**
 * `sha256:` + hex of the canonical JSON of the canonical form.
 * @example queryHash(q) // 'sha256:3f2a…'
 */
export function queryHash(query: CohortQuery): `sha256:${string}` {
  const digest = createHash('sha256')
    .update(canonicalJson(canonicalQuery(query)))
    .digest('hex');
  return `sha256:${digest}`;
}
