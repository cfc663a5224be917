import { createHmac } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import { TooManyBadLinesError } from './bad-lines-error.ts';
import { ingest } from './ingest.ts';
import type { IngestOptions } from './ingest.ts';
import { DATA_TABLES } from './publish.ts';

const SYNTHEA = fileURLToPath(
  new URL('../../../../shared/fixtures/synthea/10-patients', import.meta.url),
);
const SECRET = new Uint8Array(32).fill(3);
const SNOMED = 'http://snomed.info/sct';
const FIXTURES = fileURLToPath(new URL('../../test/fixtures/fhir', import.meta.url));

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-ingest-test-'));
  dirs.push(dir);
  return dir;
}

interface Coding {
  readonly system?: string;
  readonly code?: string;
}
interface Concept {
  readonly coding?: readonly Coding[];
}
/** The few elements the brute-force readings below look at. */
interface Json {
  readonly id: string;
  readonly gender?: string;
  readonly birthDate?: string;
  readonly deceasedDateTime?: string;
  readonly deceasedBoolean?: boolean;
  readonly subject?: { readonly reference: string };
  readonly code?: Concept;
  readonly medicationCodeableConcept?: Concept;
  readonly vaccineCode?: Concept;
  readonly type?: readonly Concept[];
  readonly class?: Coding;
  readonly onsetDateTime?: string;
  readonly onsetPeriod?: { readonly start?: string };
  readonly recordedDate?: string;
  readonly performedDateTime?: string;
  readonly performedPeriod?: { readonly start?: string };
  readonly authoredOn?: string;
  readonly occurrenceDateTime?: string;
  readonly period?: { readonly start?: string };
}

async function readNdjson(dir: string, type: string): Promise<Json[]> {
  const files = (await readdir(dir)).filter(
    (f) => f.startsWith(`${type}.`) && f.endsWith('.ndjson'),
  );
  const out: Json[] = [];
  for (const f of files) {
    for (const line of (await readFile(join(dir, f), 'utf8')).split('\n')) {
      if (line.trim() !== '') out.push(JSON.parse(line) as Json);
    }
  }
  return out;
}

async function query(
  dbPath: string,
  sql: string,
  params: (string | number)[] = [],
): Promise<Record<string, unknown>[]> {
  const store = await openStore(dbPath, { readOnly: true });
  try {
    return await createDuckDbRunner(store.connection).all(sql, params);
  } finally {
    store.close();
  }
}

/** Every table in storage order, and the meta table. */
async function dump(dbPath: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of [...DATA_TABLES, 'meta'])
    out[table] = await query(dbPath, `SELECT * FROM ${table}`);
  return out;
}

function run(options: Partial<IngestOptions> & Pick<IngestOptions, 'sources' | 'dbPath'>) {
  return ingest({
    recordKeySecret: SECRET,
    now: () => new Date('2026-11-20T10:00:00.123Z'),
    ...options,
  });
}

function ndjson(resources: readonly unknown[]): string {
  return resources.map((r) => JSON.stringify(r)).join('\n') + '\n';
}

describe('the Synthea fixture loads as it is', async () => {
  const dir = await tempDir();
  const dbPath = join(dir, 'synthea.duckdb');
  const report = await run({ sources: [SYNTHEA], dbPath });

  test('patients, skipped types and no malformed lines', async () => {
    const patients = await readNdjson(SYNTHEA, 'Patient');
    expect(report.badLineCount).toBe(0);
    expect(report.resources.Patient).toEqual({ loaded: patients.length, skipped: 0, malformed: 0 });
    for (const unused of [
      'AllergyIntolerance',
      'Device',
      'Location',
      'Organization',
      'Practitioner',
      'PractitionerRole',
    ]) {
      const n = (await readNdjson(SYNTHEA, unused)).length;
      expect(report.resources[unused]).toEqual({ loaded: 0, skipped: n, malformed: 0 });
    }
    const stored = await query(
      dbPath,
      'SELECT patient_id, gender, birth_date, deceased, deceased_date FROM patients ORDER BY patient_id',
    );
    const expected = patients
      .map((p) => ({
        patient_id: p.id,
        gender: p.gender ?? 'unknown',
        birth_date: p.birthDate ?? null,
        deceased: p.deceasedDateTime !== undefined || p.deceasedBoolean === true,
        deceased_date: p.deceasedDateTime?.slice(0, 10) ?? null,
      }))
      .sort((a, b) => (a.patient_id < b.patient_id ? -1 : 1));
    expect(stored).toEqual(expected);
    expect(report.dataVersion).toMatch(/^2026-11-20T10:00:00Z#[0-9a-f]{12}$/);
  });

  test('prediabetes (SNOMED 15777000): 5 patients, 4 female and 1 male, as a brute-force reading says', async () => {
    const conditions = await readNdjson(SYNTHEA, 'Condition');
    const patients = new Map(
      (await readNdjson(SYNTHEA, 'Patient')).map((p) => [p.id, p.gender ?? 'unknown']),
    );
    const withCode = new Set(
      conditions
        .filter((c) =>
          (c.code?.coding ?? []).some((k) => k.system === SNOMED && k.code === '15777000'),
        )
        .map((c) => String(c.subject?.reference).replace('Patient/', '')),
    );
    const byGender = { female: 0, male: 0 } as Record<string, number>;
    for (const id of withCode)
      byGender[patients.get(id) ?? 'unknown'] = (byGender[patients.get(id) ?? 'unknown'] ?? 0) + 1;
    expect(byGender).toEqual({ female: 4, male: 1 });

    const rows = await query(
      dbPath,
      `SELECT p.gender, count(DISTINCT c.patient_key) AS n FROM conditions c JOIN patients p USING (patient_key)
        WHERE c.system = ? AND c.code = ? GROUP BY p.gender ORDER BY p.gender`,
      [SNOMED, '15777000'],
    );
    expect(rows).toEqual([
      { gender: 'female', n: 4 },
      { gender: 'male', n: 1 },
    ]);
  });

  test('every event table holds one row per coding with the event date of its kind', async () => {
    const day = (v: unknown): string | null => (typeof v === 'string' ? v.slice(0, 10) : null);
    const codings = (cc: Concept | undefined): Coding[] =>
      (cc?.coding ?? []).filter((c) => c.system !== undefined && c.code !== undefined);
    const expectations: [string, string, (r: Json) => Coding[], (r: Json) => string | null][] = [
      [
        'Condition',
        'conditions',
        (r) => codings(r.code),
        (r) => day(r.onsetDateTime ?? r.onsetPeriod?.start ?? r.recordedDate),
      ],
      [
        'Procedure',
        'procedures',
        (r) => codings(r.code),
        (r) => day(r.performedDateTime ?? r.performedPeriod?.start),
      ],
      [
        'MedicationRequest',
        'medications',
        (r) => codings(r.medicationCodeableConcept),
        (r) => day(r.authoredOn),
      ],
      [
        'Immunization',
        'immunizations',
        (r) => codings(r.vaccineCode),
        (r) => day(r.occurrenceDateTime),
      ],
      [
        'Encounter',
        'encounters',
        (r) => [
          ...(r.type ?? []).flatMap((t) => codings(t)),
          ...(r.class === undefined ? [] : [r.class]),
        ],
        (r) => day(r.period?.start),
      ],
    ];
    for (const [type, table, codesOf, dateOf] of expectations) {
      const resources = await readNdjson(SYNTHEA, type);
      // medications holds several resource types, so its ids carry the type.
      const id = (r: Json): string => (table === 'medications' ? `${type}/${r.id}` : String(r.id));
      const expected = resources
        .flatMap((r) =>
          codesOf(r).map((c) => `${id(r)}|${String(dateOf(r))}|${c.system}|${c.code}`),
        )
        .sort();
      const stored = (
        await query(dbPath, `SELECT resource_id, event_date, system, code FROM ${table}`)
      )
        .map(
          (r) =>
            `${String(r.resource_id)}|${String(r.event_date)}|${String(r.system)}|${String(r.code)}`,
        )
        .sort();
      expect(stored, table).toEqual(expected);
      expect(report.resources[type]?.loaded, type).toBe(resources.length);
    }
  });

  test('each event table is sorted by system, code and patient key', async () => {
    for (const table of [
      'conditions',
      'procedures',
      'medications',
      'immunizations',
      'encounters',
    ]) {
      const rows = await query(dbPath, `SELECT system, code, patient_key FROM ${table}`);
      const keys = rows.map(
        (r) =>
          `${String(r.system)}\u0000${String(r.code)}\u0000${String(r.patient_key).padStart(10, '0')}`,
      );
      expect(keys).toEqual([...keys].sort());
    }
  });

  test('record keys are the first four bytes of HMAC-SHA256(secret, patient id)', async () => {
    const rows = await query(dbPath, 'SELECT patient_id, record_key FROM patients');
    for (const row of rows) {
      const expected = createHmac('sha256', SECRET)
        .update(String(row.patient_id))
        .digest()
        .readUInt32BE(0);
      expect(row.record_key).toBe(expected);
    }
  });
});

describe('Bundles', () => {
  test('a transaction Bundle loads and its urn:uuid references resolve, in any order', async () => {
    const dir = await tempDir();
    const atc = { coding: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] };
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: 'urn:uuid:req-1',
          resource: {
            resourceType: 'MedicationRequest',
            id: 'req-1',
            status: 'active',
            subject: { reference: 'urn:uuid:7f3a' },
            medicationReference: { reference: 'urn:uuid:med-entry' },
            authoredOn: '2021-02-03T10:00:00+01:00',
          },
          request: { method: 'POST', url: 'MedicationRequest' },
        },
        {
          fullUrl: 'urn:uuid:7f3a',
          resource: { resourceType: 'Patient', gender: 'female', birthDate: '1960-01-01' },
          request: { method: 'POST', url: 'Patient' },
        },
        {
          fullUrl: 'urn:uuid:cond-1',
          resource: {
            resourceType: 'Condition',
            id: 'cond-1',
            subject: { reference: 'urn:uuid:7f3a' },
            code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11.9' }] },
            onsetDateTime: '2020-05-06',
          },
        },
        {
          fullUrl: 'urn:uuid:obs-1',
          resource: {
            resourceType: 'Observation',
            id: 'obs-1',
            status: 'final',
            subject: { reference: 'urn:uuid:7f3a' },
            code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
            effectiveDateTime: '2021-02-03',
            valueQuantity: {
              value: 7.1,
              unit: '%',
              system: 'http://unitsofmeasure.org',
              code: '%',
            },
          },
        },
        {
          fullUrl: 'urn:uuid:med-entry',
          resource: { resourceType: 'Medication', id: 'metformin', code: atc },
        },
        { request: { method: 'DELETE', url: 'Patient/old' } },
        { fullUrl: 'urn:uuid:org', resource: { resourceType: 'Organization', id: 'org' } },
      ],
    };
    await writeFile(join(dir, 'patient-bundle.json'), JSON.stringify(bundle));
    const dbPath = join(dir, 'b.duckdb');
    const report = await run({ sources: [join(dir, 'patient-bundle.json')], dbPath });
    expect(report.badLines).toEqual([]);
    expect(report.total).toBe(6);
    expect(await query(dbPath, 'SELECT patient_id, gender FROM patients')).toEqual([
      { patient_id: '7f3a', gender: 'female' },
    ]);
    expect(
      await query(
        dbPath,
        'SELECT m.resource_id, p.patient_id, m.event_date, m.system, m.code FROM medications m JOIN patients p USING (patient_key)',
      ),
    ).toEqual([
      {
        resource_id: 'MedicationRequest/req-1',
        patient_id: '7f3a',
        event_date: '2021-02-03',
        system: 'http://www.whocc.no/atc',
        code: 'A10BA02',
      },
    ]);
    expect(await query(dbPath, 'SELECT code FROM conditions')).toEqual([{ code: 'E119' }]);
    expect(await query(dbPath, 'SELECT value, unit FROM observations')).toEqual([
      { value: 7.1, unit: '%' },
    ]);
  });

  test('a file that is not JSON, or a Bundle of another type, is one malformed entry', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'broken.json'), '{"resourceType": "Bundle", ');
    await writeFile(
      join(dir, 'history.json'),
      JSON.stringify({ resourceType: 'Bundle', type: 'history', entry: [] }),
    );
    await writeFile(
      join(dir, 'Patient.000.ndjson'),
      ndjson([{ resourceType: 'Patient', id: 'p1' }]),
    );
    const report = await run({ sources: [dir], dbPath: join(dir, 'x.duckdb'), maxBadShare: 1 });
    expect(report.badLines).toEqual([
      `${join(dir, 'broken.json')}:entry 1: invalid JSON`,
      `${join(dir, 'history.json')}:entry 1: unsupported Bundle type`,
    ]);
  });
});

describe('NDJSON sources', () => {
  const patients = Array.from({ length: 30 }, (_, i) => ({
    resourceType: 'Patient',
    id: `p${i}`,
    gender: i % 2 === 0 ? 'female' : 'male',
    birthDate: `19${50 + i}-01-0${(i % 9) + 1}`,
  }));
  const conditions = patients.map((p, i) => ({
    resourceType: 'Condition',
    id: `c${i}`,
    subject: { reference: `Patient/${p.id}` },
    code: {
      coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: i % 3 === 0 ? 'E11.9' : 'I10' }],
    },
    onsetDateTime: `2015-0${(i % 9) + 1}-15T12:00:00+01:00`,
  }));

  test('gzipped NDJSON loads the same rows as plain NDJSON', async () => {
    const plain = await tempDir();
    const gz = await tempDir();
    await writeFile(join(plain, 'Patient.000.ndjson'), ndjson(patients));
    await writeFile(join(plain, 'Condition.000.ndjson'), ndjson(conditions));
    await writeFile(join(gz, 'Patient.000.ndjson.gz'), gzipSync(ndjson(patients)));
    await writeFile(join(gz, 'Condition.000.ndjson.gz'), gzipSync(ndjson(conditions)));
    await run({ sources: [plain], dbPath: join(plain, 'a.duckdb') });
    const report = await run({ sources: [gz], dbPath: join(gz, 'b.duckdb') });
    expect(report.rows).toMatchObject({ patients: 30, conditions: 30 });
    const a = await dump(join(plain, 'a.duckdb'));
    const b = await dump(join(gz, 'b.duckdb'));
    for (const table of DATA_TABLES) expect(b[table], table).toEqual(a[table]);
  });

  test('corrupt gzip fails with ERR_INGEST_SOURCE_UNREADABLE', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'Patient.000.ndjson.gz'), Buffer.from('definitely not gzip'));
    await expect(run({ sources: [dir], dbPath: join(dir, 'x.duckdb') })).rejects.toMatchObject({
      code: 'ERR_INGEST_SOURCE_UNREADABLE',
    });
  });

  test('entered-in-error resources, refuted conditions and events of unknown patients are not stored', async () => {
    const dir = await tempDir();
    const extra = [
      { ...conditions[0], id: 'refuted', verificationStatus: { coding: [{ code: 'refuted' }] } },
      {
        ...conditions[1],
        id: 'eie',
        verificationStatus: { coding: [{ code: 'entered-in-error' }] },
      },
      { ...conditions[2], id: 'status-eie', status: 'entered-in-error' },
      { ...conditions[3], id: 'orphan', subject: { reference: 'Patient/nobody' } },
    ];
    await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
    await writeFile(join(dir, 'Condition.000.ndjson'), ndjson([...conditions, ...extra]));
    const report = await run({ sources: [dir], dbPath: join(dir, 'x.duckdb') });
    expect(report.resources.Condition).toEqual({ loaded: 31, skipped: 3, malformed: 0 });
    expect(report.droppedRows).toBe(1);
    const ids = await query(
      join(dir, 'x.duckdb'),
      'SELECT resource_id FROM conditions WHERE resource_id IN (?, ?, ?, ?)',
      ['refuted', 'eie', 'status-eie', 'orphan'],
    );
    expect(ids).toEqual([]);
  });

  test('malformed lines are reported as file:line: reason, quoting nothing from the line', async () => {
    const dir = await tempDir();
    const lines = [
      ...patients.map((p) => JSON.stringify(p)),
      '{"resourceType":"Condition","id":"SECRET-1", "subject": ',
      JSON.stringify({
        resourceType: 'Condition',
        subject: { reference: 'Patient/p1' },
        note: 'SECRET-2',
      }),
      JSON.stringify({ resourceType: 'Condition', id: 'SECRET-3' }),
      '',
      JSON.stringify({
        resourceType: 'Condition',
        id: 'c',
        subject: { reference: 'Patient?identifier=SECRET-4' },
      }),
      JSON.stringify({
        resourceType: 'MedicationRequest',
        id: 'm',
        subject: { reference: 'Patient/p1' },
        medicationReference: { reference: 'Medication/SECRET-5' },
      }),
      JSON.stringify({
        resourceType: 'MedicationRequest',
        id: 'm2',
        subject: { reference: 'Patient/p1' },
        medicationReference: { reference: 'Medication/later' },
      }),
      JSON.stringify({ resourceType: 'Claim', id: 'SECRET-6', garbage: true }),
      '[1, 2]',
    ];
    await writeFile(join(dir, 'Mixed.000.ndjson'), lines.join('\r\n'));
    await writeFile(
      join(dir, 'Medication.000.ndjson'),
      ndjson([
        {
          resourceType: 'Medication',
          id: 'later',
          code: { coding: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] },
        },
      ]),
    );
    const file = join(dir, 'Mixed.000.ndjson');
    const report = await run({ sources: [dir], dbPath: join(dir, 'x.duckdb'), maxBadShare: 0.5 });
    expect(report.badLines).toEqual([
      `${file}:31: invalid JSON`,
      `${file}:32: missing id`,
      `${file}:35: unresolvable subject reference`,
      `${file}:36: unresolvable medication reference`,
      `${file}:39: not a JSON object`,
    ]);
    expect(report.badLineCount).toBe(5);
    expect(report.badLines.join('\n')).not.toContain('SECRET');
    // Valid FHIR without a subject is skipped, not malformed.
    expect(report.skippedReasons.Condition).toEqual({ 'no subject': 1 });
    expect(report.total).toBe(39); // 38 non-blank lines and the Medication
    expect(report.resources.MedicationRequest).toEqual({ loaded: 1, skipped: 0, malformed: 1 });
    expect(report.resources.Claim).toEqual({ loaded: 0, skipped: 1, malformed: 0 });
    expect(await query(join(dir, 'x.duckdb'), 'SELECT resource_id, code FROM medications')).toEqual(
      [{ resource_id: 'MedicationRequest/m2', code: 'A10BA02' }],
    );
  });

  test('too many malformed lines fail the run with ERR_INGEST_TOO_MANY_BAD_LINES and leave the store unchanged', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    await mkdir(src);
    const dbPath = join(dir, 'x.duckdb');
    await writeFile(join(src, 'Patient.000.ndjson'), ndjson(patients));
    const first = await run({ sources: [src], dbPath });
    const before = await dump(dbPath);

    // 2 malformed of 32: 6.25 % is over the default 1 %, and within 10 %.
    await writeFile(
      join(src, 'Patient.000.ndjson'),
      ndjson(patients) + '{oops\n{"resourceType":"Patient"}\n',
    );
    const failure = await run({ sources: [src], dbPath }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(TooManyBadLinesError);
    expect(failure).toMatchObject({
      code: 'ERR_INGEST_TOO_MANY_BAD_LINES',
      badLineCount: 2,
      total: 32,
    });
    expect((failure as TooManyBadLinesError).badLines).toEqual([
      `${join(src, 'Patient.000.ndjson')}:31: invalid JSON`,
      `${join(src, 'Patient.000.ndjson')}:32: missing id`,
    ]);
    expect(await dump(dbPath)).toEqual(before);

    const tolerated = await run({ sources: [src], dbPath, maxBadShare: 0.1 });
    expect(tolerated.badLineCount).toBe(2);
    expect(tolerated.dataVersion).not.toBe(first.dataVersion);
  });

  test('re-ingesting the same sources gives identical tables and keeps the data version', async () => {
    const dir = await tempDir();
    const dbPath = join(dir, 'x.duckdb');
    const first = await run({ sources: [SYNTHEA], dbPath });
    const before = await dump(dbPath);
    const second = await ingest({
      sources: [SYNTHEA],
      dbPath,
      recordKeySecret: SECRET,
      now: () => new Date('2030-01-01'),
    });
    expect(second.changed).toBe(false);
    expect(second.dataVersion).toBe(first.dataVersion);
    expect(await dump(dbPath)).toEqual(before);
    const meta = await query(dbPath, "SELECT value FROM meta WHERE key = 'data_version'");
    expect(meta).toEqual([{ value: first.dataVersion }]);

    // Another record key secret changes the tables, so it changes the version too.
    const rekeyed = await run({
      sources: [SYNTHEA],
      dbPath,
      recordKeySecret: new Uint8Array(32).fill(9),
    });
    expect(rekeyed.changed).toBe(true);
    expect(rekeyed.contentHash).not.toBe(first.contentHash);
  });

  test('segments parsed on worker threads give the same tables and line numbers as one thread', async () => {
    const dir = await tempDir();
    const src = join(dir, 'src');
    await mkdir(src);
    const many = Array.from({ length: 400 }, (_, i) => ({
      ...conditions[i % conditions.length],
      id: `c${i}`,
    }));
    const withBad = [
      ...many.slice(0, 250).map((c) => JSON.stringify(c)),
      '{bad',
      ...many.slice(250).map((c) => JSON.stringify(c)),
      '{bad',
    ];
    await writeFile(join(src, 'Condition.000.ndjson'), withBad.join('\n') + '\n');
    await writeFile(join(src, 'Patient.000.ndjson'), ndjson(patients));
    const options = { sources: [src], maxBadShare: 0.1, segmentBytes: 4096 };
    const inline = await run({ ...options, dbPath: join(dir, 'inline.duckdb'), workers: 0 });
    const threaded = await run({ ...options, dbPath: join(dir, 'threaded.duckdb'), workers: 2 });
    const whole = await run({
      sources: [src],
      maxBadShare: 0.1,
      dbPath: join(dir, 'whole.duckdb'),
      workers: 0,
    });
    const file = join(src, 'Condition.000.ndjson');
    for (const report of [inline, threaded, whole]) {
      expect(report.badLines).toEqual([`${file}:251: invalid JSON`, `${file}:402: invalid JSON`]);
      expect(report.rows).toMatchObject({ conditions: 400, patients: 30 });
    }
    expect(threaded.contentHash).toBe(inline.contentHash);
    const a = await dump(join(dir, 'inline.duckdb'));
    const b = await dump(join(dir, 'threaded.duckdb'));
    const c = await dump(join(dir, 'whole.duckdb'));
    for (const table of DATA_TABLES) {
      expect(b[table], table).toEqual(a[table]);
      expect(c[table], table).toEqual(a[table]);
    }
  });

  test('ids, codes and units with commas, quotes, line breaks and non-ASCII text survive staging', async () => {
    const dir = await tempDir();
    const odd = ['a,b', 'say "hi"', 'two\nlines', 'Dolnośląskie-ü', ' padded ', '\\N'];
    const resources = odd.flatMap((id, i) => [
      { resourceType: 'Patient', id, gender: 'other' },
      {
        resourceType: 'Observation',
        id: `${id}#obs`,
        subject: { reference: `Patient/${id}` },
        code: { coding: [{ system: 'urn:x,"y"', code: `${id}-code` }] },
        valueQuantity: { value: i + 0.5, unit: `u,"${id}"` },
        valueCodeableConcept: { coding: [{ system: 's', code: id }] },
      },
    ]);
    await writeFile(join(dir, 'All.000.ndjson'), ndjson(resources));
    const dbPath = join(dir, 'x.duckdb');
    const report = await run({ sources: [dir], dbPath });
    expect(report.badLineCount).toBe(0);
    const patients = await query(dbPath, 'SELECT patient_id FROM patients ORDER BY patient_id');
    expect(patients.map((p) => p.patient_id)).toEqual([...odd].sort());
    const rows = await query(
      dbPath,
      'SELECT o.resource_id, p.patient_id, o.system, o.code, o.value, o.unit FROM observations o JOIN patients p USING (patient_key) ORDER BY o.value',
    );
    expect(rows).toEqual(
      odd.map((id, i) => ({
        resource_id: `${id}#obs`,
        patient_id: id,
        system: 'urn:x,"y"',
        code: `${id}-code`,
        value: i + 0.5,
        unit: `u,"${id}"`,
      })),
    );
    const codes = await query(dbPath, 'SELECT code FROM observation_value_codes ORDER BY code');
    expect(codes.map((c) => c.code)).toEqual([...odd].sort());
  });

  test('sources that do not exist, are not FHIR files, or a short secret are refused', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await expect(
      run({ sources: [join(dir, 'missing')], dbPath: join(dir, 'x.duckdb') }),
    ).rejects.toMatchObject({
      code: 'ERR_INGEST_SOURCE_NOT_FOUND',
    });
    await expect(
      run({ sources: [join(dir, 'notes.txt')], dbPath: join(dir, 'x.duckdb') }),
    ).rejects.toMatchObject({
      code: 'ERR_INGEST_SOURCE_UNSUPPORTED',
    });
    await expect(run({ sources: [dir], dbPath: join(dir, 'x.duckdb') })).rejects.toMatchObject({
      code: 'ERR_INGEST_NO_SOURCES',
    });
    await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
    await expect(
      run({ sources: [dir], dbPath: join(dir, 'x.duckdb'), recordKeySecret: new Uint8Array(8) }),
    ).rejects.toMatchObject({
      code: 'ERR_INGEST_RECORD_KEY',
    });
  });

  test('progress reports reach the total', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
    const seen: { bytes: number; totalBytes: number; lines: number }[] = [];
    await run({ sources: [dir], dbPath: join(dir, 'x.duckdb'), onProgress: (p) => seen.push(p) });
    const last = seen[seen.length - 1];
    expect(last?.bytes).toBe(last?.totalBytes);
    expect(last?.lines).toBe(30);
  });

  describe('references resolved as FHIR resolves them, and loads that lost their patients', () => {
    test('a transaction Bundle whose Patients have only a fullUrl keeps every patient and event', async () => {
      const dir = await tempDir();
      const dbPath = join(dir, 'x.duckdb');
      const report = await run({
        sources: [join(FIXTURES, 'transaction-fullurl-patients.json')],
        dbPath,
      });
      expect(report.resources.Patient).toEqual({ loaded: 3, skipped: 0, malformed: 0 });
      expect(report.badLineCount).toBe(0);
      expect(report.droppedRows).toBe(0);
      expect(await query(dbPath, 'SELECT patient_id FROM patients ORDER BY patient_id')).toEqual([
        { patient_id: '3f1a9c52' },
        { patient_id: '6c7a1f0e-2b39-4c55-9d1e-0f6f4b1e3a01' },
        { patient_id: 'b7d04e11' },
      ]);
      // The relative `Patient/3f1a9c52` of an entry at https://fhir.example.org/fhir,
      // and the absolute URL, both name the Patient whose fullUrl that is.
      expect(
        await query(
          dbPath,
          `SELECT p.patient_id, e.resource_id, e.code FROM conditions e
           JOIN patients p USING (patient_key) ORDER BY e.resource_id`,
        ),
      ).toEqual([
        {
          patient_id: '6c7a1f0e-2b39-4c55-9d1e-0f6f4b1e3a01',
          resource_id: '2d3e9a40-7c1b-4e8f-a6d2-51c0e9b7f402',
          code: 'E119',
        },
        {
          patient_id: '3f1a9c52',
          resource_id: '9a0b6c3d-1e2f-4a5b-8c7d-6e5f4a3b2c03',
          code: '38341003',
        },
        { patient_id: '3f1a9c52', resource_id: 'c-rest', code: 'E119' },
      ]);
      expect(report.rows.observations).toBe(1);
    });

    test('a load that would store no patient fails with the numbers and leaves the store unchanged', async () => {
      const dir = await tempDir();
      const dbPath = join(dir, 'x.duckdb');
      await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
      await run({ sources: [dir], dbPath });
      const before = await dump(dbPath);
      const events = join(dir, 'events');
      await mkdir(events);
      await writeFile(join(events, 'Condition.000.ndjson'), ndjson(conditions));
      const failure = run({ sources: [events], dbPath });
      await expect(failure).rejects.toMatchObject({
        code: 'ERR_INGEST_PATIENTS_MISSING',
        detail: `no patient would be stored, of ${conditions.length} resources read (${conditions.length} event rows)`,
      });
      expect(await dump(dbPath)).toEqual(before);
    });

    test('a load that drops more events than it keeps for want of their patient fails', async () => {
      const dir = await tempDir();
      const dbPath = join(dir, 'x.duckdb');
      const orphans = conditions.map((c, i) => ({
        ...c,
        id: `orphan-${i}`,
        subject: { reference: `Patient/elsewhere-${i}` },
      }));
      await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
      await writeFile(join(dir, 'Condition.000.ndjson'), ndjson([conditions[0], ...orphans]));
      await expect(run({ sources: [dir], dbPath })).rejects.toMatchObject({
        code: 'ERR_INGEST_PATIENTS_MISSING',
        detail: `${orphans.length} of ${orphans.length + 1} events name a patient not in the sources, more than the 1 kept (${patients.length} patients, ${orphans.length} event rows dropped)`,
      });
    });

    test('events are weighed as resources, not as rows: one orphan with many codes does not sink a load', async () => {
      const dir = await tempDir();
      const dbPath = join(dir, 'x.duckdb');
      // Four codings make four rows; the two events kept have one each.
      const orphan = {
        ...conditions[0],
        id: 'orphan',
        subject: { reference: 'Patient/elsewhere' },
        code: {
          coding: ['E11', 'E119', 'E118', 'E117'].map((code) => ({
            system: 'http://hl7.org/fhir/sid/icd-10',
            code,
          })),
        },
      };
      await writeFile(join(dir, 'Patient.000.ndjson'), ndjson(patients));
      await writeFile(
        join(dir, 'Condition.000.ndjson'),
        ndjson([conditions[0], conditions[1], orphan]),
      );
      const report = await run({ sources: [dir], dbPath });
      expect(report.droppedRows).toBe(4);
      expect(report.droppedEvents).toBe(1);
      expect(report.rows.conditions).toBe(2);
    });

    test('a Condition with an onsetAge is dated from its patient birth date in the store', async () => {
      const dir = await tempDir();
      const dbPath = join(dir, 'x.duckdb');
      const age = (value: number, code: string) => ({
        value,
        unit: code,
        system: 'http://unitsofmeasure.org',
        code,
      });
      await writeFile(
        join(dir, 'Patient.000.ndjson'),
        ndjson([
          { resourceType: 'Patient', id: 'born', birthDate: '2000-01-31' },
          { resourceType: 'Patient', id: 'unborn' },
        ]),
      );
      const condition = (id: string, patient: string, extra: object) => ({
        resourceType: 'Condition',
        id,
        subject: { reference: `Patient/${patient}` },
        code: { coding: [{ system: SNOMED, code: '38341003' }] },
        recordedDate: '2020-05-05',
        ...extra,
      });
      await writeFile(
        join(dir, 'Condition.000.ndjson'),
        ndjson([
          condition('months', 'born', { onsetAge: age(1, 'mo') }),
          condition('years', 'born', { onsetAge: age(20, 'a') }),
          condition('days', 'born', { onsetAge: age(30, 'd') }),
          condition('no-birth', 'unborn', { onsetAge: age(20, 'a') }),
          condition('onset-first', 'born', { onsetDateTime: '2019-01-01', onsetAge: age(5, 'a') }),
        ]),
      );
      await run({ sources: [dir], dbPath });
      expect(
        await query(dbPath, 'SELECT resource_id, event_date FROM conditions ORDER BY resource_id'),
      ).toEqual([
        { resource_id: 'days', event_date: '2000-03-01' },
        { resource_id: 'months', event_date: '2000-02-29' },
        { resource_id: 'no-birth', event_date: '2020-05-05' },
        { resource_id: 'onset-first', event_date: '2019-01-01' },
        { resource_id: 'years', event_date: '2020-01-31' },
      ]);
    });

    test('events whose subject is no patient are skipped by reason, not malformed', async () => {
      const dir = await tempDir();
      const report = await run({
        sources: [join(FIXTURES, 'subjects-not-patients.ndjson')],
        dbPath: join(dir, 'x.duckdb'),
        maxBadShare: 0,
      });
      expect(report.badLineCount).toBe(0);
      expect(report.resources.Observation).toEqual({ loaded: 1, skipped: 5, malformed: 0 });
      expect(report.resources.Condition).toEqual({ loaded: 0, skipped: 1, malformed: 0 });
      expect(report.skippedReasons).toEqual({
        Condition: { 'subject not a Patient': 1 },
        Observation: {
          'no subject': 1,
          'subject not a Patient': 2,
          'subject without reference': 2,
        },
      });
    });
  });
});
