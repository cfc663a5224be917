// The attack classes of docs/privacy.md, each as code an attacking project
// could run against a node: it builds queries in the public query language,
// reads only what the node released, and concludes what it can (inference.ts).
// Targets are picked with the brute-force oracle over the same NDJSON the
// node ingested, and the truth of each target comes from the oracle too.
import type { Cell, NodeResult } from '@tessera/schemas';
import type { OraclePatient } from '@tessera/node-adapter/oracle';
import {
  AS_OF,
  type Attacker,
  type Expr,
  HBA1C,
  type Json,
  type Population,
  all,
  any,
  birthWindows,
  bornIn,
  condition,
  hasHba1c,
  not,
  query,
  who,
} from './harness.ts';
import {
  CountInference,
  type Mechanism,
  type Trial,
  isReleased,
  mechanismOf,
  rangeOf,
} from './inference.ts';

/** The attacker stops a linear attack once it is this sure (mechanisms without a budget). */
export const STOP_AT = 0.999;

const mech = (r: NodeResult): Mechanism => mechanismOf(r.disclosure);

function stratum(r: NodeResult, key: Record<string, string>): Cell {
  const found = r.strata.find((s) =>
    Object.entries(key).every(([k, v]) => (s.key as Record<string, string>)[k] === v),
  );
  if (found === undefined) throw new Error(`no stratum ${JSON.stringify(key)}`);
  return found.cell;
}

/** A date `days` after an ISO date. */
function addDays(iso: string, days: number): string {
  const d = new Date(`${iso}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

// ---------------------------------------------------------------------------
// Targets, found with the oracle
// ---------------------------------------------------------------------------

const rare = new WeakMap<Population, { code: string; count: number }[]>();

/** ICD-10 codes held by 1..9 patients, every one of them identifiable. */
export function rareConditions(pop: Population): { code: string; count: number }[] {
  const known = rare.get(pop);
  if (known !== undefined) return known;
  const codes = new Set<string>();
  for (const e of pop.data.events) {
    if (e.kind !== 'condition') continue;
    for (const c of e.codings) if (c.system === 'http://hl7.org/fhir/sid/icd-10') codes.add(c.code);
  }
  const out: { code: string; count: number }[] = [];
  for (const code of [...codes].sort()) {
    const count = pop.truth(query(condition(code))).total.count;
    if (count < 1 || count > 9) continue;
    const members = pop.members(condition(code));
    if (members.size !== count || [...members].some((id) => !pop.identifiable.has(id))) continue;
    out.push({ code, count });
  }
  // Larger small sets first: they make the harder targets.
  out.sort((a, b) => b.count - a.count || (a.code < b.code ? -1 : 1));
  rare.set(pop, out);
  return out;
}

const small = new WeakMap<Population, SmallTarget[]>();

export interface SmallTarget {
  readonly label: string;
  readonly cohort: Expr;
  readonly count: number;
}

/**
 * Small cohorts P to attack, with their true sizes: rare conditions, and
 * patients with hypertension born within a window holding exactly 9 (the
 * threshold minus one) or 1 of them, the edges of the small counts.
 */
export function smallTargets(pop: Population): SmallTarget[] {
  const known = small.get(pop);
  if (known !== undefined) return known;
  const rareOnes = rareConditions(pop).map((c) => ({
    label: c.code,
    cohort: condition(c.code),
    count: c.count,
  }));
  const withI10 = pop.members(condition('I10'));
  const hypertensive = pop.byBirth.filter((p) => withI10.has(p.id));
  const window = (start: number, count: number): SmallTarget | undefined => {
    const first = hypertensive[start]!.birthDate!;
    const last = hypertensive[start + count - 1]!.birthDate!;
    const cohort = all(condition('I10'), bornIn(first, last));
    const n = pop.truth(query(cohort)).total.count;
    return n === count ? { label: `I10 born ${first}..${last}`, cohort, count } : undefined;
  };
  const edges = [window(10, 9), window(31, 1), window(60, 9), window(90, 1)].filter(
    (t): t is SmallTarget => t !== undefined,
  );
  const out: SmallTarget[] = [];
  for (let i = 0; i < Math.max(edges.length, rareOnes.length); i++) {
    if (edges[i] !== undefined) out.push(edges[i]!);
    if (rareOnes[i] !== undefined) out.push(rareOnes[i]!);
  }
  small.set(pop, out);
  return out;
}

/**
 * `count` exclusions of two known patients each, every pair different, drawn
 * from `movers` (identifiable patients only). Removing one from a cohort
 * changes the query, and the patient set of every cell the movers are in, so
 * noise keyed by the query and noise keyed by the set are both fresh each
 * round; the target is untouched as long as no mover belongs to it.
 */
export function exclusionPairs(
  pop: Population,
  movers: ReadonlySet<string>,
  count: number,
  seed: number,
): Expr[] {
  const pool = pop.byBirth.filter((p) => movers.has(p.id) && pop.identifiable.has(p.id));
  const n = pool.length;
  if (n * (n - 1) < 2 * count) throw new Error('not enough patients to exclude');
  const out: Expr[] = [];
  const used = new Set<string>();
  let x = (seed * 2246822519 + 1) >>> 0;
  while (out.length < count) {
    x = (Math.imul(x ^ (x >>> 13), 0x5bd1e995) + 0x27d4eb2d) >>> 0;
    const a = x % n;
    const b = (a + 1 + ((x >>> 16) % (n - 1))) % n;
    const id = a < b ? `${a}|${b}` : `${b}|${a}`;
    if (used.has(id)) continue;
    used.add(id);
    out.push(any(who(pool[a]!), who(pool[b]!)));
  }
  return out;
}

/** Ids of a cohort's members outside `avoid`. */
function outside(pop: Population, cohort: Expr, avoid: ReadonlySet<string>): Set<string> {
  return new Set([...pop.members(cohort)].filter((id) => !avoid.has(id)));
}

// ---------------------------------------------------------------------------
// Linear attacks: rounds of queries, each giving statistics of the secret
// ---------------------------------------------------------------------------

export interface LinearRound {
  readonly queries: readonly Json[];
  /** Feeds what the round's answers say about the secret into `inf`. */
  readonly use: (answers: readonly NodeResult[], inf: CountInference, m: Mechanism) => void;
}

export interface LinearOptions {
  /** Rounds the attacker would ask at most (the budget usually ends it first). */
  readonly maxRounds: number;
}

/**
 * Asks round after round until the node answers 429 to every researcher,
 * the attacker is sure (proven, or posterior >= STOP_AT), or `maxRounds`.
 * A round cut short by the budget is discarded.
 */
export async function linearAttack(
  attacker: Attacker,
  round: (i: number) => LinearRound,
  options: LinearOptions,
): Promise<CountInference> {
  const inf = new CountInference();
  for (let i = 0; i < options.maxRounds; i++) {
    const r = round(i);
    const answers: NodeResult[] = [];
    for (const q of r.queries) {
      const a = await attacker.ask(q);
      if (a === undefined) return inf;
      answers.push(a);
    }
    r.use(answers, inf, mech(answers[0]!));
    if (inf.certain || inf.guess.probability >= STOP_AT) return inf;
  }
  return inf;
}

// Class 5: padding average. |P OR B| - |B AND NOT P| = |P| for any B.
export function paddingRound(p: Expr, paddings: readonly Expr[]) {
  return (i: number): LinearRound => {
    const b = paddings[i % paddings.length]!;
    return {
      queries: [query(any(p, b)), query(all(b, not(p)))],
      use: ([withP, withoutP], inf, m) => {
        inf.measure(
          [
            { cell: withP!.total, sign: 1 },
            { cell: withoutP!.total, sign: -1 },
          ],
          m,
        );
      },
    };
  };
}

// Class 6: trackers. |A OR P| + |NOT A OR P| - |A| - |NOT A| = |P| for any A.
export function trackerRound(p: Expr, trackers: readonly Expr[]) {
  return (i: number): LinearRound => {
    const a = trackers[i % trackers.length]!;
    return {
      queries: [query(any(a, p)), query(any(not(a), p)), query(a), query(not(a))],
      use: ([aOrP, notAOrP, aOnly, notA], inf, m) => {
        inf.measure(
          [
            { cell: aOrP!.total, sign: 1 },
            { cell: notAOrP!.total, sign: 1 },
            { cell: aOnly!.total, sign: -1 },
            { cell: notA!.total, sign: -1 },
          ],
          m,
        );
      },
    };
  };
}

/**
 * Class 7: overlapping strata. In a cohort inside X OR Y whose patients with
 * both codes are exactly P, stratum X + stratum Y - total = |P|. Each round
 * leaves out other patients outside P, so each is a new query.
 */
export function overlapRound(x: string, y: string, s: Expr, exclusions: readonly Expr[]) {
  const both = all(condition(x), condition(y));
  return (i: number): LinearRound => {
    const cohort = all(
      any(condition(x), condition(y)),
      any(s, not(both)),
      not(exclusions[i % exclusions.length]!),
    );
    const codes = (c: string) => `http://hl7.org/fhir/sid/icd-10|${c}`;
    return {
      queries: [
        query(cohort, {
          stratify: [
            {
              codes: {
                of: 'condition',
                in: [
                  { system: 'http://hl7.org/fhir/sid/icd-10', code: x },
                  { system: 'http://hl7.org/fhir/sid/icd-10', code: y },
                ],
              },
            },
          ],
        }),
      ],
      use: ([r], inf, m) => {
        inf.measure(
          [
            { cell: stratum(r!, { codes: codes(x.replaceAll('.', '')) }), sign: 1 },
            { cell: stratum(r!, { codes: codes(y.replaceAll('.', '')) }), sign: 1 },
            { cell: r!.total, sign: -1 },
          ],
          m,
        );
      },
    };
  };
}

export interface OverlapTarget {
  readonly x: string;
  readonly y: string;
  /** Birth-date window: P is everyone in it with both codes. */
  readonly s: Expr;
  readonly count: number;
  readonly exclusions: readonly Expr[];
}

/** Windows in which 1..9 patients have both I10 and J06.9 (each code alone is common). */
export function overlapTargets(pop: Population, count: number, seed: number): OverlapTarget[] {
  const x = 'I10';
  const y = 'J06.9';
  const out: OverlapTarget[] = [];
  for (const s of birthWindows(pop, 40, count * 10, seed)) {
    if (out.length >= count) break;
    const both = all(condition(x), condition(y), s);
    const n = pop.truth(query(both)).total.count;
    if (n < 1 || n > 9) continue;
    // Each round removes two patients with X only and two with Y only, so
    // the X stratum, the Y stratum and the total are new patient sets.
    const xOnly = exclusionPairs(
      pop,
      pop.members(all(condition(x), not(condition(y)))),
      300,
      seed + out.length,
    );
    const yOnly = exclusionPairs(
      pop,
      pop.members(all(condition(y), not(condition(x)))),
      300,
      seed + out.length + 1,
    );
    out.push({ x, y, s, count: n, exclusions: xOnly.map((e, i) => any(e, yOnly[i]!)) });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Class 8: margins of a 3-way table
// ---------------------------------------------------------------------------

export const BANDS = [0, 40, 65];
const BAND_LABELS = ['0-39', '40-64', '65+'];
const GENDERS = ['female', 'male', 'other', 'unknown'];
const DECEASED = ['true', 'false'];
const DIMENSIONS = ['gender', 'ageBand', 'deceased'] as const;
type Dim = (typeof DIMENSIONS)[number];
const dimension = (d: Dim): unknown => (d === 'ageBand' ? { ageBand: BANDS } : d);

/** Every 3-way cell key. */
const CELLS: Record<Dim, string>[] = GENDERS.flatMap((gender) =>
  BAND_LABELS.flatMap((ageBand) => DECEASED.map((deceased) => ({ gender, ageBand, deceased }))),
);
const cellId = (k: Record<Dim, string>): string => `${k.gender}|${k.ageBand}|${k.deceased}`;

export interface MarginTarget {
  readonly key: Record<Dim, string>;
  /** A patient criterion for exactly that cell. */
  readonly criterion: Expr;
  /** The same for its partner cell (the other `deceased` value). */
  readonly partner: Expr;
}

/** The 3-way cells (gender x age band x deceased) holding 1..9 patients. */
export function smallTableCells(pop: Population): { target: MarginTarget; count: number }[] {
  const out: { target: MarginTarget; count: number }[] = [];
  for (const key of CELLS) {
    if (key.gender === 'other' || key.gender === 'unknown') continue;
    const b = BAND_LABELS.indexOf(key.ageBand);
    const age = { min: BANDS[b]!, ...(b + 1 < BANDS.length ? { max: BANDS[b + 1]! - 1 } : {}) };
    const dead = key.deceased === 'true';
    const criterion = { patient: { gender: [key.gender], age, deceased: dead } };
    const partner = { patient: { gender: [key.gender], age, deceased: !dead } };
    const count = pop.truth(query(criterion)).total.count;
    if (count >= 1 && count <= 9) out.push({ target: { key, criterion, partner }, count });
  }
  return out;
}

/**
 * Each round asks the 3-way table, and the first round every 1- and 2-way
 * margin too, of a cohort that keeps the target cell whole (everyone but two
 * patients of the target's partner cell, other ones each round). The attacker then
 * - bounds the target by propagating every published range through the
 *   table's sums (a suppressed cell pinned by its margins is caught here);
 * - measures it by every margin whose other cells were all released.
 */
export function marginRound(target: MarginTarget, exclusions: readonly Expr[]) {
  const tables: Dim[][] = [
    ['gender', 'ageBand'],
    ['gender', 'deceased'],
    ['ageBand', 'deceased'],
    ['gender'],
    ['ageBand'],
    ['deceased'],
  ];
  return (i: number): LinearRound => {
    const cohort = not(exclusions[i % exclusions.length]!);
    const asked: Dim[][] = i === 0 ? [[...DIMENSIONS], ...tables] : [[...DIMENSIONS], tables[0]!];
    return {
      queries: asked.map((dims) => query(cohort, { stratify: dims.map(dimension) })),
      use: (answers, inf, m) => {
        const full = answers[0]!;
        const cellOf = new Map(CELLS.map((k) => [cellId(k), stratum(full, k)]));
        // Every published sum over 3-way cells: the table's own cells, each
        // margin cell, and the totals.
        const sums: { members: string[]; cell: Cell }[] = [];
        answers.forEach((r, ti) => {
          const dims = asked[ti]!;
          sums.push({ members: CELLS.map(cellId), cell: r.total });
          for (const s of r.strata) {
            const key = s.key as Record<string, string>;
            const members = CELLS.filter((k) => dims.every((d) => k[d] === key[d])).map(cellId);
            sums.push({ members, cell: s.cell });
          }
        });
        const t = cellId(target.key);
        // Guaranteed bounds, propagated to a fixed point.
        const low = new Map(CELLS.map((k) => [cellId(k), 0]));
        const high = new Map(CELLS.map((k) => [cellId(k), Infinity]));
        for (let pass = 0; pass < 20; pass++) {
          let changed = false;
          for (const { members, cell } of sums) {
            const [l, h] = rangeOf(cell, m);
            for (const j of members) {
              let othersLow = 0;
              let othersHigh = 0;
              for (const o of members) {
                if (o === j) continue;
                othersLow += low.get(o)!;
                othersHigh += high.get(o)!;
              }
              const nl = Math.max(low.get(j)!, l - othersHigh);
              const nh = Math.min(high.get(j)!, h - othersLow);
              if (nl > low.get(j)! || nh < high.get(j)!) {
                low.set(j, nl);
                high.set(j, nh);
                changed = true;
              }
            }
          }
          if (!changed) break;
        }
        inf.restrict(low.get(t)!, high.get(t)!, m);
        // The target cell itself.
        const used = new Set<Cell>([cellOf.get(t)!]);
        inf.observe(cellOf.get(t)!, 0, m);
        // Each margin minus its other cells, when they were all released;
        // no cell is used twice, so the measurements' noises are independent.
        for (const { members, cell } of sums) {
          if (!members.includes(t) || members.length === 1 || used.has(cell)) continue;
          const others = members.filter((o) => o !== t).map((o) => cellOf.get(o)!);
          if (!others.every(isReleased) || others.some((c) => used.has(c))) continue;
          if (
            inf.measure(
              [{ cell, sign: 1 }, ...others.map((c) => ({ cell: c, sign: -1 as const }))],
              m,
            )
          ) {
            used.add(cell);
            for (const c of others) used.add(c);
          }
        }
      },
    };
  };
}

// ---------------------------------------------------------------------------
// Class 9: differencing
// ---------------------------------------------------------------------------

export interface DifferencingVariant {
  readonly name: string;
  readonly round: (i: number) => LinearRound;
  readonly truth: number;
}

/** A pair of cohorts, big minus small = the target, both without two other patients. */
function pairRound(big: Expr, small: Expr, exclusions: readonly Expr[]) {
  return (i: number): LinearRound => {
    const e = exclusions[i % exclusions.length]!;
    return {
      queries: [query(all(big, not(e))), query(all(small, not(e)))],
      use: ([b, s], inf, m) => {
        inf.measure(
          [
            { cell: b!.total, sign: 1 },
            { cell: s!.total, sign: -1 },
          ],
          m,
        );
      },
    };
  };
}

/** The four differencing variants of the issue, each with a target of 1..9 patients. */
export function differencingVariants(pop: Population, seed: number): DifferencingVariant[] {
  const variants: DifferencingVariant[] = [];

  // By period: patients whose first J06.9 falls between two dates.
  {
    const code = 'J06.9';
    const upTo = (to: string) => condition(code, { period: { to } });
    let found: DifferencingVariant | undefined;
    for (let d = 0; d < 3000 && found === undefined; d += 17) {
      const d1 = addDays('2016-01-01', d + seed * 5);
      const d2 = addDays(d1, 30);
      const big = pop.truth(query(upTo(d2))).total.count;
      const small = pop.truth(query(upTo(d1))).total.count;
      if (big - small >= 1 && big - small <= 9 && small >= 60) {
        const gap = pop.members(all(upTo(d2), not(upTo(d1))));
        found = {
          name: 'by period',
          round: pairRound(
            upTo(d2),
            upTo(d1),
            exclusionPairs(pop, outside(pop, upTo(d1), gap), 300, seed),
          ),
          truth: big - small,
        };
      }
    }
    if (found === undefined) throw new Error('no period difference of 1..9');
    variants.push(found);
  }

  // atLeast 1 vs 2: patients with exactly one check-up encounter.
  {
    const checkUp = (atLeast: number) => ({
      encounter: { code: [{ system: 'http://snomed.info/sct', code: '185349003' }], atLeast },
    });
    const gap = pop.members(all(checkUp(1), not(checkUp(2))));
    if (gap.size < 1 || gap.size > 9) throw new Error('no atLeast difference of 1..9');
    variants.push({
      name: 'atLeast 1 vs 2',
      round: pairRound(
        checkUp(1),
        checkUp(2),
        exclusionPairs(pop, outside(pop, checkUp(2), gap), 300, seed + 1),
      ),
      truth: gap.size,
    });
  }

  // A stratum alone vs in a table: the deceased with a condition are the
  // small stratum; the table's total minus the other stratum asked alone.
  {
    const dead = { patient: { deceased: true } };
    const alive = { patient: { deceased: false } };
    const code = ['I25.1', 'N18.3', 'E78.5', 'J20.9']
      .map((c) => ({ c, n: pop.truth(query(all(dead, condition(c)))).total.count }))
      .find(({ n }) => n >= 1 && n <= 9);
    if (code === undefined) throw new Error('no small deceased stratum');
    const small = all(dead, condition(code.c));
    const exclusions = exclusionPairs(pop, outside(pop, alive, pop.members(small)), 300, seed + 2);
    variants.push({
      name: 'stratum alone vs in a table',
      truth: code.n,
      round: (i) => {
        const cohort = all(any(small, alive), not(exclusions[i % exclusions.length]!));
        return {
          queries: [query(cohort, { stratify: ['deceased'] }), query(all(cohort, alive))],
          use: ([table, alone], inf, m) => {
            inf.measure(
              [
                { cell: table!.total, sign: 1 },
                { cell: alone!.total, sign: -1 },
              ],
              m,
            );
            inf.observe(stratum(table!, { deceased: 'true' }), 0, m);
          },
        };
      },
    });
  }

  // Total vs summary n vs histogram missing: the patients of a small set
  // without an HbA1c, among many with one.
  {
    const code = ['I21.9', 'J45.9', 'E11.9', 'I48.9']
      .map((c) => ({ c, n: pop.truth(query(all(condition(c), not(hasHba1c)))).total.count }))
      .find(({ n }) => n >= 1 && n <= 9);
    if (code === undefined) throw new Error('no small set without HbA1c');
    const small = all(condition(code.c), not(hasHba1c));
    const exclusions = exclusionPairs(
      pop,
      outside(pop, hasHba1c, pop.members(small)),
      600,
      seed + 3,
    );
    variants.push({
      name: 'total vs summary n vs histogram missing',
      truth: code.n,
      round: (i) => {
        // Other patients left out of each query: the summary's n and the
        // histogram's bin count different patient sets.
        const cohort = (k: number) =>
          all(any(small, hasHba1c), not(exclusions[k % exclusions.length]!));
        return {
          queries: [
            query(cohort(2 * i), {
              measures: [{ count: 'patients' }, { summary: { observation: HBA1C, unit: '%' } }],
            }),
            query(cohort(2 * i + 1), {
              measures: [
                { count: 'patients' },
                { histogram: { observation: HBA1C, unit: '%', edges: [0, 1000] } },
              ],
            }),
          ],
          use: ([withSummary, withHistogram], inf, m) => {
            const summary = withSummary!.measures[1] as { n: Cell };
            inf.measure(
              [
                { cell: withSummary!.total, sign: 1 },
                { cell: summary.n, sign: -1 },
              ],
              m,
            );
            const histogram = withHistogram!.measures[1] as {
              bins: { cell: Cell }[];
              missing: Cell;
            };
            inf.measure(
              [
                { cell: withHistogram!.total, sign: 1 },
                { cell: histogram.bins[0]!.cell, sign: -1 },
              ],
              m,
            );
            inf.observe(histogram.missing, 0, m);
          },
        };
      },
    });
  }
  return variants;
}

// ---------------------------------------------------------------------------
// Class 1: exact statistics
// ---------------------------------------------------------------------------

/** Identifiable patients with an HbA1c, and their latest value. */
export function labTargets(
  pop: Population,
  count: number,
): { patient: OraclePatient; value: number }[] {
  const out: { patient: OraclePatient; value: number }[] = [];
  const step = Math.max(1, Math.floor(pop.byBirth.length / (count * 4)));
  for (let i = 0; i < pop.byBirth.length && out.length < count; i += step) {
    const p = pop.byBirth[i]!;
    if (!pop.identifiable.has(p.id)) continue;
    const r = pop.truth(
      query(who(p), { measures: [{ summary: { observation: HBA1C, unit: '%' } }] }),
    );
    const m = r.measures[0];
    if (m?.type === 'summary' && m.n.count === 1 && m.mean !== null) {
      out.push({ patient: p, value: m.mean });
    }
  }
  return out;
}

/**
 * Two summaries of cohorts one patient apart: n' * mean' - n * mean is that
 * patient's value. Repeated over paddings while the budget lasts; the guess
 * is the average, to the 0.1 % the values are recorded in.
 */
export async function exactStatisticsAttack(
  attacker: Attacker,
  pop: Population,
  target: { patient: OraclePatient; value: number },
  seed: number,
  maxPairs: number,
): Promise<Trial> {
  const paddings = birthWindows(pop, 150, maxPairs, seed);
  const summary = (cohort: Expr) =>
    query(cohort, { measures: [{ summary: { observation: HBA1C, unit: '%' } }] });
  const estimates: number[] = [];
  let exact = true;
  for (const b of paddings) {
    const base = all(hasHba1c, b, not(who(target.patient)));
    const without = await attacker.ask(summary(base));
    if (without === undefined) break;
    const withT = await attacker.ask(summary(any(base, who(target.patient))));
    if (withT === undefined) break;
    const m = mech(withT);
    const s0 = without.measures[0] as { n: Cell; mean?: number };
    const s1 = withT.measures[0] as { n: Cell; mean?: number };
    if (!isReleased(s0.n) || !isReleased(s1.n) || s0.mean === undefined || s1.mean === undefined) {
      continue;
    }
    const [l0, h0] = rangeOf(s0.n, m);
    const [l1, h1] = rangeOf(s1.n, m);
    exact &&= l0 === h0 && l1 === h1 && m.maxNoise === 0;
    estimates.push(s1.n.count * s1.mean - s0.n.count * s0.mean);
  }
  const guess =
    estimates.length === 0
      ? undefined
      : Math.round((estimates.reduce((a, b) => a + b, 0) / estimates.length) * 10) / 10;
  return {
    label: `value of ${target.patient.id}`,
    truth: Math.round(target.value * 10) / 10,
    guess,
    certain: estimates.length > 0 && exact,
    queries: attacker.answers,
  };
}

// ---------------------------------------------------------------------------
// Class 2: exact zeros as an oracle
// ---------------------------------------------------------------------------

const GENDER_SEARCH = ['female', 'male'] as const;

/**
 * Rebuilds the members of a small cohort by sex and birth date: a range
 * proven empty is dropped, a range proven to hold someone is split, down to
 * single days. Cells proven neither way are split too (they might hold
 * someone), which is where a protected node leaves the attacker.
 */
export async function zeroOracleAttack(
  attacker: Attacker,
  pop: Population,
  target: Expr,
  label: string,
): Promise<Trial> {
  const truth = [...pop.members(target)]
    .map((id) => pop.data.patients.get(id)!)
    .map((p) => `${p.gender}|${p.birthDate}`)
    .sort();
  const claims: string[] = [];
  let proven = true;
  let complete = true;
  const stack: { gender: string; from: string; to: string }[] = GENDER_SEARCH.map((gender) => ({
    gender,
    from: '1900-01-01',
    to: AS_OF,
  }));
  while (stack.length > 0) {
    const { gender, from, to } = stack.shift()!;
    const r = await attacker.ask(
      query(all(target, { patient: { gender: [gender], birthDate: { from, to } } })),
    );
    if (r === undefined) {
      complete = false;
      break;
    }
    const [low, high] = rangeOf(r.total, mech(r));
    if (high === 0) continue; // proven empty: dropped
    if (from === to) {
      // One day of one sex: the count if it is exact, else a guess from the cell.
      if (low !== high) proven = false;
      const n = low === high ? low : isReleased(r.total) ? r.total.count : 0;
      for (let k = 0; k < n; k++) claims.push(`${gender}|${from}`);
      continue;
    }
    const mid = addDays(from, Math.floor(daysBetween(from, to) / 2));
    stack.push({ gender, from, to: mid }, { gender, from: addDays(mid, 1), to });
  }
  return {
    label,
    truth,
    guess: complete ? claims.sort() : undefined,
    certain: complete && proven,
    queries: attacker.answers,
  };
}

// ---------------------------------------------------------------------------
// Class 3: histogram edges
// ---------------------------------------------------------------------------

/** Cohorts of patients with an HbA1c whose highest value is held by one patient alone. */
export function extremeTargets(pop: Population): { cohort: Expr; label: string; max: number }[] {
  const cohorts: { cohort: Expr; label: string }[] = [
    { cohort: hasHba1c, label: 'everyone' },
    { cohort: all(hasHba1c, { patient: { gender: ['female'] } }), label: 'women' },
    { cohort: all(hasHba1c, { patient: { gender: ['male'] } }), label: 'men' },
    { cohort: all(hasHba1c, { patient: { age: { min: 65 } } }), label: '65+' },
    { cohort: all(hasHba1c, { patient: { age: { max: 64 } } }), label: 'under 65' },
  ];
  const out: { cohort: Expr; label: string; max: number }[] = [];
  for (const c of cohorts) {
    const s = pop.truth(
      query(c.cohort, { measures: [{ summary: { observation: HBA1C, unit: '%' } }] }),
    ).measures[0];
    if (s?.type !== 'summary' || s.n.count === 0) continue;
    const max = s.maxAbs;
    const top = pop.truth(
      query(c.cohort, {
        measures: [{ histogram: { observation: HBA1C, unit: '%', edges: [-1e9, max - 0.05] } }],
      }),
    ).measures[0];
    if (top?.type === 'histogram' && top.bins[1]!.cell.count === 1) out.push({ ...c, max });
  }
  return out;
}

/**
 * Edges [-1e9, e]: the top bin counts the values >= e. A binary search on e
 * (on the 0.1 grid values are recorded on) finds the highest value: the last
 * e whose top bin holds someone. A node that refuses fine edges gets them
 * rounded to whole units.
 */
export async function histogramEdgeAttack(
  attacker: Attacker,
  target: { cohort: Expr; label: string; max: number },
): Promise<Trial> {
  let lo = 0; // tenths: some value >= lo/10 (assumed)
  let hi = 1000; // tenths: no value >= hi/10 (assumed)
  let loProven = false;
  let hiProven = false;
  let whole = false;
  const topBin = async (tenths: number): Promise<{ cell: Cell; m: Mechanism } | undefined> => {
    const edge = whole ? Math.round(tenths / 10) : tenths / 10;
    const q = query(target.cohort, {
      measures: [{ histogram: { observation: HBA1C, unit: '%', edges: [-1e9, edge] } }],
    });
    const reply = await attacker.send(q);
    if (reply === undefined) return undefined;
    if (!reply.ok) {
      if (reply.status === 400 && !whole) {
        whole = true;
        return topBin(tenths);
      }
      throw new Error(`node refused: ${reply.status} ${reply.code}`);
    }
    const h = reply.result.measures[0] as { bins: { cell: Cell }[] };
    return { cell: h.bins[1]!.cell, m: mech(reply.result) };
  };
  let complete = true;
  while (hi - lo > (whole ? 10 : 1)) {
    const mid = whole ? Math.round((lo + hi) / 20) * 10 : (lo + hi) >>> 1;
    if (mid <= lo || mid >= hi) break;
    const r = await topBin(mid);
    if (r === undefined) {
      complete = false;
      break;
    }
    const [low, high] = rangeOf(r.cell, r.m);
    const someone = low >= 1 || (isReleased(r.cell) && r.cell.count >= 1);
    if (someone) {
      lo = mid;
      loProven = low >= 1;
    } else {
      hi = mid;
      hiProven = high === 0;
    }
  }
  return {
    label: `highest HbA1c of ${target.label}`,
    truth: Math.round(target.max * 10) / 10,
    guess: complete ? lo / 10 : undefined,
    certain: complete && !whole && loProven && hiProven,
    queries: attacker.answers,
  };
}

// ---------------------------------------------------------------------------
// Class 4: threshold walk
// ---------------------------------------------------------------------------

/**
 * P OR {j known patients outside P} for j = 0, 1, 2, ... until the node
 * releases it; then again with other known patients, while the budget lasts.
 * Every answer is a noisy or suppressed |P| + j.
 */
export async function thresholdWalkAttack(
  attacker: Attacker,
  pop: Population,
  target: Expr,
  seed: number,
  maxWalks: number,
): Promise<CountInference> {
  const inP = pop.members(target);
  const known = pop.byBirth.filter((p) => pop.identifiable.has(p.id) && !inP.has(p.id));
  // A different order of known patients per trial.
  const offset = (seed * 97) % known.length;
  const order = [...known.slice(offset), ...known.slice(0, offset)];
  const inf = new CountInference();
  let next = 0;
  for (let walk = 0; walk < maxWalks; walk++) {
    // P alone is asked once: asked again it would get the same answer.
    const padding: OraclePatient[] = walk === 0 ? [] : [order[next++ % order.length]!];
    for (let j = padding.length; j <= 30; j++) {
      const r = await attacker.ask(query(any(target, ...padding.map(who))));
      if (r === undefined) return inf;
      const m = mech(r);
      inf.observe(r.total, j, m);
      if (inf.certain || inf.guess.probability >= STOP_AT) return inf;
      if (isReleased(r.total)) break;
      padding.push(order[next++ % order.length]!);
    }
  }
  return inf;
}

// ---------------------------------------------------------------------------
// Class 11: the set-equality oracle
// ---------------------------------------------------------------------------

export interface MembershipTarget {
  readonly cohort: Expr;
  readonly code: string;
  /** Patients of the cohort with the code: 0 or 1. */
  readonly inside: number;
  /** The cohort's true size (what the strongest attacker knows). */
  readonly size: number;
}

/** Windows of about 60 patients paired with rare codes: half hold one patient with the code, half none. */
export function membershipTargets(
  pop: Population,
  count: number,
  seed: number,
): MembershipTarget[] {
  const codes = rareConditions(pop).map((c) => c.code);
  const windows = birthWindows(pop, 60, count * 3, seed);
  const out: MembershipTarget[] = [];
  let wantInside = seed % 2;
  for (const w of windows) {
    if (out.length >= count) break;
    const size = pop.truth(query(w)).total.count;
    for (const code of codes) {
      const inside = pop.truth(query(all(w, condition(code)))).total.count;
      if (inside === wantInside) {
        out.push({ cohort: w, code, inside, size });
        wantInside = 1 - wantInside;
        break;
      }
    }
  }
  return out;
}

/**
 * Asks A and A AND NOT x. Under noise keyed by the patient set, equal sets
 * give equal answers, so different answers prove that someone in A has x;
 * the attacker also weighs both answers by the public noise model, knowing
 * |A| exactly.
 */
export async function setEqualityAttack(
  attacker: Attacker,
  target: MembershipTarget,
  label: string,
): Promise<Trial | undefined> {
  const a = await attacker.ask(query(target.cohort));
  if (a === undefined) return undefined;
  const aNotX = await attacker.ask(query(all(target.cohort, not(condition(target.code)))));
  if (aNotX === undefined) return undefined;
  const m = mech(a);
  const inf = new CountInference([0, 1]);
  inf.observe(aNotX.total, target.size, m, -1);
  const differ = JSON.stringify(a.total) !== JSON.stringify(aNotX.total);
  const setKeyed = m.kind === 'cell-key';
  if (setKeyed && differ) {
    return { label, truth: target.inside, guess: 1, certain: true, confidence: 1 };
  }
  return inf.trial(label, target.inside);
}
