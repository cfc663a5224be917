import { createDuckDbRunner, openStore } from '../../node-adapter/src/store/open.ts';
import {
  compileQuery,
  compileUnitProbe,
  duckDbDialect,
  readStoredUnits,
} from '../../node-adapter/src/engine/index.ts';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { QUERIES } from './node-queries.ts';
import { summarise, timeMs } from './stats.ts';
const store = await openStore(process.argv[2]!, { readOnly: true });
const runner = createDuckDbRunner(store.connection);
const ids = (process.argv[3] ?? '').split(',');
for (const q of QUERIES.filter((x) => ids.includes(x.id))) {
  const query = { ...canonicalQuery(parseQuery(q.query)), asOf: '2026-01-01' };
  const probe = compileUnitProbe(query, duckDbDialect);
  const su = probe
    ? readStoredUnits(probe.codeSets, await runner.all(probe.sql, probe.params))
    : undefined;
  const c = compileQuery(
    query,
    su ? { dialect: duckDbDialect, storedUnits: su } : { dialect: duckDbDialect },
  );
  console.log(q.id, '\n', c.sql, '\n', JSON.stringify(c.params));
  if (process.argv[4] === 'explain') {
    const rows = await runner.all('EXPLAIN ANALYZE ' + c.sql, c.params);
    console.log(rows.map((r) => r.explain_value).join('\n'));
    const rows2 = await runner.all('EXPLAIN ANALYZE ' + q.handSql, []);
    console.log(rows2.map((r) => r.explain_value).join('\n'));
  }
  const s1: number[] = [],
    s2: number[] = [];
  for (let i = 0; i < 25; i++) {
    s1.push(await timeMs(() => runner.all(c.sql, c.params)));
    s2.push(await timeMs(() => runner.all(q.handSql, [])));
  }
  console.log(q.id, 'compiled', summarise(s1.slice(5)), 'hand', summarise(s2.slice(5)));
}
store.close();
