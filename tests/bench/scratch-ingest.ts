import { ingest } from '../../node-adapter/src/ingest/index.ts';
import { openStore, createDuckDbRunner } from '../../node-adapter/src/store/open.ts';
const secret = new TextEncoder().encode('bench-record-key-secret-0001');
const r = await ingest({ sources: ['.data/bench/scratch/ndjson'], dbPath: '.data/bench/scratch/store.duckdb', recordKeySecret: secret });
console.log(JSON.stringify({ ...r, badLines: r.badLines.slice(0, 3) }, null, 1));
const s = await openStore('.data/bench/scratch/store.duckdb', { readOnly: true });
const run = createDuckDbRunner(s.connection);
const n = 10000;
for (const t of ['conditions', 'observations', 'procedures', 'medications', 'immunizations', 'encounters']) {
  const rows = await run.all(`SELECT system, code, count(DISTINCT patient_id) AS n FROM ${t} GROUP BY ALL ORDER BY n DESC`, []);
  for (const row of rows) console.log(t, row.system, row.code, (Number(row.n) / n * 100).toFixed(2));
}
console.log(await run.all('SELECT version() AS v', []));
s.close();
