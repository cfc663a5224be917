// The query phase of the node benchmark, in a process of its own (node.ts
// forks it), so its resident memory is that of a process serving queries
// from the store and nothing else. Each query is answered three ways: by the
// engine over the DuckDB store, by a hand-written DuckDB statement over the
// same tables (the floor the compiler should approach), and by the
// brute-force oracle over the NDJSON the store was loaded from. The first two
// must agree exactly (counts and cell keys), or the benchmark fails.
import { createReadStream } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { canonicalQuery, parseQuery, queryHash } from '@tessera/schemas';
import type { CodeSet, CohortQuery, EvaluableQuery, StratumKey } from '@tessera/schemas';
import {
  type FileAuditLog,
  budgetLimits,
  compileQuery,
  compileUnitProbe,
  createDisclosureControl,
  createDuckDbRunner,
  createEngine,
  decodeRows,
  duckDbDialect,
  loadPolicy,
  openFileAuditLog,
  openFileReleaseLedger,
  openStore,
  readStoredUnits,
} from '@tessera/node-adapter';
import type {
  CompiledQuery,
  DisclosureControl,
  FileReleaseLedger,
  SqlRunner,
} from '@tessera/node-adapter';
import { evaluateOracle, readFhir } from '@tessera/node-adapter/oracle';
import type {
  FhirResource,
  OracleData,
  OracleEvent,
  OraclePatient,
  OracleProvision,
} from '@tessera/node-adapter/oracle';
import { measure, summarise, timeMs } from './stats.ts';
import type { Sample, Stats } from './stats.ts';

export const AS_OF = '2026-01-01';
const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const CVX = 'http://hl7.org/fhir/sid/cvx';
export const WARM_UP_RUNS = 3;
const ORACLE_WARM_UP_RUNS = 1;
/** Resources per readFhir call while loading the oracle's data. */
const ORACLE_CHUNK = 250_000;

/** Which latency target of the node adapter a query answers to. */
export type TargetKind = 'single-code' | 'stratified';

export interface BenchQuery {
  readonly id: string;
  readonly title: string;
  readonly target?: TargetKind;
  readonly query: CohortQuery;
  /**
   * The same question in DuckDB SQL, written by hand: rows of (k, n, ck) with
   * k = `total`, `stratum:<labels joined by " / ">`, `bin:<i>`, `missing` or
   * `unstratified` (cohort patients in no stratum), n the distinct patients
   * and ck their cell key.
   */
  readonly handSql: string;
  /** The hand query's rows partition the cohort: its total is their sum. */
  readonly totalFromParts?: boolean;
}

const CELL_KEY = 'CAST(COALESCE(sum(record_key), 0) % 4294967296 AS BIGINT)';
/** Died before the benchmark's asOf: aged no further than the death date. */
const DIED_BEFORE = `deceased_date < DATE '2026-01-01'`;
/** The latest birth date of someone at least `years` old at death (29 February to 28 in common years). */
const bornBy = (years: number): string => `deceased_date - INTERVAL ${years} YEAR`;
const TWENTY_CONDITIONS = [
  'E11.9',
  'E10.9',
  'I10',
  'E78.5',
  'E78.0',
  'J44.9',
  'J45.9',
  'C50.9',
  'C61',
  'C34.9',
  'C18.9',
  'N18.3',
  'I25.1',
  'I48.9',
  'I63.9',
  'F32.9',
  'M81.0',
  'F03',
  'E03.9',
  'K21.9',
] as const;
const HBA1C = [{ system: LOINC, code: '4548-4' }] as const;
const sqlList = (codes: readonly string[]): string =>
  codes.map((c) => `'${c.replaceAll('.', '')}'`).join(', ');

/**
 * The benchmark's queries. Prevalences (share of patients, region sachsen)
 * were chosen from the generator's clinical profiles (generate/clinical.ts)
 * and are printed with every run: CKD stage 4 (N18.4) about 2 %, seasonal
 * influenza vaccine (CVX 140) about 60 %.
 */
export const QUERIES: readonly BenchQuery[] = [
  {
    id: 'code-2pct',
    title: 'single code, ~2 % (condition N18.4)',
    target: 'single-code',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: ICD10, code: 'N18.4' }] } },
    },
    handSql: `
      SELECT 'total' AS k, count(*) AS n, ${CELL_KEY} AS ck FROM conditions_code_patients
       WHERE system = '${ICD10}' AND code = 'N184'`,
  },
  {
    id: 'code-60pct',
    title: 'single code, ~60 % (immunization CVX 140)',
    target: 'single-code',
    query: {
      version: 1,
      cohort: { immunization: { code: [{ system: CVX, code: '140' }] } },
    },
    handSql: `
      SELECT 'total' AS k, count(*) AS n, ${CELL_KEY} AS ck FROM immunizations_code_patients
       WHERE system = '${CVX}' AND code = '140'`,
  },
  {
    id: 'hba1c-range',
    title: 'code + value range (HbA1c >= 6.5 %)',
    query: {
      version: 1,
      cohort: { observation: { code: [...HBA1C], value: { min: 6.5, unit: '%' } } },
    },
    handSql: `
      SELECT 'total' AS k, count(*) AS n, ${CELL_KEY} AS ck FROM patients
       WHERE patient_key IN (SELECT patient_key FROM observations
                             WHERE system = '${LOINC}' AND code = '4548-4' AND unit = '%' AND value >= 6.5)`,
  },
  {
    id: 'and-not',
    title: 'AND of 3 with NOT (women 40-79, E11*, no metformin)',
    query: {
      version: 1,
      cohort: {
        all: [
          { patient: { gender: ['female'], age: { min: 40, max: 79 } } },
          { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
          { not: { medication: { code: [{ system: ATC, code: 'A10BA02' }] } } },
        ],
      },
    },
    // Age 40-79 on 2026-01-01: born on or before 1986-01-01 and after
    // 1946-01-01; for those who died before, 40-79 at death.
    handSql: `
      SELECT 'total' AS k, count(*) AS n, ${CELL_KEY} AS ck FROM patients
       WHERE gender = 'female' AND birth_date <= DATE '1986-01-01'
         AND CASE WHEN ${DIED_BEFORE} THEN birth_date <= ${bornBy(40)} AND birth_date > ${bornBy(80)}
                  ELSE birth_date > DATE '1946-01-01' END
         AND patient_key IN (SELECT patient_key FROM conditions_code_patients WHERE system = '${ICD10}' AND starts_with(code, 'E11'))
         AND patient_key NOT IN (SELECT patient_key FROM medications_code_patients WHERE system = '${ATC}' AND code = 'A10BA02')`,
  },
  {
    id: 'gender-age',
    title: 'gender x age band (hypertension I10)',
    target: 'stratified',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: ICD10, code: 'I10' }] } },
      stratify: ['gender', { ageBand: [0, 18, 40, 65, 80] }],
    },
    handSql: `
      WITH cohort AS (
        SELECT gender, record_key,
               CASE WHEN birth_date IS NULL THEN NULL
                    WHEN ${DIED_BEFORE} THEN
                      CASE WHEN birth_date > deceased_date THEN NULL
                           WHEN birth_date > ${bornBy(18)} THEN 1 WHEN birth_date > ${bornBy(40)} THEN 2
                           WHEN birth_date > ${bornBy(65)} THEN 3 WHEN birth_date > ${bornBy(80)} THEN 4
                           ELSE 5 END
                    WHEN birth_date > DATE '2026-01-01' THEN NULL
                    WHEN birth_date > DATE '2008-01-01' THEN 1
                    WHEN birth_date > DATE '1986-01-01' THEN 2
                    WHEN birth_date > DATE '1961-01-01' THEN 3
                    WHEN birth_date > DATE '1946-01-01' THEN 4
                    ELSE 5 END AS band
          FROM patients
         WHERE patient_key IN (SELECT patient_key FROM conditions_code_patients WHERE system = '${ICD10}' AND code = 'I10')),
      cells AS (SELECT gender, band, count(*) AS n, ${CELL_KEY} AS ck FROM cohort GROUP BY gender, band)
      SELECT CASE WHEN band IS NULL THEN 'unstratified'
                  ELSE 'stratum:' || gender || ' / ' || ['0-17', '18-39', '40-64', '65-79', '80+'][band] END AS k,
             n, ck
        FROM cells`,
    totalFromParts: true,
  },
  {
    id: 'codes-20',
    title: 'codes stratification, 20 conditions (adults)',
    target: 'stratified',
    query: {
      version: 1,
      cohort: { patient: { age: { min: 18 } } },
      stratify: [
        {
          codes: {
            of: 'condition',
            in: TWENTY_CONDITIONS.map((code) => ({ system: ICD10, code })) as CodeSet,
          },
        },
      ],
    },
    handSql: `
      WITH cohort AS (SELECT patient_key, record_key FROM patients
                       WHERE birth_date <= DATE '2008-01-01'
                         AND (deceased_date IS NULL OR NOT ${DIED_BEFORE} OR birth_date <= ${bornBy(18)})),
           strata AS (SELECT patient_key, code FROM conditions_code_patients
                       WHERE system = '${ICD10}' AND code IN (${sqlList(TWENTY_CONDITIONS)}))
      SELECT 'total' AS k, count(*) AS n, ${CELL_KEY} AS ck FROM cohort
      UNION ALL
      SELECT 'stratum:${ICD10}|' || s.code, count(*), ${CELL_KEY}
        FROM cohort c JOIN strata s ON s.patient_key = c.patient_key
       GROUP BY s.code`,
  },
  {
    id: 'histogram',
    title: 'histogram, latest HbA1c (type 2 diabetes E11*)',
    query: {
      version: 1,
      cohort: { condition: { code: [{ system: ICD10, code: 'E11', descendants: true }] } },
      measures: [
        { count: 'patients' },
        {
          histogram: {
            observation: [...HBA1C],
            unit: '%',
            edges: [0, 5.7, 6.5, 8, 10],
            pick: 'latest',
          },
        },
      ],
    },
    // Latest: the mean of the values on the patient's latest HbA1c date.
    handSql: `
      WITH cohort AS (SELECT patient_key, record_key FROM patients
                       WHERE patient_key IN (SELECT patient_key FROM conditions_code_patients
                                             WHERE system = '${ICD10}' AND starts_with(code, 'E11'))),
           hba1c AS (SELECT patient_key, event_date, value FROM observations
                      WHERE system = '${LOINC}' AND code = '4548-4' AND unit = '%'
                        AND value IS NOT NULL AND event_date IS NOT NULL
                        AND patient_key IN (SELECT patient_key FROM cohort)),
           latest AS (SELECT patient_key, avg(value) AS v
                        FROM (SELECT patient_key, value,
                                     event_date = max(event_date) OVER (PARTITION BY patient_key) AS last
                                FROM hba1c)
                       WHERE last GROUP BY patient_key)
      SELECT CASE WHEN v >= 10 THEN 'bin:4' WHEN v >= 8 THEN 'bin:3' WHEN v >= 6.5 THEN 'bin:2'
                  WHEN v >= 5.7 THEN 'bin:1' WHEN v >= 0 THEN 'bin:0' ELSE 'missing' END AS k,
             count(*) AS n, ${CELL_KEY} AS ck
        FROM cohort c LEFT JOIN latest l ON l.patient_key = c.patient_key
       GROUP BY k`,
    totalFromParts: true,
  },
];

// --- answers ---------------------------------------------------------------

interface CellLike {
  readonly count: number;
  readonly cellKey?: number;
}

interface ResultLike {
  readonly total: CellLike;
  readonly strata: readonly { readonly key: StratumKey; readonly cell: CellLike }[];
  readonly measures: readonly (
    | { readonly type: 'count' | 'summary' }
    | {
        readonly type: 'histogram';
        readonly bins: readonly { readonly cell: CellLike }[];
        readonly missing: CellLike;
      }
  )[];
}

/** Non-empty cells by key (`total`, `stratum:...`, `bin:i`, `missing`). */
type Answer = ReadonlyMap<string, CellLike>;

function answerOf(result: ResultLike): Answer {
  const out = new Map<string, CellLike>([['total', result.total]]);
  for (const s of result.strata) out.set(`stratum:${Object.values(s.key).join(' / ')}`, s.cell);
  for (const m of result.measures) {
    if (m.type !== 'histogram') continue;
    m.bins.forEach((bin, i) => out.set(`bin:${i}`, bin.cell));
    out.set('missing', m.missing);
  }
  return new Map([...out].filter(([, cell]) => cell.count > 0));
}

function handAnswer(q: BenchQuery, rows: readonly Record<string, unknown>[]): Answer {
  const out = new Map<string, CellLike>();
  let count = 0;
  let cellKey = 0;
  for (const row of rows) {
    const n = Number(row.n);
    const ck = Number(row.ck);
    if (typeof row.k !== 'string' || !Number.isFinite(n) || !Number.isFinite(ck)) {
      throw new TypeError(`${q.id}: unexpected hand-written SQL row ${JSON.stringify(row)}`);
    }
    if (n > 0 && row.k !== 'unstratified') out.set(row.k, { count: n, cellKey: ck });
    count += n;
    cellKey = (cellKey + ck) % 0x1_0000_0000;
  }
  if (q.totalFromParts === true && count > 0) out.set('total', { count, cellKey });
  return out;
}

/** Differences between two answers; cell keys compared only when both carry them. */
function differences(expected: Answer, actual: Answer): string[] {
  const keys = new Set([...expected.keys(), ...actual.keys()]);
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    const e = expected.get(key);
    const a = actual.get(key);
    const sameKey = e?.cellKey === undefined || a?.cellKey === undefined || e.cellKey === a.cellKey;
    if ((e?.count ?? 0) !== (a?.count ?? 0) || !sameKey) {
      out.push(
        `${key}: expected ${e?.count ?? 0} (key ${e?.cellKey ?? '-'}), got ${a?.count ?? 0} (key ${a?.cellKey ?? '-'})`,
      );
    }
  }
  return out;
}

// --- the oracle's data -------------------------------------------------------

async function* ndjsonResources(path: string): AsyncGenerator<FhirResource> {
  const lines = createInterface({
    input: createReadStream(path, { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    yield JSON.parse(line) as FhirResource;
  }
}

/**
 * Reads the NDJSON directory into the oracle's patients and events with the
 * oracle's own reader, a chunk of resources at a time (all Patients and
 * Medications in every call), so the parsed JSON never has to fit at once.
 */
async function loadOracleData(dir: string): Promise<OracleData> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.ndjson')).sort();
  const isBase = (n: string): boolean => n.startsWith('Patient.') || n.startsWith('Medication.');
  const base: FhirResource[] = [];
  for (const name of names.filter(isBase)) {
    for await (const r of ndjsonResources(join(dir, name))) base.push(r);
  }
  let patients: ReadonlyMap<string, OraclePatient> = new Map();
  const events: OracleEvent[] = [];
  const provisions: OracleProvision[] = [];
  const flush = (chunk: FhirResource[]): void => {
    const data = readFhir(base.concat(chunk));
    patients = data.patients;
    for (const e of data.events) events.push(e);
    for (const p of data.provisions) provisions.push(p);
  };
  let chunk: FhirResource[] = [];
  for (const name of names.filter((n) => !isBase(n))) {
    for await (const r of ndjsonResources(join(dir, name))) {
      chunk.push(r);
      if (chunk.length >= ORACLE_CHUNK) {
        flush(chunk);
        chunk = [];
      }
    }
  }
  flush(chunk);
  return { patients, events, provisions };
}

// --- the phase ---------------------------------------------------------------

export interface QueryPhaseInput {
  readonly dbPath: string;
  readonly ndjsonDir: string;
  readonly patients: number;
  /** Resources in the NDJSON, for the oracle's memory estimate. */
  readonly resources: number;
  readonly runs: number;
  readonly oracle: boolean;
  /** Heap bytes per resource of the oracle's data, as measured on a smaller size. */
  readonly oracleBytesPerResource: number;
  readonly oracleMemoryLimitBytes: number;
  /** Query ids to EXPLAIN ANALYZE (engine and hand-written statements). */
  readonly explain: readonly string[];
  readonly explainDir: string;
}

export interface QueryTiming {
  readonly id: string;
  readonly title: string;
  readonly target?: TargetKind;
  /** Patients in the cohort. */
  readonly count: number;
  /** Statements the engine runs on a code set's first use (the unit probe is the second, when needed). */
  readonly statements: number;
  /** engine.evaluate: compilation, statement, decoding (stored units probed on first use). */
  readonly engine: Stats;
  /** The compiled statement alone, compiled beforehand. */
  readonly compiledSql: Stats;
  readonly handSql: Stats;
  /** Process CPU milliseconds (all threads) of the same runs. */
  readonly cpu: { readonly engine: Stats; readonly compiledSql: Stats; readonly handSql: Stats };
  /**
   * The whole release path, engine included: under the former default (cell-key
   * protection, the audit entry) and under today's default (laplace noise, the
   * ledger line synced alongside the audit entry).
   */
  readonly release: { readonly cellKey: Stats; readonly laplace: Stats };
  readonly oracle?: Stats;
}

export type OracleStatus =
  | {
      readonly status: 'ran';
      readonly loadMs: number;
      readonly heapBytes: number;
      readonly bytesPerResource: number;
      /** Engine answers the oracle disagreed with (counts only). */
      readonly mismatches: readonly string[];
    }
  | { readonly status: 'skipped'; readonly reason: string; readonly estimatedBytes?: number };

export interface QueryPhaseResult {
  readonly duckdb: string;
  readonly threads: string;
  readonly memoryLimit: string;
  readonly patientsInStore: number;
  /** process.memoryUsage().rss after the engine and SQL runs, before the oracle loads. */
  readonly rssBytes: number;
  /** Peak RSS of the process up to that point. */
  readonly peakRssBytes: number;
  readonly queries: readonly QueryTiming[];
  readonly oracle: OracleStatus;
  /** 1-minute load average when the phase started, after the SQL runs, and at the end. */
  readonly load: readonly [number, number, number];
}

function log(message: string): void {
  process.stderr.write(`[bench node ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** Where a release path leaves its trace: the audit log, and under today's default the ledger too. */
interface ReleaseRecords {
  readonly audit: FileAuditLog;
  readonly ledger?: FileReleaseLedger;
}

/**
 * The release path of one query under a disclosure control, as the node's
 * evaluator takes it: protect, then the audit entry, synced alongside the
 * ledger line when there is a ledger.
 */
function releasePath(
  engine: ReturnType<typeof createEngine>,
  control: DisclosureControl,
  query: EvaluableQuery,
  records: ReleaseRecords,
): () => Promise<unknown> {
  const sourceQuery = { ...query, summaryBounds: control.summaryBounds(query) };
  const release = { queryHash: queryHash(query), dataVersion: 'bench' };
  return async () => {
    const released = control.protect(await engine.evaluate(sourceQuery), sourceQuery, release);
    const charge = records.ledger?.charge({
      at: new Date(),
      project: 'bench',
      researcher: 'bench',
      ...release,
      noise: control.noise,
      epsilon: control.epsilonFor(query) ?? 0,
      released,
    });
    if (charge?.kind === 'exhausted') throw new Error('bench budget exhausted');
    await Promise.all([
      charge?.written,
      records.audit.append({
        at: new Date().toISOString(),
        actor: 'bench',
        project: 'bench',
        queryHash: release.queryHash,
        action: 'evaluate',
        outcome: 'released',
        detail: { dataVersion: release.dataVersion, total: released.total },
      }),
    ]);
  };
}

function evaluable(q: BenchQuery): EvaluableQuery {
  return { ...canonicalQuery(parseQuery(q.query)), asOf: AS_OF };
}

async function compileWithUnits(
  runner: SqlRunner,
  query: EvaluableQuery,
): Promise<{ compiled: CompiledQuery; statements: number }> {
  const probe = compileUnitProbe(query, duckDbDialect);
  const storedUnits = probe
    ? readStoredUnits(probe.codeSets, await runner.all(probe.sql, probe.params))
    : undefined;
  const compiled = compileQuery(
    query,
    storedUnits ? { dialect: duckDbDialect, storedUnits } : { dialect: duckDbDialect },
  );
  return { compiled, statements: probe ? 2 : 1 };
}

async function explain(
  runner: SqlRunner,
  sql: string,
  params: CompiledQuery['params'],
): Promise<string> {
  const rows = await runner.all(`EXPLAIN ANALYZE ${sql}`, params);
  return rows.map((r) => (typeof r.explain_value === 'string' ? r.explain_value : '')).join('\n');
}

export async function runQueryPhase(input: QueryPhaseInput): Promise<QueryPhaseResult> {
  const loadStart = loadavg()[0] ?? 0;
  const noiseKey = randomBytes(32);
  const cellKey = createDisclosureControl(
    loadPolicy({ mechanism: 'cell-key' }, { allowOpen: false }),
    noiseKey,
  );
  // The default policy, with budgets no benchmark run exhausts: time is measured, not budget.
  const laplacePolicy = loadPolicy(
    { laplace: { projectBudget: 10_000, researcherBudget: 10_000 } },
    { allowOpen: false },
  );
  const laplace = createDisclosureControl(laplacePolicy, noiseKey);
  const stateDir = await mkdtemp(join(tmpdir(), 'tessera-bench-state-'));
  const formerRecords = { audit: await openFileAuditLog(join(stateDir, 'former')) };
  const todayRecords = {
    audit: await openFileAuditLog(join(stateDir, 'today')),
    ledger: await openFileReleaseLedger(join(stateDir, 'today'), budgetLimits(laplacePolicy)),
  };
  const store = await openStore(input.dbPath, { readOnly: true });
  try {
    const runner = createDuckDbRunner(store.connection);
    // As the node serves a store: read-only, so the engine remembers stored units.
    const engine = createEngine({ runner, dialect: duckDbDialect, immutable: true });
    const [settings] = await runner.all(
      `SELECT version() AS v, current_setting('threads') AS t, current_setting('memory_limit') AS m,
              (SELECT count(*) FROM patients) AS p`,
      [],
    );
    const patientsInStore = Number(settings?.p);

    const prepared: {
      q: BenchQuery;
      query: EvaluableQuery;
      compiled: CompiledQuery;
      statements: number;
      answer: Answer;
    }[] = [];
    const timings: QueryTiming[] = [];
    for (const q of QUERIES) {
      const query = evaluable(q);
      const { compiled, statements } = await compileWithUnits(runner, query);
      const answer = answerOf(await engine.evaluate(query));
      const hand = handAnswer(q, await runner.all(q.handSql, []));
      const diff = differences(answer, hand);
      if (diff.length > 0) {
        throw new Error(
          `${q.id}: the hand-written SQL and the engine disagree:\n  ${diff.join('\n  ')}`,
        );
      }
      const compiledAnswer = answerOf(
        decodeRows(compiled.plan, await runner.all(compiled.sql, compiled.params)),
      );
      if (differences(answer, compiledAnswer).length > 0) {
        throw new Error(`${q.id}: the precompiled statement and engine.evaluate disagree`);
      }
      prepared.push({ q, query, compiled, statements, answer });

      const variants: [string, () => Promise<unknown>][] = [
        ['engine', () => engine.evaluate(query)],
        ['compiled', () => runner.all(compiled.sql, compiled.params)],
        ['hand', () => runner.all(q.handSql, [])],
        ['release-cell-key', releasePath(engine, cellKey, query, formerRecords)],
        ['release-laplace', releasePath(engine, laplace, query, todayRecords)],
      ];
      for (let i = 0; i < WARM_UP_RUNS; i++) for (const [, fn] of variants) await fn();
      const samples = new Map<string, Sample[]>(variants.map(([name]) => [name, []]));
      for (let i = 0; i < input.runs; i++) {
        // Rotate the order so no variant always runs right after another.
        for (let j = 0; j < variants.length; j++) {
          const [name, fn] = variants[(i + j) % variants.length]!;
          samples.get(name)!.push(await measure(fn));
        }
      }
      const wall = (name: string): Stats => summarise(samples.get(name)!.map((s) => s.wallMs));
      const cpu = (name: string): Stats => summarise(samples.get(name)!.map((s) => s.cpuMs));
      const count = answer.get('total')?.count ?? 0;
      const timing: QueryTiming = {
        id: q.id,
        title: q.title,
        ...(q.target === undefined ? {} : { target: q.target }),
        count,
        statements,
        engine: wall('engine'),
        compiledSql: wall('compiled'),
        handSql: wall('hand'),
        cpu: { engine: cpu('engine'), compiledSql: cpu('compiled'), handSql: cpu('hand') },
        release: { cellKey: wall('release-cell-key'), laplace: wall('release-laplace') },
      };
      timings.push(timing);
      log(
        `${q.id}: ${count} patients (${((100 * count) / patientsInStore).toFixed(2)} %), engine ` +
          `${timing.engine.median.toFixed(1)} ms, compiled ${timing.compiledSql.median.toFixed(1)} ms, ` +
          `hand ${timing.handSql.median.toFixed(1)} ms (CPU ${timing.cpu.engine.median.toFixed(1)} / ` +
          `${timing.cpu.compiledSql.median.toFixed(1)} / ${timing.cpu.handSql.median.toFixed(1)} ms)`,
      );
    }
    const rssBytes = process.memoryUsage().rss;
    const peakRssBytes = process.resourceUsage().maxRSS * 1024;
    const loadAfterSql = loadavg()[0] ?? 0;

    for (const id of input.explain) {
      const p = prepared.find((x) => x.q.id === id);
      if (p === undefined) throw new Error(`--explain: no query ${id}`);
      await mkdir(input.explainDir, { recursive: true });
      const base = join(input.explainDir, `${input.patients}-${id}`);
      const enginePlan = await explain(runner, p.compiled.sql, p.compiled.params);
      const handPlan = await explain(runner, p.q.handSql, []);
      await writeFile(
        `${base}-engine.sql`,
        `${p.compiled.sql}\n-- params: ${JSON.stringify(p.compiled.params)}\n`,
      );
      await writeFile(`${base}-engine.plan.txt`, enginePlan);
      await writeFile(`${base}-hand.plan.txt`, handPlan);
      log(`EXPLAIN ANALYZE of ${id} written to ${base}-{engine,hand}.plan.txt`);
    }

    const oracle = await runOracle(input, prepared, timings);
    return {
      duckdb: String(settings?.v),
      threads: String(settings?.t),
      memoryLimit: String(settings?.m),
      patientsInStore,
      rssBytes,
      peakRssBytes,
      queries: timings,
      oracle,
      load: [loadStart, loadAfterSql, loadavg()[0] ?? 0],
    };
  } finally {
    await todayRecords.ledger.close();
    await Promise.all([formerRecords.audit.close(), todayRecords.audit.close()]);
    await rm(stateDir, { recursive: true, force: true });
    store.close();
  }
}

async function runOracle(
  input: QueryPhaseInput,
  prepared: readonly { q: BenchQuery; query: EvaluableQuery; answer: Answer }[],
  timings: QueryTiming[],
): Promise<OracleStatus> {
  if (!input.oracle) return { status: 'skipped', reason: 'not requested' };
  const estimatedBytes = input.resources * input.oracleBytesPerResource;
  if (estimatedBytes > input.oracleMemoryLimitBytes) {
    const gb = (b: number): string => (b / 1e9).toFixed(b < 1e10 ? 1 : 0);
    return {
      status: 'skipped',
      reason: `memory: est. ${gb(estimatedBytes)} GB of parsed resources > ${gb(input.oracleMemoryLimitBytes)} GB`,
      estimatedBytes,
    };
  }
  const gc = globalThis.gc;
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  log(`oracle: loading ${input.resources} resources from ${input.ndjsonDir}`);
  const started = performance.now();
  const data = await loadOracleData(input.ndjsonDir);
  const loadMs = performance.now() - started;
  gc?.();
  const heapBytes = Math.max(0, process.memoryUsage().heapUsed - heapBefore);
  log(`oracle: loaded in ${(loadMs / 1000).toFixed(1)} s, ${(heapBytes / 1e9).toFixed(2)} GB heap`);
  const mismatches: string[] = [];
  for (const p of prepared) {
    const first = answerOf(evaluateOracle(data, p.query));
    const diff = differences(p.answer, first);
    if (diff.length > 0) mismatches.push(`${p.q.id}: ${diff.join('; ')}`);
    for (let i = 1; i < ORACLE_WARM_UP_RUNS; i++) evaluateOracle(data, p.query);
    const samples: number[] = [];
    for (let i = 0; i < input.runs; i++) {
      samples.push(await timeMs(() => Promise.resolve(evaluateOracle(data, p.query))));
    }
    const index = timings.findIndex((t) => t.id === p.q.id);
    const timing = timings[index]!;
    timings[index] = { ...timing, oracle: summarise(samples) };
    log(`oracle ${p.q.id}: ${summarise(samples).median.toFixed(0)} ms`);
  }
  return {
    status: 'ran',
    loadMs,
    heapBytes,
    bytesPerResource: heapBytes / Math.max(1, input.resources),
    mismatches,
  };
}

// Forked by node.ts: the input as JSON in argv, the result back over IPC.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const arg = process.argv[2];
  const input = JSON.parse(
    arg?.startsWith('@') === true ? await readFile(arg.slice(1), 'utf8') : (arg ?? '{}'),
  ) as QueryPhaseInput;
  const result = await runQueryPhase(input);
  if (process.send) {
    await new Promise<void>((resolve, reject) =>
      process.send!(result, undefined, {}, (err) => (err ? reject(err) : resolve())),
    );
  } else {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  }
  process.exit(0);
}
