import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  CodeSet,
  Coding,
  CohortQuery,
  Dimension,
  Expr,
  MedicationCriterion,
  Measure,
} from '../../src/generated/query.ts';
import { SYSTEMS, arbitraryQuery } from '../support/arbitrary.ts';
import { readFixtures } from '../support/fixtures.ts';
import {
  canonicalCodeSet,
  canonicalExpr,
  canonicalJson,
  canonicalQuery,
  isoDate,
  pinAsOf,
  queryHash,
} from '../../src/query/canonical.ts';
import { parseQuery } from '../../src/query/parse.ts';
import { DEFAULT_LIMITS } from '../../src/query/semantic.ts';
import {
  EVENT_KINDS,
  type EventKind,
  PREFIX_HIERARCHY_SYSTEMS,
  exprNode,
  isIcd10,
} from '../../src/query/walk.ts';

// ---------------------------------------------------------------------------
// Helpers: a seeded random source (so fast-check can shrink and replay), and
// traversals that rebuild a query with one kind of edit applied.
// ---------------------------------------------------------------------------

type Rng = () => number;

/** mulberry32: small, fast, and reproducible from a fast-check integer. */
function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const below = (r: Rng, n: number) => Math.floor(r() * n);

function shuffled<T>(items: readonly T[], r: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = below(r, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function height(expr: Expr): number {
  const node = exprNode(expr);
  if (node.op === 'all' || node.op === 'any') return 1 + Math.max(...node.children.map(height));
  if (node.op === 'not') return 1 + height(node.child);
  return 1;
}

const group = (op: 'all' | 'any', children: Expr[]) =>
  (op === 'all' ? { all: children } : { any: children }) as Expr;

/**
 * Rebuilds an Expr bottom-up; `edit` sees each node with its depth in the
 * output tree and may replace it (it must keep the meaning).
 */
function rebuild(expr: Expr, edit: (e: Expr, depth: number) => Expr, depth = 1): Expr {
  const node = exprNode(expr);
  let out: Expr;
  if (node.op === 'all' || node.op === 'any') {
    out = group(
      node.op,
      node.children.map((c) => rebuild(c, edit, depth + 1)),
    );
  } else if (node.op === 'not') {
    out = { not: rebuild(node.child, edit, depth + 1) };
  } else {
    out = expr;
  }
  return edit(out, depth);
}

/** Every CodeSet of a query (criteria, valueCode, codes dimensions, measures), in place. */
function forEachCodeSet(q: CohortQuery, fn: (set: CodeSet) => void): void {
  const visit = (e: Expr): void => {
    const node = exprNode(e);
    if (node.op === 'all' || node.op === 'any') node.children.forEach(visit);
    else if (node.op === 'not') visit(node.child);
    else if (node.op === 'event') {
      fn(node.criterion.code);
      if ('valueCode' in node.criterion && node.criterion.valueCode) fn(node.criterion.valueCode);
    }
  };
  visit(q.cohort);
  for (const d of q.stratify ?? []) if (typeof d === 'object' && 'codes' in d) fn(d.codes.in);
  for (const m of q.measures ?? []) {
    if ('histogram' in m) fn(m.histogram.observation);
    if ('summary' in m) fn(m.summary.observation);
  }
}

/** Every criterion (patient or event) of an Expr, as its own Expr. */
function criteriaOf(expr: Expr): Expr[] {
  const node = exprNode(expr);
  if (node.op === 'all' || node.op === 'any') return node.children.flatMap(criteriaOf);
  if (node.op === 'not') return criteriaOf(node.child);
  return [expr];
}

/** True when no two criteria mean the same, so changing one is always visible. */
function distinctCriteria(q: CohortQuery): boolean {
  const keys = criteriaOf(q.cohort).map((c) => canonicalJson(canonicalExpr(c)));
  return new Set(keys).size === keys.length;
}

// ---------------------------------------------------------------------------
// Meaning-preserving edits.
// ---------------------------------------------------------------------------

const MAX_DEPTH = DEFAULT_LIMITS.maxDepth;

const shuffleGroups = (q: CohortQuery, r: Rng): CohortQuery => ({
  ...q,
  cohort: rebuild(q.cohort, (e) => {
    const node = exprNode(e);
    return node.op === 'all' || node.op === 'any' ? group(node.op, shuffled(node.children, r)) : e;
  }),
});

const duplicateChildren = (q: CohortQuery, r: Rng): CohortQuery => ({
  ...q,
  cohort: rebuild(q.cohort, (e) => {
    const node = exprNode(e);
    if (node.op !== 'all' && node.op !== 'any') return e;
    const twin = structuredClone(node.children[below(r, node.children.length)]!);
    return group(node.op, shuffled([...node.children, twin], r));
  }),
});

/** all[a, b, c] -> all[a, all[b, c]] (and the same for any), where depth allows. */
const nestSameOperator = (q: CohortQuery, r: Rng): CohortQuery => {
  const nest = (e: Expr, depth: number): Expr => {
    const node = exprNode(e);
    if (node.op === 'all' || node.op === 'any') {
      const split = node.children.length > 1 ? 1 + below(r, node.children.length - 1) : 0;
      const moved = node.children.slice(split);
      const fits = depth + 1 + Math.max(...moved.map(height)) <= MAX_DEPTH;
      if (split > 0 && fits && r() < 0.7) {
        const inner = group(
          node.op,
          moved.map((c) => nest(c, depth + 2)),
        );
        return group(node.op, [
          ...node.children.slice(0, split).map((c) => nest(c, depth + 1)),
          inner,
        ]);
      }
      return group(
        node.op,
        node.children.map((c) => nest(c, depth + 1)),
      );
    }
    if (node.op === 'not') return { not: nest(node.child, depth + 1) };
    return e;
  };
  return { ...q, cohort: nest(q.cohort, 1) };
};

/** Adds `levels` operators above a node where the depth limit allows, top-down. */
function wrapWhereRoom(expr: Expr, levels: number, wrap: (e: Expr) => Expr, r: Rng): Expr {
  const visit = (e: Expr, depth: number): Expr => {
    const wrapHere = depth + levels + height(e) - 1 <= MAX_DEPTH && r() < 0.4;
    const below_ = wrapHere ? depth + levels : depth;
    const node = exprNode(e);
    let inner: Expr = e;
    if (node.op === 'all' || node.op === 'any') {
      inner = group(
        node.op,
        node.children.map((c) => visit(c, below_ + 1)),
      );
    } else if (node.op === 'not') {
      inner = { not: visit(node.child, below_ + 1) };
    }
    return wrapHere ? wrap(inner) : inner;
  };
  return visit(expr, 1);
}

const wrapSingleChild = (q: CohortQuery, r: Rng): CohortQuery => ({
  ...q,
  cohort: wrapWhereRoom(q.cohort, 1, (e) => group(r() < 0.5 ? 'all' : 'any', [e]), r),
});

const doubleNegation = (q: CohortQuery, r: Rng): CohortQuery => ({
  ...q,
  cohort: wrapWhereRoom(q.cohort, 2, (e) => ({ not: { not: e } }), r),
});

const reorderCodeSets = (q: CohortQuery, r: Rng): CohortQuery => {
  const out = structuredClone(q);
  forEachCodeSet(out, (set) => {
    const order = shuffled(set, r);
    set.splice(0, set.length, ...order);
  });
  return out;
};

const toggleIcdDots = (q: CohortQuery, r: Rng): CohortQuery => {
  const out = structuredClone(q);
  forEachCodeSet(out, (set) => {
    for (const c of set) {
      if (!isIcd10(c.system) || r() < 0.3) continue;
      if (c.code.includes('.')) c.code = c.code.replaceAll('.', '');
      else if (c.code.length > 3) c.code = `${c.code.slice(0, 3)}.${c.code.slice(3)}`;
    }
  });
  return out;
};

const addLabel = (q: CohortQuery, r: Rng): CohortQuery => ({
  ...q,
  label: `relabelled ${below(r, 1e6)} `.repeat(1 + below(r, 8)).slice(0, 200),
});

function eventCriteria(q: CohortQuery): { atLeast?: number }[] {
  return criteriaOf(q.cohort).flatMap((c) => {
    const node = exprNode(c);
    return node.op === 'event' ? [node.criterion] : [];
  });
}

function observationMeasures(q: CohortQuery): { pick?: string }[] {
  return (q.measures ?? []).flatMap((m) =>
    'histogram' in m ? [m.histogram] : 'summary' in m ? [m.summary] : [],
  );
}

const DEFAULT_MEASURES: NonNullable<CohortQuery['measures']> = [{ count: 'patients' }];

const omitDefaults = (q: CohortQuery): CohortQuery => {
  const out = structuredClone(q);
  for (const c of eventCriteria(out)) if (c.atLeast === 1) delete c.atLeast;
  forEachCodeSet(out, (set) => {
    for (const c of set) if (c.descendants === false) delete c.descendants;
  });
  for (const m of observationMeasures(out)) if (m.pick === 'latest') delete m.pick;
  if (canonicalJson(out.measures) === canonicalJson(DEFAULT_MEASURES)) delete out.measures;
  return out;
};

const spellOutDefaults = (q: CohortQuery): CohortQuery => {
  const out = structuredClone(q);
  for (const c of eventCriteria(out)) c.atLeast ??= 1;
  forEachCodeSet(out, (set) => {
    for (const c of set) c.descendants ??= false;
  });
  for (const m of observationMeasures(out)) m.pick ??= 'latest';
  out.measures ??= [{ count: 'patients' }];
  return out;
};

const EQUIVALENCES: [string, (q: CohortQuery, r: Rng) => CohortQuery][] = [
  ['shuffling all/any children', shuffleGroups],
  ['duplicating children', duplicateChildren],
  ['nesting all in all and any in any', nestSameOperator],
  ['wrapping in single-child all/any', wrapSingleChild],
  ['double negation', doubleNegation],
  ['reordering CodeSets', reorderCodeSets],
  ['adding and removing ICD-10 dots', toggleIcdDots],
  ['adding a label', addLabel],
  ['omitting defaults', omitDefaults],
  ['spelling out defaults', spellOutDefaults],
  [
    'all of these at once',
    (q, r) =>
      [
        shuffleGroups,
        duplicateChildren,
        reorderCodeSets,
        toggleIcdDots,
        addLabel,
        omitDefaults,
        nestSameOperator,
        wrapSingleChild,
        doubleNegation,
      ].reduce((acc, edit) => edit(acc, r), q),
  ],
];

describe('the query generator', () => {
  it('makes only valid queries', () => {
    fc.assert(
      fc.property(arbitraryQuery(), (q) => {
        parseQuery(q);
      }),
      { numRuns: 200 },
    );
  });
});

describe('queryHash ignores rewording', () => {
  it.each(EQUIVALENCES)('%s never changes the hash', (_name, edit) => {
    fc.assert(
      fc.property(arbitraryQuery(), fc.integer(), (q, seed) => {
        const before = structuredClone(q);
        const edited = edit(q, rng(seed));
        expect(q).toEqual(before); // edits work on copies
        parseQuery(edited); // the rewording is itself a valid query
        expect(queryHash(edited)).toBe(queryHash(q));
      }),
      { numRuns: 150 },
    );
  });

  it('the canonical form is a fixed point', () => {
    fc.assert(
      fc.property(arbitraryQuery(), (q) => {
        const once = canonicalQuery(q);
        expect(canonicalQuery(once as CohortQuery)).toEqual(once);
        expect(queryHash(once as CohortQuery)).toBe(queryHash(q));
      }),
      { numRuns: 200 },
    );
  });

  it('ignores nodes, which route a query but do not change its meaning', () => {
    fc.assert(
      fc.property(arbitraryQuery(), (q) => {
        const rest = { ...q };
        delete rest.nodes;
        expect(queryHash(rest)).toBe(queryHash({ ...q, nodes: ['toscana'] }));
      }),
    );
  });
});

// ---------------------------------------------------------------------------
// Meaning-changing edits: each returns every place in a query it can apply,
// as a function that edits a copy and stays valid.
// ---------------------------------------------------------------------------

type Site = (q: CohortQuery) => void;

interface Range {
  min?: number;
  max?: number;
}

/**
 * Moving one bound of a range outwards (inwards at the edge of the allowed
 * span) keeps it valid and always changes it.
 */
function rangeSites(
  get: (q: CohortQuery) => Range,
  lo: number,
  hi: number,
  step: number,
  r: Range,
): Site[] {
  const sites: Site[] = [];
  const { min, max } = r;
  if (min !== undefined) {
    const next = min > lo ? min - step : min + step;
    if (max === undefined || next <= max) sites.push((q) => (get(q).min = next));
  }
  if (max !== undefined) {
    const next = max < hi ? max + step : max - step;
    if (min === undefined || next >= min) sites.push((q) => (get(q).max = next));
  }
  return sites;
}

const dayAfter = (d: string, days: number) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

function periodSites(
  get: (q: CohortQuery) => { from?: string; to?: string },
  p: { from?: string; to?: string },
): Site[] {
  const sites: Site[] = [];
  if (p.from !== undefined) sites.push((q) => (get(q).from = dayAfter(get(q).from!, -1)));
  if (p.to !== undefined) sites.push((q) => (get(q).to = dayAfter(get(q).to!, 1)));
  return sites;
}

/** Paths to every criterion, so a site can find its criterion again in a copy. */
function criterionPaths(expr: Expr, path: (string | number)[] = []): (string | number)[][] {
  const node = exprNode(expr);
  if (node.op === 'all' || node.op === 'any') {
    return node.children.flatMap((c, i) => criterionPaths(c, [...path, node.op, i]));
  }
  if (node.op === 'not') return criterionPaths(node.child, [...path, 'not']);
  return [path];
}

function at(q: CohortQuery, path: (string | number)[]): Expr {
  let e: unknown = q.cohort;
  for (const step of path) e = (e as Record<string | number, unknown>)[step];
  return e as Expr;
}

function criterionBody(q: CohortQuery, path: (string | number)[]): Record<string, unknown> {
  const e = at(q, path) as unknown as Record<string, Record<string, unknown>>;
  return Object.values(e)[0]!;
}

function boundSites(q: CohortQuery): Site[] {
  const sites: Site[] = [];
  for (const path of criterionPaths(q.cohort)) {
    const body = criterionBody(q, path);
    const sub = (key: string) => (copy: CohortQuery) => criterionBody(copy, path)[key] as Range;
    for (const key of ['age', 'ageAtEvent'] as const) {
      if (body[key]) sites.push(...rangeSites(sub(key), 0, 150, 1, body[key]));
    }
    if (body.value) sites.push(...rangeSites(sub('value'), -1e12, 1e12, 0.5, body.value));
    for (const key of ['birthDate', 'period'] as const) {
      if (body[key]) sites.push(...periodSites(sub(key) as never, body[key]));
    }
    if ('code' in body) {
      sites.push((copy) => {
        const c = criterionBody(copy, path) as { atLeast?: number };
        c.atLeast = (c.atLeast ?? 1) + 1;
      });
    }
  }
  if (q.asOf !== undefined) sites.push((copy) => (copy.asOf = dayAfter(copy.asOf!, 1)));
  (q.stratify ?? []).forEach((d, i) => {
    if (typeof d !== 'object' || !('ageBand' in d)) return;
    const last = d.ageBand.length - 1;
    const edge = d.ageBand[last]!;
    const next = edge < 150 ? edge + 1 : edge - 1;
    if (next <= d.ageBand[last - 1]!) return;
    sites.push((copy) => ((copy.stratify![i] as { ageBand: number[] }).ageBand[last] = next));
  });
  (q.measures ?? []).forEach((m, i) => {
    if ('histogram' in m) {
      sites.push((copy) => {
        const edges = (copy.measures![i] as { histogram: { edges: number[] } }).histogram.edges;
        edges[0] = edges[0]! - 1;
      });
    }
    const obs = 'histogram' in m ? m.histogram : 'summary' in m ? m.summary : undefined;
    if (obs?.period) {
      const get = (copy: CohortQuery) => {
        const cm = copy.measures![i]!;
        return ('histogram' in cm ? cm.histogram : (cm as { summary: { period: object } }).summary)
          .period!;
      };
      sites.push(...periodSites(get, obs.period));
    }
  });
  return sites;
}

/** Every coding of the query, found again in a copy by its index in traversal order. */
function codingSites(q: CohortQuery, edit: (c: Coding, n: number) => void): Site[] {
  let total = 0;
  forEachCodeSet(q, (set) => (total += set.length));
  return Array.from({ length: total }, (_, n) => (copy: CohortQuery) => {
    let i = 0;
    forEachCodeSet(copy, (set) => {
      for (const c of set) if (i++ === n) edit(c, n);
    });
  });
}

const codeSites = (q: CohortQuery) =>
  codingSites(q, (c, n) => {
    c.code = `CHANGED${n}`;
  });

const systemSites = (q: CohortQuery) =>
  codingSites(q, (c) => {
    if (c.descendants) {
      const others = [...PREFIX_HIERARCHY_SYSTEMS].filter((s) => s !== c.system);
      c.system = others[c.code.length % others.length]!;
    } else {
      c.system = c.system === SYSTEMS.snomed ? SYSTEMS.loinc : SYSTEMS.snomed;
    }
  });

function kindSites(q: CohortQuery): Site[] {
  return criterionPaths(q.cohort).flatMap((path) => {
    const node = exprNode(at(q, path));
    if (node.op !== 'event') return [];
    return EVENT_KINDS.filter((k) => k !== node.kind).map(
      (to: EventKind) => (copy: CohortQuery) => {
        const parentPath = path.slice(0, -1);
        const last = path[path.length - 1];
        // Only observations carry values; the moved criterion leaves them behind.
        const rest = { ...criterionBody(copy, path) };
        delete rest.value;
        delete rest.valueCode;
        const replaced = { [to]: rest } as unknown as Expr;
        if (last === undefined) copy.cohort = replaced;
        else (at(copy, parentPath) as unknown as Record<string | number, Expr>)[last] = replaced;
      },
    );
  });
}

function dimensionSites(q: CohortQuery): Site[] {
  const stratify = q.stratify ?? [];
  const names = stratify.map((d) => (typeof d === 'string' ? d : Object.keys(d)[0]!));
  const sites: Site[] = stratify.map((_, i) => (copy) => copy.stratify!.splice(i, 1));
  const extra: Dimension[] = ['gender', 'deceased', { ageBand: [0, 50] }];
  if (stratify.length < 3) {
    for (const d of extra) {
      const name = typeof d === 'string' ? d : 'ageBand';
      if (!names.includes(name))
        sites.push((copy) => (copy.stratify = [...(copy.stratify ?? []), d]));
    }
  }
  return sites;
}

function measureSites(q: CohortQuery): Site[] {
  const measures = q.measures ?? DEFAULT_MEASURES;
  const summary: Measure = {
    summary: { observation: [{ system: SYSTEMS.loinc, code: '2339-0' }], unit: 'mg/dL' },
  };
  const sites: Site[] = [
    (copy) => (copy.measures = [...(copy.measures ?? DEFAULT_MEASURES), summary]),
  ];
  if (measures.length > 1) sites.push((copy) => copy.measures!.splice(0, 1));
  measures.forEach((m, i) => {
    const obs = 'histogram' in m ? 'histogram' : 'summary' in m ? 'summary' : undefined;
    if (obs === undefined) return;
    const get = (copy: CohortQuery) =>
      (copy.measures![i] as unknown as Record<string, { unit: string; pick?: string }>)[obs]!;
    sites.push((copy) => (get(copy).unit = get(copy).unit === 'mg/dL' ? 'mmol/L' : 'mg/dL'));
    sites.push(
      (copy) => (get(copy).pick = (get(copy).pick ?? 'latest') === 'mean' ? 'earliest' : 'mean'),
    );
  });
  return sites;
}

const CHANGES: [string, (q: CohortQuery) => Site[]][] = [
  ['a bound', boundSites],
  ['a code', codeSites],
  ['a system', systemSites],
  ['a kind', kindSites],
  ['a dimension', dimensionSites],
  ['a measure', measureSites],
];

describe('queryHash follows meaning', () => {
  it.each(CHANGES)('changing %s always changes the hash', (_name, sitesOf) => {
    fc.assert(
      fc.property(arbitraryQuery(), fc.nat(), (q, pick) => {
        fc.pre(distinctCriteria(q));
        const sites = sitesOf(q);
        fc.pre(sites.length > 0);
        const changed = structuredClone(q);
        sites[pick % sites.length]!(changed);
        parseQuery(changed);
        expect(queryHash(changed)).not.toBe(queryHash(q));
      }),
      { numRuns: 200 },
    );
  });
});

describe('canonical form, by example', () => {
  const icd = (code: string, descendants?: boolean): Coding => ({
    system: SYSTEMS.icd10,
    code,
    ...(descendants === undefined ? {} : { descendants }),
  });

  it('sorts, de-duplicates and strips ICD-10 dots in CodeSets', () => {
    expect(canonicalCodeSet([icd('E11.9'), icd('E119', false), icd('E10')])).toEqual([
      icd('E10', false),
      icd('E119', false),
    ]);
  });

  it('lets a code with descendants subsume the same code without', () => {
    expect(canonicalCodeSet([icd('E11'), icd('E11', true)])).toEqual([icd('E11', true)]);
  });

  it('fills defaults and drops label and nodes', () => {
    const q: CohortQuery = {
      version: 1,
      cohort: { any: [{ condition: { code: [icd('E11.9')] } }] },
      label: 'x',
      nodes: ['lombardia'],
    };
    expect(canonicalQuery(q)).toEqual({
      version: 1,
      cohort: { condition: { code: [icd('E119', false)], atLeast: 1 } },
      stratify: [],
      measures: [{ count: 'patients' }],
    });
  });

  it("fills a consent's decision and orders a medication criterion's resource types", () => {
    const atc: CodeSet = [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }];
    const expr = (resourceTypes?: MedicationCriterion['resourceTypes']): Expr => ({
      medication: { code: atc, ...(resourceTypes === undefined ? {} : { resourceTypes }) },
    });
    const all = canonicalExpr(
      expr(['MedicationStatement', 'MedicationAdministration', 'MedicationRequest']),
    );
    expect(all).toEqual(canonicalExpr(expr()));
    expect(all).not.toHaveProperty('medication.resourceTypes');
    expect(canonicalExpr(expr(['MedicationAdministration', 'MedicationRequest']))).toEqual({
      medication: {
        code: canonicalCodeSet(atc),
        atLeast: 1,
        resourceTypes: ['MedicationRequest', 'MedicationAdministration'],
      },
    });
    expect(canonicalExpr({ consent: { code: [icd('E11.9')] } })).toEqual({
      consent: { code: [icd('E119', false)], decision: 'permit' },
    });
  });

  it('writes keys sorted and -0 as 0', () => {
    expect(canonicalJson({ b: 1, a: [2, -0], c: undefined })).toBe('{"a":[2,0],"b":1}');
  });

  it('keeps the hash of every valid fixture stable under key order', () => {
    for (const [, fixture] of readFixtures('queries/valid')) {
      const q = fixture as CohortQuery;
      const reversed = JSON.parse(
        JSON.stringify(q, (_k, v: unknown) =>
          v && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        ),
      ) as CohortQuery;
      expect(queryHash(reversed)).toBe(queryHash(q));
    }
  });

  it('gives the two wordings of one cohort in the fixtures one hash', () => {
    const byName = new Map(readFixtures('queries/valid'));
    const a = byName.get('rewording-a.json') as CohortQuery;
    const b = byName.get('rewording-b.json') as CohortQuery;
    expect(canonicalJson(b)).not.toBe(canonicalJson(a));
    expect(queryHash(b)).toBe(queryHash(a));
  });

  it('tells apart every other fixture', () => {
    const hashes = readFixtures('queries/valid')
      .filter(([name]) => name !== 'rewording-b.json')
      .map(([, f]) => queryHash(f as CohortQuery));
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('pinAsOf', () => {
  const cohort: Expr = { patient: { gender: ['female'], age: { min: 40, max: 79 } } };

  it("keeps a query's own reference date", () => {
    const query = canonicalQuery({ version: 1, cohort, asOf: '2020-02-29' });
    expect(pinAsOf(query, new Date('2026-11-20T10:00:00Z')).asOf).toBe('2020-02-29');
  });

  it('pins a query without one to the UTC day of now, which its hash then includes', () => {
    const query = canonicalQuery({ version: 1, cohort });
    const late = pinAsOf(query, new Date('2026-11-20T23:30:00-02:00'));
    expect(late.asOf).toBe('2026-11-21');
    expect(isoDate(new Date('2026-11-20T23:30:00Z'))).toBe('2026-11-20');
    expect(queryHash(late)).not.toBe(queryHash(pinAsOf(query, new Date('2026-11-20T10:00:00Z'))));
  });
});
