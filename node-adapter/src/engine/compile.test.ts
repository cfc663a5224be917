import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { describe, expect, test } from 'vitest';
import { ageBandLabels, latestBirthDateForAge } from './age.ts';
import {
  codeSetKey,
  compileQuery,
  compileUnitProbe,
  quantityCodeSets,
  readStoredUnits,
  type CompiledSql,
  type EvaluableQuery,
  type StoredUnits,
} from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { postgresDialect } from './postgres-dialect.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const GLUCOSE = [{ system: LOINC, code: '2339-0' }] as const;

function query(body: Record<string, unknown>, asOf = '2026-01-01'): EvaluableQuery {
  return { ...canonicalQuery(parseQuery({ version: 1, ...body })), asOf };
}

function cohortSql(cohort: Record<string, unknown>, storedUnits?: StoredUnits, asOf?: string) {
  const compiled = compileQuery(query({ cohort }, asOf), {
    dialect: duckDbDialect,
    ...(storedUnits ? { storedUnits } : {}),
  });
  // The cohort CTE is the first line.
  return { where: compiled.sql.split('\n')[0]!, ...compiled };
}

/** The SQL with every placeholder replaced by its value, for readable assertions. */
function inline({ sql, params }: CompiledSql): string {
  return sql.replace(/\$(\d+)/g, (_, i: string) => JSON.stringify(params[Number(i) - 1]));
}

describe('age bounds', () => {
  test('whole years at asOf become birth-date bounds', () => {
    expect(latestBirthDateForAge('2026-01-01', 40)).toBe('1986-01-01');
    expect(latestBirthDateForAge('2026-01-01', 0)).toBe('2026-01-01');
    // Born 2023-02-28 turns 1 on 2024-02-28; nobody is born on 2023-02-29.
    expect(latestBirthDateForAge('2024-02-29', 1)).toBe('2023-02-28');
    expect(latestBirthDateForAge('2024-02-29', 4)).toBe('2020-02-29');
    expect(() => latestBirthDateForAge('2024-2-29', 1)).toThrow(RangeError);
  });

  test('age band labels', () => {
    expect(ageBandLabels([0, 18, 40, 65, 80])).toEqual(['0-17', '18-39', '40-64', '65-79', '80+']);
    expect(ageBandLabels([0, 1])).toEqual(['0-0', '1+']);
  });
});

describe('values are bound, never spliced', () => {
  test('a hostile code and system reach SQL only as parameters', () => {
    const hostile = "x');DROP_TABLE_patients;--";
    const { sql, params } = cohortSql({
      condition: { code: [{ system: `urn:${hostile}`, code: hostile }] },
    });
    expect(sql).not.toContain('DROP');
    expect(sql).not.toContain("'");
    expect(params).toContain(hostile);
    expect(params).toContain(`urn:${hostile}`);
  });

  test('equal values share one placeholder', () => {
    const { params } = cohortSql({
      any: [
        { condition: { code: [{ system: ICD10, code: 'I10' }] } },
        { condition: { code: [{ system: ICD10, code: 'I10' }], atLeast: 2 } },
      ],
    });
    expect(params.filter((p) => p === ICD10)).toHaveLength(1);
  });
});

describe('cohort criteria', () => {
  test('code sets: equality, prefixes for descendants, ICD-10 without dots, one branch per system', () => {
    const { where, ...c } = cohortSql({
      condition: {
        code: [
          { system: ICD10, code: 'E11.9' },
          { system: ICD10, code: 'E10.1' },
          { system: ICD10, code: 'I2', descendants: true },
          { system: 'http://snomed.info/sct', code: '44054006' },
        ],
      },
    });
    const text = inline({ sql: where, params: c.params });
    expect(text).toContain(`e.code IN (CAST("E101" AS VARCHAR), CAST("E119" AS VARCHAR))`);
    expect(text).toContain(`starts_with(e.code, CAST("I2" AS VARCHAR))`);
    expect(text).toContain(
      `e.system = CAST("http://snomed.info/sct" AS VARCHAR) AND e.code = CAST("44054006" AS VARCHAR)`,
    );
    // Counted alone, several codings read from the code index, once per patient.
    expect(text).toContain(
      'cohort AS (SELECT DISTINCT e.patient_key, e.record_key FROM conditions_code_patients e WHERE',
    );
  });

  test('a count of codes alone reads the code index only; anything more reads the patients', () => {
    const one = { condition: { code: [{ system: ICD10, code: 'E11.9' }] } };
    expect(inline({ sql: cohortSql(one).where, params: cohortSql(one).params })).toBe(
      'WITH cohort AS (SELECT e.patient_key, e.record_key FROM conditions_code_patients e ' +
        'WHERE (e.system = CAST("http://hl7.org/fhir/sid/icd-10" AS VARCHAR) AND e.code = CAST("E119" AS VARCHAR)))',
    );
    const throughPatients =
      /FROM patients p WHERE .*p\.patient_key IN \(SELECT e\.patient_key FROM conditions_code_patients e /;
    expect(cohortSql({ all: [one, { patient: { gender: ['female'] } }] }).where).toMatch(
      throughPatients,
    );
    expect(cohortSql({ not: one }).where).toMatch(throughPatients);
    const stratified = compileQuery(
      { ...query({ cohort: one }), stratify: ['gender'] },
      { dialect: duckDbDialect },
    );
    expect(stratified.sql.split('\n')[0]).toMatch(throughPatients);
    // With a date, the events themselves are read.
    const dated = cohortSql({ condition: { ...one.condition, period: { from: '2020-01-01' } } });
    expect(dated.where).toMatch(
      /FROM patients p WHERE .*p\.patient_key IN \(SELECT e\.patient_key FROM conditions e /,
    );
  });

  test('patient criteria: gender any-of, age as birth-date bounds, birthDate range, deceased', () => {
    const c = cohortSql({
      patient: {
        gender: ['male', 'female'],
        age: { min: 40, max: 79 },
        birthDate: { from: '1950-01-01', to: '1969-12-31' },
        deceased: false,
      },
    });
    const text = inline({ sql: c.where, params: c.params });
    expect(text).toContain('p.gender IN (CAST("female" AS VARCHAR), CAST("male" AS VARCHAR))');
    expect(text).toContain('p.birth_date IS NOT NULL');
    expect(text).toContain('p.birth_date <= CAST("1986-01-01" AS DATE)');
    expect(text).toContain('p.birth_date > CAST("1946-01-01" AS DATE)');
    expect(text).toContain('p.birth_date >= CAST("1950-01-01" AS DATE)');
    expect(text).toContain('p.birth_date <= CAST("1969-12-31" AS DATE)');
    expect(text).toContain('p.deceased = CAST(false AS BOOLEAN)');
  });

  test('an age on asOf: birth-date bounds, from the death date for those who died before asOf', () => {
    const c = cohortSql({ patient: { age: { min: 40, max: 79 } } });
    const before = (d: string, years: number) =>
      `CAST(${d} - to_years(CAST(${years} AS INTEGER)) AS DATE)`;
    // Dying never adds years: the bound of min holds for everyone, as a plain comparison.
    expect(inline({ sql: c.where, params: c.params })).toContain(
      'WHERE (p.birth_date IS NOT NULL AND p.birth_date <= CAST("1986-01-01" AS DATE) AND ' +
        'CASE WHEN p.deceased_date < CAST("2026-01-01" AS DATE) THEN ' +
        `(p.birth_date <= ${before('p.deceased_date', 40)} AND p.birth_date > ${before('p.deceased_date', 80)}) ` +
        'ELSE p.birth_date > CAST("1946-01-01" AS DATE) END)',
    );
    // Nothing after the cohort reads the death date unless an age band does.
    expect(c.sql).not.toContain('p.deceased_date, p.deceased');
    const banded = compileQuery(
      query({ cohort: { patient: { gender: ['female'] } }, stratify: [{ ageBand: [0, 40, 80] }] }),
      { dialect: duckDbDialect },
    );
    const text = inline(banded);
    expect(text).toContain(
      'SELECT p.patient_key, p.gender, p.birth_date, p.deceased_date, p.deceased',
    );
    expect(text).toContain(
      'CASE WHEN c.birth_date IS NULL THEN NULL WHEN c.deceased_date < CAST("2026-01-01" AS DATE) THEN ' +
        `CASE WHEN c.birth_date > ${before('c.deceased_date', 0)} THEN NULL ` +
        `WHEN c.birth_date > ${before('c.deceased_date', 40)} THEN 0 ` +
        `WHEN c.birth_date > ${before('c.deceased_date', 80)} THEN 1 ELSE 2 END ` +
        'ELSE CASE WHEN c.birth_date > CAST("2026-01-01" AS DATE) THEN NULL ' +
        'WHEN c.birth_date > CAST("1986-01-01" AS DATE) THEN 0 WHEN c.birth_date > CAST("1946-01-01" AS DATE) THEN 1 ELSE 2 END END AS d0',
    );
  });

  test('an age without min still requires birth on or before asOf', () => {
    const c = cohortSql({ patient: { age: { max: 17 } } }, undefined, '2024-02-29');
    const text = inline({ sql: c.where, params: c.params });
    expect(text).toContain('p.birth_date <= CAST("2024-02-29" AS DATE)');
    expect(text).toContain('p.birth_date > CAST("2006-02-28" AS DATE)');
  });

  test('period, ageAtEvent and atLeast on an event', () => {
    const c = cohortSql({
      procedure: {
        code: [{ system: 'http://snomed.info/sct', code: '73761001' }],
        period: { from: '2015-01-01', to: '2020-12-31' },
        ageAtEvent: { min: 50, max: 75 },
        atLeast: 2,
      },
    });
    const text = inline({ sql: c.where, params: c.params });
    expect(text).toContain('FROM procedures e JOIN patients b ON b.patient_key = e.patient_key');
    expect(text).toContain('e.event_date >= CAST("2015-01-01" AS DATE)');
    expect(text).toContain('e.event_date <= CAST("2020-12-31" AS DATE)');
    const key = (d: string) => `(year(${d}) * 10000 + month(${d}) * 100 + day(${d}))`;
    // The age on the event date, or on the death date when that came first.
    const age =
      `(CASE WHEN b.deceased_date < e.event_date THEN (${key('b.deceased_date')} - ${key('b.birth_date')}) ` +
      `ELSE (${key('e.event_date')} - ${key('b.birth_date')}) END)`;
    expect(text).toContain(`${age} >= CAST(500000 AS INTEGER)`);
    expect(text).toContain(`${age} < CAST(760000 AS INTEGER)`);
    expect(text).toContain(
      'GROUP BY e.patient_key HAVING count(DISTINCT e.resource_id) >= CAST(2 AS BIGINT)',
    );
  });

  test('every event kind reads its table, or its code index when the criterion is codes alone', () => {
    const tables = {
      condition: 'conditions',
      observation: 'observations',
      procedure: 'procedures',
      medication: 'medications',
      immunization: 'immunizations',
      encounter: 'encounters',
    };
    const code = [{ system: 'urn:s', code: 'c' }];
    for (const [kind, table] of Object.entries(tables)) {
      expect(cohortSql({ [kind]: { code } }).where).toContain(
        `FROM ${table}_code_patients e WHERE`,
      );
      for (const narrower of [
        { period: { from: '2020-01-01' } },
        { atLeast: 2 },
        { ageAtEvent: { min: 18 } },
      ]) {
        const { where } = cohortSql({ [kind]: { code, ...narrower } });
        expect(where, JSON.stringify(narrower)).toContain(`FROM ${table} e`);
        expect(where).not.toContain('_code_patients');
      }
    }
  });

  test('valueCode is a semi-join on observation_value_codes, of the same component', () => {
    const c = cohortSql({
      observation: {
        code: [{ system: LOINC, code: '72166-2' }],
        valueCode: [{ system: 'http://snomed.info/sct', code: '449868002' }],
      },
    });
    expect(inline({ sql: c.where, params: c.params })).toContain(
      'EXISTS (SELECT 1 FROM observation_value_codes v WHERE v.resource_id = e.resource_id AND v.component = e.component AND (v.system = CAST("http://snomed.info/sct" AS VARCHAR) AND v.code = CAST("449868002" AS VARCHAR)))',
    );
  });

  test('all, any and not nest as AND, OR and NOT (in canonical order)', () => {
    const c = cohortSql({
      all: [
        { patient: { deceased: true } },
        { not: { any: [{ patient: { gender: ['male'] } }, { patient: { age: { min: 80 } } }] } },
      ],
    });
    expect(inline({ sql: c.where, params: c.params })).toContain(
      'WHERE ((NOT ((p.birth_date IS NOT NULL AND p.birth_date <= CAST("1946-01-01" AS DATE) AND ' +
        'CASE WHEN p.deceased_date < CAST("2026-01-01" AS DATE) THEN ' +
        'p.birth_date <= CAST(p.deceased_date - to_years(CAST(80 AS INTEGER)) AS DATE) ' +
        'ELSE TRUE END) OR p.gender = CAST("male" AS VARCHAR))) AND p.deceased = CAST(true AS BOOLEAN))',
    );
  });
});

describe('value ranges and units', () => {
  const glucoseUnits = (units: [string, string][]): StoredUnits =>
    new Map([
      [codeSetKey(GLUCOSE as never), units.map(([code, unit]) => ({ system: LOINC, code, unit }))],
    ]);

  test('bounds are converted into each stored unit; unconvertible units drop out', () => {
    const c = cohortSql(
      { observation: { code: [...GLUCOSE], value: { min: 126, unit: 'mg/dL' } } },
      glucoseUnits([
        ['2339-0', 'mg/dL'],
        ['2339-0', 'mmol/L'],
        ['2339-0', 'kg'],
      ]),
    );
    const text = inline({ sql: c.where, params: c.params });
    expect(text).toContain(
      '(e.unit = CAST("mg/dL" AS VARCHAR) AND e.value >= CAST(126 AS DOUBLE))',
    );
    const mmol =
      /e\.unit = CAST\("mmol\/L" AS VARCHAR\) AND e\.value >= CAST\(([\d.]+) AS DOUBLE\)/.exec(
        text,
      );
    expect(Number(mmol?.[1])).toBeCloseTo(126 / 18.016, 9);
    expect(text).not.toContain('"kg"');
  });

  test('a unit that converts for one code but not another names the codes', () => {
    const storedUnits: StoredUnits = new Map([
      [
        codeSetKey([
          { system: LOINC, code: '2339-0' },
          { system: 'urn:local', code: 'GLU' },
        ]),
        [
          { system: LOINC, code: '2339-0', unit: 'mmol/L' },
          { system: 'urn:local', code: 'GLU', unit: 'mmol/L' },
        ],
      ],
    ]);
    const c = cohortSql(
      {
        observation: {
          code: [
            { system: LOINC, code: '2339-0' },
            { system: 'urn:local', code: 'GLU' },
          ],
          value: { max: 200, unit: 'mg/dL' },
        },
      },
      storedUnits,
    );
    const text = inline({ sql: c.where, params: c.params });
    expect(text).toMatch(
      /e\.unit = CAST\("mmol\/L" AS VARCHAR\) AND \(e\.system = CAST\("http:\/\/loinc\.org" AS VARCHAR\) AND e\.code = CAST\("2339-0" AS VARCHAR\)\)/,
    );
    expect(text).not.toContain('"GLU" AS VARCHAR)) AND e.value');
  });

  test('without stored units a value criterion matches nothing', () => {
    const { where } = cohortSql({
      observation: { code: [...GLUCOSE], value: { min: 1, unit: 'mg/dL' } },
    });
    expect(where).toContain('AND FALSE)');
  });

  test('the unit probe lists the quantity code sets once and reads back', () => {
    const q = query({
      cohort: { observation: { code: [...GLUCOSE], value: { min: 1, unit: 'mg/dL' } } },
      measures: [
        { count: 'patients' },
        { summary: { observation: [...GLUCOSE], unit: 'mmol/L' } },
        {
          histogram: {
            observation: [{ system: LOINC, code: '4548-4' }],
            unit: '%',
            edges: [0, 6.5],
          },
        },
      ],
    });
    expect(quantityCodeSets(q)).toHaveLength(2);
    const probe = compileUnitProbe(q, duckDbDialect)!;
    expect(probe.sql).toContain('SELECT 0 AS k, o.system, o.code, o.unit FROM observations o');
    expect(probe.sql).toContain('UNION ALL SELECT 1 AS k');
    const units = readStoredUnits(probe.codeSets, [
      { k: 0, system: LOINC, code: '2339-0', unit: 'mg/dL' },
      { k: 1, system: LOINC, code: '4548-4', unit: '%' },
    ]);
    expect(units.get(codeSetKey(probe.codeSets[0]!))).toEqual([
      { system: LOINC, code: '2339-0', unit: 'mg/dL' },
    ]);
    expect(() => readStoredUnits(probe.codeSets, [{ k: 5, system: 1 }])).toThrow(TypeError);
    expect(
      compileUnitProbe(query({ cohort: { patient: { deceased: true } } }), duckDbDialect),
    ).toBeUndefined();
  });
});

describe('strata and measures', () => {
  test('the plan lists every dimension with its labels in result order', () => {
    const { plan, sql } = compileQuery(
      query({
        cohort: { patient: { deceased: false } },
        stratify: [
          'gender',
          { ageBand: [0, 18, 65] },
          {
            codes: {
              of: 'condition',
              in: [
                { system: ICD10, code: 'E11.9' },
                { system: ICD10, code: 'I1', descendants: true },
              ],
            },
          },
        ],
      }),
      { dialect: duckDbDialect },
    );
    expect(plan.dimensions).toEqual([
      { name: 'gender', labels: ['female', 'male', 'other', 'unknown'] },
      { name: 'ageBand', labels: ['0-17', '18-64', '65+'] },
      { name: 'codes', labels: [`${ICD10}|E119`, `${ICD10}|I1`] },
    ]);
    expect(plan.overlapping).toBe(true);
    // Exact codings share one pass over the code index; a coding with
    // descendants has a pass of its own.
    expect(sql).toMatch(
      /code_strata AS \(SELECT t\.patient_key, CASE t\.code WHEN CAST\(\$\d+ AS VARCHAR\) THEN 0 END AS k FROM \(SELECT e\.patient_key, e\.code FROM conditions_code_patients e WHERE e\.system = CAST\(\$\d+ AS VARCHAR\) AND e\.code = CAST\(\$\d+ AS VARCHAR\)\) t UNION ALL /,
    );
    expect(sql).toMatch(
      /UNION ALL SELECT DISTINCT e\.patient_key, 1 AS k FROM conditions_code_patients e WHERE \(e\.system = CAST\(\$\d+ AS VARCHAR\) AND starts_with\(e\.code, /,
    );
    expect(sql).toContain('JOIN code_strata k ON k.patient_key = c.patient_key');
    // Codes strata are never NULL, gender and age bands may be.
    expect(sql).toContain('WHERE d0 IS NOT NULL AND d1 IS NOT NULL GROUP BY d0, d1, d2');
  });

  test('deceased strata come as true, false; no codes dimension, no overlap', () => {
    const { plan } = compileQuery(
      query({ cohort: { patient: { deceased: true } }, stratify: ['deceased'] }),
      {
        dialect: duckDbDialect,
      },
    );
    expect(plan).toEqual({
      dimensions: [{ name: 'deceased', labels: ['true', 'false'] }],
      overlapping: false,
      measures: [{ type: 'count' }],
    });
  });

  test('histogram and summary measures get their parts, CTEs and conversions', () => {
    const q = query({
      cohort: { patient: { deceased: false } },
      measures: [
        {
          histogram: {
            observation: [...GLUCOSE],
            unit: 'mmol/L',
            edges: [0, 7],
            pick: 'earliest',
            period: { from: '2020-01-01' },
          },
        },
        { count: 'patients' },
        { summary: { observation: [...GLUCOSE], unit: 'mg/dL', pick: 'mean' } },
      ],
    });
    const storedUnits: StoredUnits = new Map([
      [codeSetKey(GLUCOSE as never), [{ system: LOINC, code: '2339-0', unit: 'mg/dL' }]],
    ]);
    const compiled = compileQuery(q, { dialect: duckDbDialect, storedUnits });
    expect(compiled.plan.measures).toEqual([
      { type: 'histogram', part: 2, unit: 'mmol/L', edges: [0, 7] },
      { type: 'count' },
      { type: 'summary', part: 4, unit: 'mg/dL' },
    ]);
    const text = inline(compiled);
    // earliest: the values on each patient's first date.
    expect(text).toContain(
      'event_date = min(event_date) OVER (PARTITION BY patient_key) AS chosen',
    );
    expect(text).toContain(
      'm2 AS (SELECT patient_key, avg(v) AS v FROM m2_r WHERE v IS NOT NULL GROUP BY patient_key)',
    );
    // mg/dL into mmol/L: a scale, no offset; mg/dL into mg/dL: the value itself.
    expect(text).toMatch(
      /WHEN o\.unit = CAST\("mg\/dL" AS VARCHAR\) THEN o\.value \* CAST\(0\.0555\d+ AS DOUBLE\) END/,
    );
    expect(text).toContain('WHEN o.unit = CAST("mg/dL" AS VARCHAR) THEN o.value END');
    expect(text).toContain(
      'CASE WHEN v.v >= CAST(7 AS DOUBLE) THEN 1 WHEN v.v >= CAST(0 AS DOUBLE) THEN 0 END AS bin',
    );
    expect(text).toContain('stddev_samp(v.v)');
    // Without bounds, no clamped sums.
    expect(text).not.toContain('LEAST(');
    // One value per resource, even for one coding: a code may appear in the
    // Observation and in its components, or in two of its components.
    expect(text).toContain(
      'm0_r AS (SELECT o.patient_key, o.resource_id, o.event_date, max(CASE WHEN',
    );
    expect(text).toContain('GROUP BY o.patient_key, o.resource_id, o.event_date)');
  });

  test('summary bounds reach SQL as parameters; each value is clamped before it is summed', () => {
    const measures = [
      { summary: { observation: [...GLUCOSE], unit: 'mg/dL' } },
      { count: 'patients' },
      { summary: { observation: [...GLUCOSE], unit: 'mmol/L' } },
    ];
    const compiled = compileQuery(
      {
        ...query({ cohort: { patient: { deceased: false } }, measures }),
        summaryBounds: [{ min: 70.25, max: 400.5 }, undefined, undefined],
      },
      { dialect: duckDbDialect },
    );
    expect(compiled.params).toContain(70.25);
    expect(compiled.params).toContain(400.5);
    expect(compiled.sql).not.toContain('70.25');
    const clamped = 'LEAST(GREATEST(v.v, CAST(70.25 AS DOUBLE)), CAST(400.5 AS DOUBLE))';
    const text = inline(compiled);
    expect(text).toContain(`CAST(COALESCE(sum(${clamped}), 0) AS DOUBLE) AS f4`);
    expect(text).toContain(`CAST(COALESCE(sum(${clamped} * ${clamped}), 0) AS DOUBLE) AS f5`);
    // The second summary has no bounds: NULL sums.
    const secondSummary = text
      .split('\nUNION ALL\n')
      .find((s) => s.includes('CAST(4 AS INTEGER) AS part'));
    expect(secondSummary).toContain('CAST(NULL AS DOUBLE) AS f4, CAST(NULL AS DOUBLE) AS f5');
    expect(compiled.plan.measures).toHaveLength(3);
    expect(() =>
      compileQuery(
        {
          ...query({ cohort: { patient: { deceased: false } }, measures }),
          summaryBounds: [{ min: 1, max: 0 }],
        },
        { dialect: duckDbDialect },
      ),
    ).toThrow(RangeError);
  });

  test('a measure over several codings takes one value per resource', () => {
    const codes = [...GLUCOSE, { system: LOINC, code: '2345-7' }];
    const { sql } = compileQuery(
      query({
        cohort: { patient: { deceased: false } },
        measures: [{ summary: { observation: codes, unit: 'mg/dL' } }],
      }),
      { dialect: duckDbDialect },
    );
    expect(sql).toContain('GROUP BY o.patient_key, o.resource_id, o.event_date)');
  });
});

describe('the query-language examples and schema fixtures compile in both dialects', () => {
  const dir = join(import.meta.dirname, '../../../schemas/fixtures/queries/valid');
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  test.each(files)('%s', (file) => {
    const raw = parseQuery(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    const q: EvaluableQuery = { ...canonicalQuery(raw), asOf: raw.asOf ?? '2026-01-01' };
    for (const dialect of [duckDbDialect, postgresDialect]) {
      const compiled = compileQuery(q, { dialect });
      const highest = Math.max(
        0,
        ...[...compiled.sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])),
      );
      expect(highest).toBe(compiled.params.length);
      expect(compiled.plan.measures).toHaveLength(q.measures.length);
    }
  });
});
