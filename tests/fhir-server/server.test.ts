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
    expect(condition(fullStatement)).toEqual(['code', 'onset-date', 'recorded-date', 'subject']);
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
