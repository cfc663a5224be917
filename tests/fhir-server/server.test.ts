// The test FHIR server behaves as a FHIR server on the wire: transactions
// load it, searches page with `_count` and `link[next]`, /metadata declares
// exactly what is served, and strict handling refuses everything else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { loadResources, startFhirServer, toTransactionBundles } from './server.ts';
import type { FhirServer } from './server.ts';

const SNOMED = 'http://snomed.info/sct';

const PATIENTS: Resource[] = Array.from({ length: 12 }, (_, i) => ({
  resourceType: 'Patient',
  id: `p${i}`,
  gender: i % 3 === 0 ? 'male' : 'female',
  birthDate: `19${50 + i}-02-03`,
}));

const CONDITIONS: Resource[] = [
  {
    resourceType: 'Condition',
    id: 'c1',
    subject: { reference: 'urn:uuid:p1' },
    code: { coding: [{ system: SNOMED, code: '15777000' }] },
    onsetDateTime: '2020-05-01',
    note: [{ text: 'not returned when elements are asked for' }],
  },
  {
    resourceType: 'Condition',
    id: 'c2',
    subject: { reference: 'Patient/p2' },
    code: { coding: [{ system: SNOMED, code: '44054006' }] },
    recordedDate: '2019-01-01',
  },
];

async function get(
  server: FhirServer,
  path: string,
  strict = true,
): Promise<{ status: number; body: Bundle & Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}/${path}`, {
    headers: strict ? { prefer: 'handling=strict' } : {},
  });
  return {
    status: response.status,
    body: (await response.json()) as Bundle & Record<string, unknown>,
  };
}

describe('test FHIR server', () => {
  let full: FhirServer;
  let trimmed: FhirServer;

  beforeAll(async () => {
    full = await startFhirServer({ capabilities: 'full', defaultPageSize: 5 });
    trimmed = await startFhirServer({ capabilities: 'trimmed', defaultPageSize: 5 });
    for (const server of [full, trimmed])
      await loadResources(server.baseUrl, [...PATIENTS, ...CONDITIONS], 4);
  });

  afterAll(async () => {
    await full.close();
    await trimmed.close();
  });

  it('builds transaction Bundles that keep ids and resolve urn:uuid references', () => {
    const bundles = toTransactionBundles([...PATIENTS, ...CONDITIONS], 5);
    expect(bundles).toHaveLength(3);
    expect(bundles[0]!.type).toBe('transaction');
    expect(bundles[0]!.entry![0]!.request).toEqual({ method: 'PUT', url: 'Patient/p0' });
    const c1 = bundles[2]!.entry!.find((e) => e.resource?.id === 'c1')!.resource as {
      subject: { reference: string };
    };
    expect(c1.subject.reference).toBe('Patient/p1');
    expect(() => toTransactionBundles([], 0)).toThrow(RangeError);
  });

  it('pages with _count and next links carrying an offset', async () => {
    const ids: string[] = [];
    let path: string | undefined = 'Patient?_count=5';
    const selfs: string[] = [];
    while (path !== undefined) {
      const { status, body } = await get(full, path);
      expect(status).toBe(200);
      expect(body.total).toBe(12);
      selfs.push(body.link!.find((l) => l.relation === 'self')!.url);
      ids.push(...(body.entry ?? []).map((e) => e.resource!.id!));
      const next = body.link!.find((l) => l.relation === 'next')?.url;
      path = next?.slice(full.baseUrl.length + 1);
    }
    expect(ids).toEqual(PATIENTS.map((p) => p.id));
    expect(selfs.map((s) => new URL(s).searchParams.get('_offset'))).toEqual(['0', '5', '10']);
  });

  it('answers _summary=count and _elements', async () => {
    const count = await get(
      full,
      `Condition?code=${encodeURIComponent(`${SNOMED}|15777000`)}&_summary=count`,
    );
    expect(count.body.total).toBe(1);
    expect(count.body.entry).toBeUndefined();
    const subset = await get(full, 'Condition?_elements=subject,onset');
    const c1 = subset.body.entry!.find((e) => e.resource!.id === 'c1')!
      .resource as unknown as Record<string, unknown>;
    expect(Object.keys(c1).sort()).toEqual([
      'id',
      'meta',
      'onsetDateTime',
      'resourceType',
      'subject',
    ]);
  });

  it('declares exactly what it serves', async () => {
    const fullStatement = (await get(full, 'metadata')).body as unknown as CapabilityStatement;
    const trimmedStatement = (await get(trimmed, 'metadata'))
      .body as unknown as CapabilityStatement;
    expect(fullStatement.resourceType).toBe('CapabilityStatement');
    expect(fullStatement.fhirVersion).toBe('4.0.1');
    expect(fullStatement.rest![0]!.searchParam!.map((p) => p.name)).toEqual([
      '_count',
      '_summary',
      '_elements',
      '_sort',
    ]);
    expect(trimmedStatement.rest![0]!.searchParam).toEqual([]);
    const condition = (s: CapabilityStatement) =>
      s.rest![0]!.resource!.find((r) => r.type === 'Condition')!.searchParam!.map((p) => p.name);
    expect(condition(fullStatement)).toEqual([
      'code',
      'onset-date',
      'onset-age',
      'recorded-date',
      'subject',
    ]);
    expect(condition(trimmedStatement)).toEqual(['code']);
  });

  it('refuses undeclared parameters, modifiers and prefixes when strict, ignores them otherwise', async () => {
    for (const path of [
      'Condition?code:below=x',
      'Observation?value-quantity=ge5',
      'Condition?_has:Observation:subject:code=1',
      'Condition?onset-date=zz2020',
    ]) {
      const { status, body } = await get(full, path);
      expect(status, path).toBe(400);
      expect(body.resourceType).toBe('OperationOutcome');
    }
    expect((await get(trimmed, 'Condition?_count=2')).status).toBe(400);
    const lenient = await get(trimmed, 'Condition?onset-date=ge2020-01-01', false);
    expect(lenient.status).toBe(200);
    expect(lenient.body.total).toBe(2);
    // The self link shows what was applied, so a client sees the dropped criterion.
    expect(lenient.body.link![0]!.url).not.toContain('onset-date');
  });

  it('pages a trimmed search by its own default size', async () => {
    const first = await get(trimmed, 'Patient');
    expect(first.body.entry).toHaveLength(5);
    const next = first.body.link!.find((l) => l.relation === 'next')!.url;
    expect(new URL(next).searchParams.has('_count')).toBe(false);
    const second = await get(trimmed, next.slice(trimmed.baseUrl.length + 1));
    expect(second.status).toBe(200);
    expect(second.body.entry![0]!.resource!.id).toBe('p5');
  });
});

describe('Bulk Data export', () => {
  const KICK_OFF = { accept: 'application/fhir+json', prefer: 'respond-async' };
  const MEDICATION: Resource = {
    resourceType: 'Medication',
    id: 'm1',
    code: { coding: [{ system: 'http://www.whocc.no/atc', code: 'A10BA02' }] },
  };
  let server: FhirServer;
  let trimmed: FhirServer;

  interface Manifest {
    transactionTime: string;
    request: string;
    requiresAccessToken: boolean;
    output: { type: string; url: string; count: number }[];
    deleted?: { type: string; url: string; count: number }[];
    error: unknown[];
  }

  beforeAll(async () => {
    server = await startFhirServer({
      capabilities: 'full',
      bulk: { pollsBeforeReady: 2, retryAfterSeconds: 0, resourcesPerFile: 5, pageSize: 4 },
    });
    trimmed = await startFhirServer({ capabilities: 'trimmed' });
    await loadResources(server.baseUrl, [...PATIENTS, ...CONDITIONS, MEDICATION], 4);
  });

  afterAll(async () => {
    await server.close();
    await trimmed.close();
  });

  async function kickOff(
    path: string,
    headers: Record<string, string> = KICK_OFF,
    base = server.baseUrl,
  ): Promise<Response> {
    return fetch(`${base}/${path}`, { headers });
  }

  /** Polls a status URL until it answers something other than 202; returns the 202s seen too. */
  async function poll(statusUrl: string): Promise<{ pending: Response[]; done: Response }> {
    const pending: Response[] = [];
    for (;;) {
      const response = await fetch(statusUrl, { headers: { accept: 'application/json' } });
      if (response.status !== 202) return { pending, done: response };
      await response.body?.cancel();
      pending.push(response);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async function exportOf(path: string): Promise<{ statusUrl: string; manifest: Manifest }> {
    const response = await kickOff(path);
    expect(response.status).toBe(202);
    const statusUrl = response.headers.get('content-location')!;
    const { done } = await poll(statusUrl);
    expect(done.status).toBe(200);
    return { statusUrl, manifest: (await done.json()) as Manifest };
  }

  async function ndjson(url: string): Promise<Record<string, unknown>[]> {
    const response = await fetch(url, { headers: { accept: 'application/fhir+ndjson' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/fhir\+ndjson/);
    return (await response.text())
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it('is declared with full capabilities only', async () => {
    const full = (await get(server, 'metadata')).body as unknown as CapabilityStatement;
    expect(full.instantiates).toEqual([
      'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data',
    ]);
    expect(full.rest![0]!.operation).toEqual([
      { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' },
    ]);
    const patient = full.rest![0]!.resource!.find((r) => r.type === 'Patient')!;
    expect(patient.operation?.[0]?.definition).toMatch(/\/patient-export$/);
    const lean = (await get(trimmed, 'metadata')).body as unknown as CapabilityStatement;
    expect(lean.instantiates).toBeUndefined();
    expect(lean.rest![0]!.operation).toBeUndefined();
    expect(lean.rest![0]!.resource!.every((r) => r.operation === undefined)).toBe(true);
    expect((await kickOff('$export', KICK_OFF, trimmed.baseUrl)).status).toBe(404);
    expect(() => trimmed.injectBulkFault({ on: 'status', status: 500 })).toThrow();
  });

  it('starts only asynchronous exports of what it serves, in NDJSON', async () => {
    const refused = [
      kickOff('$export', { accept: 'application/fhir+json' }),
      kickOff('$export', { prefer: 'respond-async' }),
      kickOff('$export?_outputFormat=text%2Fcsv'),
      kickOff('$export?_type=Patient,Basic'),
      kickOff('$export?_since=yesterday'),
      kickOff('$export?_typeFilter=Patient%3Fgender%3Dmale'),
      kickOff('Patient/$export?_type=Medication'),
    ];
    for (const response of await Promise.all(refused)) {
      expect(response.status).toBe(400);
      expect(((await response.json()) as Resource).resourceType).toBe('OperationOutcome');
    }
    // Lenient handling ignores what the server does not do.
    const lenient = await kickOff('$export?_typeFilter=x&_type=Patient,Basic', {
      ...KICK_OFF,
      prefer: 'respond-async, handling=lenient',
    });
    expect(lenient.status).toBe(202);
    const { done } = await poll(lenient.headers.get('content-location')!);
    expect(((await done.json()) as Manifest).output.map((o) => o.type)).toEqual([
      'Patient',
      'Patient',
      'Patient',
    ]);
    await fetch(lenient.headers.get('content-location')!, { method: 'DELETE' });
  });

  it('runs a job that is polled, then serves its manifest and files per type, and is deleted', async () => {
    const response = await kickOff(
      '$export?_type=Patient,Condition&_outputFormat=application%2Ffhir%2Bndjson',
    );
    expect(response.status).toBe(202);
    const statusUrl = response.headers.get('content-location')!;
    expect(statusUrl.startsWith(`${server.baseUrl}/`)).toBe(true);
    const { pending, done } = await poll(statusUrl);
    expect(pending.length).toBeGreaterThanOrEqual(2);
    for (const p of pending) {
      expect(p.headers.get('retry-after')).toBe('0');
      expect(p.headers.get('x-progress')).toMatch(/resource types exported/);
    }
    expect(done.status).toBe(200);
    const manifest = (await done.json()) as Manifest;
    expect(Number.isNaN(Date.parse(manifest.transactionTime))).toBe(false);
    expect(manifest.request).toBe(
      `${server.baseUrl}/$export?_type=Patient,Condition&_outputFormat=application%2Ffhir%2Bndjson`,
    );
    expect(manifest.requiresAccessToken).toBe(false);
    expect(manifest.error).toEqual([]);
    expect(manifest.deleted).toBeUndefined();
    expect(manifest.output.map((o) => [o.type, o.count])).toEqual([
      ['Patient', 5],
      ['Patient', 5],
      ['Patient', 2],
      ['Condition', 2],
    ]);
    const patients = [];
    for (const o of manifest.output.filter((f) => f.type === 'Patient')) {
      patients.push(...(await ndjson(o.url)));
    }
    expect(patients.map((p) => p.id)).toEqual(PATIENTS.map((p) => p.id));
    const conditions = await ndjson(manifest.output.at(-1)!.url);
    expect(conditions.map((c) => c.id)).toEqual(['c1', 'c2']);
    // The placeholder reference was stored resolved, and exported so.
    expect(conditions[0]!.subject).toEqual({ reference: 'Patient/p1' });

    expect(server.bulkJobs).toBeGreaterThan(0);
    const deleted = await fetch(statusUrl, { method: 'DELETE' });
    expect(deleted.status).toBe(202);
    expect((await fetch(statusUrl)).status).toBe(404);
    expect((await fetch(manifest.output[0]!.url)).status).toBe(404);
    expect((await fetch(statusUrl, { method: 'DELETE' })).status).toBe(404);
  });

  it('cancels a job when its status URL is deleted before it finishes', async () => {
    const response = await kickOff('$export');
    const statusUrl = response.headers.get('content-location')!;
    expect((await fetch(statusUrl, { method: 'DELETE' })).status).toBe(202);
    expect((await fetch(statusUrl)).status).toBe(404);
  });

  it('exports per Patient only the Patient compartment', async () => {
    const { statusUrl, manifest } = await exportOf('Patient/$export');
    const types = new Set(manifest.output.map((o) => o.type));
    expect(types).toEqual(new Set(['Patient', 'Condition']));
    await fetch(statusUrl, { method: 'DELETE' });
    const system = await exportOf('$export');
    expect(system.manifest.output.some((o) => o.type === 'Medication')).toBe(true);
    await fetch(system.statusUrl, { method: 'DELETE' });
  });

  it('exports _since a time what changed after it, and lists what was deleted', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const first = await exportOf('$export?_type=Patient');
    await fetch(first.statusUrl, { method: 'DELETE' });
    const since = first.manifest.transactionTime;
    await loadResources(server.baseUrl, [
      { resourceType: 'Patient', id: 'p3', gender: 'other', birthDate: '1953-02-03' },
      { resourceType: 'Patient', id: 'p99', gender: 'female', birthDate: '2001-01-01' },
    ]);
    const removed = await fetch(`${server.baseUrl}/Patient/p5`, { method: 'DELETE' });
    expect(removed.ok).toBe(true);

    const delta = await exportOf(
      `$export?_type=Patient,Condition&_since=${encodeURIComponent(since)}`,
    );
    expect(delta.manifest.output.map((o) => [o.type, o.count])).toEqual([['Patient', 2]]);
    const changed = await ndjson(delta.manifest.output[0]!.url);
    expect(changed.map((p) => [p.id, p.gender])).toEqual([
      ['p3', 'other'],
      ['p99', 'female'],
    ]);
    expect(delta.manifest.deleted).toHaveLength(1);
    expect(delta.manifest.deleted![0]!.type).toBe('Bundle');
    const bundles = await ndjson(delta.manifest.deleted![0]!.url);
    expect(bundles).toEqual([
      {
        resourceType: 'Bundle',
        type: 'transaction',
        entry: [{ request: { method: 'DELETE', url: 'Patient/p5' } }],
      },
    ]);
    await fetch(delta.statusUrl, { method: 'DELETE' });

    // Nothing changed since the delta's own snapshot.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const quiet = await exportOf(`$export?_since=${encodeURIComponent(new Date().toISOString())}`);
    expect(quiet.manifest.output).toEqual([]);
    expect(quiet.manifest.deleted).toEqual([expect.objectContaining({ type: 'Bundle', count: 0 })]);
    await fetch(quiet.statusUrl, { method: 'DELETE' });
  });

  it('fails status polls or file downloads on demand', async () => {
    const response = await kickOff('$export?_type=Condition');
    const statusUrl = response.headers.get('content-location')!;
    server.injectBulkFault({ on: 'status', status: 500 });
    const failed = await fetch(statusUrl);
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as Resource).resourceType).toBe('OperationOutcome');
    server.injectBulkFault({ on: 'output', status: 503 });
    const { done } = await poll(statusUrl);
    const manifest = (await done.json()) as Manifest;
    expect((await fetch(manifest.output[0]!.url)).status).toBe(503);
    server.injectBulkFault(undefined);
    expect(await ndjson(manifest.output[0]!.url)).toHaveLength(2);
    await fetch(statusUrl, { method: 'DELETE' });
    expect(server.bulkJobs).toBe(0);
  });
});
