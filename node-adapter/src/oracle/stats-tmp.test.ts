import { test } from 'vitest';
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { populationArbitrary, queryArbitrary } from './random-population.ts';
import { evaluateOracle } from './oracle.ts';
import { readFhir } from './read-fhir.ts';

test('stats', () => {
  const samples = fc.sample(fc.tuple(populationArbitrary(), queryArbitrary()), 400);
  let nonTrivial = 0,
    empty = 0,
    full = 0,
    histNonEmpty = 0,
    hist = 0,
    summ = 0,
    summN = 0,
    strataNZ = 0,
    strata = 0,
    pats = 0;
  const leafHits = new Map<string, [number, number]>();
  for (const [res, raw] of samples) {
    const q = { ...canonicalQuery(parseQuery(raw)), asOf: raw.asOf };
    const data = readFhir(res);
    pats += data.patients.size;
    const r = evaluateOracle(data, q);
    const n = data.patients.size;
    if (r.total.count === 0) empty++;
    else if (r.total.count === n) full++;
    else nonTrivial++;
    for (const s of r.strata) {
      strata++;
      if (s.cell.count > 0) strataNZ++;
    }
    for (const m of r.measures) {
      if (m.type === 'histogram') {
        hist++;
        if (m.bins.some((b) => b.cell.count > 0)) histNonEmpty++;
      }
      if (m.type === 'summary') {
        summ++;
        if (m.n.count > 0) summN++;
      }
    }
    // leaf-level hit rates
    const walk = (e: any) => {
      const k = Object.keys(e)[0]!;
      if (k === 'all' || k === 'any') return e[k].forEach(walk);
      if (k === 'not') return walk(e.not);
      const sub = { ...q, cohort: e, stratify: [], measures: [{ count: 'patients' as const }] };
      const c = evaluateOracle(data, sub).total.count;
      const kk =
        k === 'observation' ? (e[k].value ? 'obs-value-' + e[k].value.unit : 'obs-code') : k;
      const cur = leafHits.get(kk) ?? [0, 0];
      cur[0]++;
      if (c > 0) cur[1]++;
      leafHits.set(kk, cur);
    };
    walk(q.cohort);
  }
  console.log({
    nonTrivial,
    empty,
    full,
    histNonEmpty,
    hist,
    summ,
    summN,
    strataNZ,
    strata,
    avgPatients: pats / samples.length,
  });
  console.log([...leafHits]);
});
