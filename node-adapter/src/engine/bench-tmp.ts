import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { compileQuery, compileUnitProbe, readStoredUnits, type EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';

const N = Number(process.argv[2] ?? 100_000);
const path = `/tmp/bench-${N}.duckdb`;
const store = await openStore(path);
const c = store.connection;
const have = Number((await (await c.runAndReadAll('SELECT count(*) AS n FROM patients')).getRowObjects())[0]!.n);
if (have !== N) {
  const t = performance.now();
  for (const t of ['patients', 'conditions', 'observations', 'medications', 'observation_value_codes']) await c.run(`DELETE FROM ${t}`);
  await c.run(`INSERT INTO patients SELECT 'p' || i,
      CASE WHEN i % 100 < 49 THEN 'female' WHEN i % 100 < 98 THEN 'male' WHEN i % 100 = 98 THEN 'other' ELSE 'unknown' END,
      CASE WHEN i % 31 = 0 THEN NULL ELSE DATE '1925-01-01' + CAST(hash(i) % 36000 AS INTEGER) END,
      i % 37 = 0, hash(i * 7) % 4294967296 FROM range(${N}) t(i)`);
  const icd = `CASE WHEN h % 100 < 6 THEN 'E119' WHEN h % 100 < 9 THEN 'E1165' WHEN h % 100 < 25 THEN 'I10' WHEN h % 100 < 27 THEN 'E10' ELSE 'X' || CAST(h % 400 AS VARCHAR) END`;
  await c.run(`INSERT INTO conditions SELECT 'c' || j, 'p' || (hash(j) % ${N}), DATE '2000-01-01' + CAST(hash(j * 3) % 9000 AS INTEGER),
      'http://hl7.org/fhir/sid/icd-10', ${icd} FROM (SELECT j, hash(j * 5) AS h FROM range(${N * 5}) t(j))`);
  await c.run(`INSERT INTO observations SELECT 'o' || j, 'p' || (hash(j) % ${N}), DATE '2010-01-01' + CAST(hash(j * 3) % 5800 AS INTEGER),
      'http://loinc.org',
      CASE WHEN h % 10 = 0 THEN '4548-4' WHEN h % 10 = 1 THEN '2339-0' WHEN h % 10 = 2 THEN '15074-8' ELSE 'L' || CAST(h % 50 AS VARCHAR) END,
      CASE WHEN h % 10 = 0 THEN 4 + (hash(j * 11) % 80) / 10.0 WHEN h % 10 = 1 THEN 60 + hash(j * 11) % 200 WHEN h % 10 = 2 THEN 3 + (hash(j * 11) % 140) / 10.0 ELSE hash(j * 11) % 100 END,
      CASE WHEN h % 10 = 0 THEN '%' WHEN h % 10 = 1 THEN 'mg/dL' WHEN h % 10 = 2 THEN 'mmol/L' ELSE 'kg' END
      FROM (SELECT j, hash(j * 5) AS h FROM range(${N * 10}) t(j))`);
  await c.run(`INSERT INTO medications SELECT 'm' || j, 'p' || (hash(j) % ${N}), DATE '2005-01-01' + CAST(hash(j * 3) % 7000 AS INTEGER),
      'http://www.whocc.no/atc', CASE WHEN hash(j * 5) % 10 < 3 THEN 'A10BA02' WHEN hash(j * 5) % 10 < 4 THEN 'A10BB01' ELSE 'C' || CAST(hash(j * 5) % 90 AS VARCHAR) END
      FROM range(${N * 3}) t(j)`);
  // The order ingest publishes in (ingest/publish.ts), so zone maps prune by code.
  for (const [t, order] of [['patients', 'patient_id'], ['conditions', 'system, code, patient_id, event_date, resource_id'], ['observations', 'system, code, patient_id, event_date, resource_id'], ['medications', 'system, code, patient_id, event_date, resource_id']]) {
    await c.run(`CREATE TEMP TABLE s AS SELECT * FROM ${t!} ORDER BY ${order!}`);
    await c.run(`DELETE FROM ${t!}`);
    await c.run(`INSERT INTO ${t!} SELECT * FROM s`);
    await c.run('DROP TABLE s');
  }
  await c.run('CHECKPOINT');
  console.log(`built ${N} patients in ${Math.round(performance.now() - t)} ms`);
}
const runner = createDuckDbRunner(c);
const engine = createEngine({ runner, dialect: duckDbDialect });
const q = (body: Record<string, unknown>): EvaluableQuery => ({ ...canonicalQuery(parseQuery({ version: 1, ...body })), asOf: '2026-01-01' });
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const HBA1C = [{ system: 'http://loinc.org', code: '4548-4' }];
const queries: [string, EvaluableQuery][] = [
  ['single code count', q({ cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } } })],
  ['prefix count (E11*)', q({ cohort: { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } } })],
  ['example 1 (age, E11*, by ageBand)', q({ cohort: { all: [{ patient: { gender: ['female'], age: { min: 40, max: 79 } } }, { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } }] }, stratify: [{ ageBand: [0, 18, 40, 65, 80] }] })],
  ['example 2 (HbA1c value, not metformin, histogram)', q({ cohort: { all: [{ observation: { code: HBA1C, value: { min: 6.5, unit: '%' }, period: { from: '2020-01-01' } } }, { not: { medication: { code: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] } } }] }, measures: [{ count: 'patients' }, { histogram: { observation: HBA1C, unit: '%', edges: [0, 5.7, 6.5, 8, 10], pick: 'latest' } }] })],
  ['3 dimensions (gender x ageBand x 3 codes)', q({ cohort: { condition: { code: [{ system: ICD10, code: 'E1', descendants: true }, { system: ICD10, code: 'I10' }] } }, stratify: ['gender', { ageBand: [0, 18, 40, 65, 80] }, { codes: { of: 'condition', in: [{ system: ICD10, code: 'E11', descendants: true }, { system: ICD10, code: 'I10' }, { system: ICD10, code: 'E10' }] } }] })],
  ['glucose mg/dL vs mmol/L + summary mean', q({ cohort: { observation: { code: [{ system: 'http://loinc.org', code: '2339-0' }, { system: 'http://loinc.org', code: '15074-8' }], value: { min: 126, unit: 'mg/dL' }, atLeast: 2 } }, measures: [{ count: 'patients' }, { summary: { observation: [{ system: 'http://loinc.org', code: '2339-0' }, { system: 'http://loinc.org', code: '15074-8' }], unit: 'mmol/L', pick: 'mean' } }] })],
  ['nested any/not/ageAtEvent', q({ cohort: { any: [{ all: [{ condition: { code: [{ system: ICD10, code: 'I10' }], ageAtEvent: { max: 50 } } }, { not: { patient: { deceased: true } } }] }, { medication: { code: [{ system: 'http://www.whocc.no/atc', code: 'A10', descendants: true }], atLeast: 3 } }] }, stratify: ['gender', 'deceased'] })],
];
for (const [name, query] of queries) {
  const times: number[] = [];
  let total = 0;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    const r = await engine.evaluate(query);
    times.push(performance.now() - t);
    total = r.total.count;
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(52)} total ${String(total).padStart(8)}  median ${times[3]!.toFixed(1)} ms  min ${times[0]!.toFixed(1)} ms`);
}
if (process.argv[3] !== undefined) {
  const query = queries[Number(process.argv[3])]![1];
  const probe = compileUnitProbe(query, duckDbDialect);
  const units = probe ? readStoredUnits(probe.codeSets, await runner.all(probe.sql, probe.params)) : undefined;
  const compiled = compileQuery(query, units ? { dialect: duckDbDialect, storedUnits: units } : { dialect: duckDbDialect });
  const literal = compiled.sql.replace(/\$(\d+)/g, (_, i: string) => {
    const v = compiled.params[Number(i) - 1];
    return typeof v === 'string' ? `'${v}'` : String(v);
  });
  for (const [label, sql, params] of [['params', compiled.sql, compiled.params], ['literal', literal, []]] as const) {
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await runner.all(sql, params);
      times.push(performance.now() - t);
    }
    console.log(label, times.map((x) => x.toFixed(0)).join(' '));
  }
  if (probe) {
    const t = performance.now();
    await runner.all(probe.sql, probe.params);
    console.log('probe', (performance.now() - t).toFixed(0));
  }
  await c.run("SET enable_profiling = 'json'");
  await c.run("SET profiling_output = '/tmp/prof.json'");
  await runner.all(compiled.sql, compiled.params);
  await c.run('SET enable_profiling = \'no_output\'');
}
store.close();
