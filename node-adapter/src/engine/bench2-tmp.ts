import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { compileQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
const store = await openStore(`/tmp/bench-${process.argv[2]}.duckdb`, { readOnly: true });
const runner = createDuckDbRunner(store.connection);
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
async function time(label: string, sql: string, params: readonly (string | number)[]) {
  const ts: number[] = [];
  let n: unknown;
  for (let i = 0; i < 9; i++) { const t = performance.now(); const r = await runner.all(sql, params); ts.push(performance.now() - t); n = r[0]?.n; }
  ts.sort((a, b) => a - b);
  console.log(`${label.padEnd(40)} n=${String(n).padStart(7)} min ${ts[0]!.toFixed(1)} median ${ts[4]!.toFixed(1)} ms`);
}
for (const code of ['X50', 'E10']) {
  const q = { ...canonicalQuery(parseQuery({ version: 1, cohort: { condition: { code: [{ system: ICD10, code }] } } })), asOf: '2026-01-01' };
  const c = compileQuery(q, { dialect: duckDbDialect });
  await time(`compiled ${code}`, c.sql, c.params as (string | number)[]);
  await time(`hand IN ${code}`, `SELECT count(*) AS n, sum(record_key) % 4294967296 AS ck FROM patients WHERE patient_id IN (SELECT patient_id FROM conditions WHERE system = $1 AND code = $2)`, [ICD10, code]);
  await time(`hand distinct-join ${code}`, `SELECT count(*) AS n, sum(p.record_key) % 4294967296 AS ck FROM (SELECT DISTINCT patient_id FROM conditions WHERE system = $1 AND code = $2) e JOIN patients p USING (patient_id)`, [ICD10, code]);
  await time(`scan only ${code}`, `SELECT count(DISTINCT patient_id) AS n FROM conditions WHERE system = $1 AND code = $2`, [ICD10, code]);
}
await time('count(*) patients', 'SELECT count(*) AS n FROM patients', []);
store.close();
