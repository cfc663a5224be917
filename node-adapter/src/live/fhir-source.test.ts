// The live source's edges: configuration checked at creation, and every way
// a FHIR server can fail turned into a safe problem with no upstream text.
import { describe, expect, it } from 'vitest';
import { canonicalQuery } from '@tessera/schemas';
import type { CohortQuery, ProblemError } from '@tessera/schemas';
import { liveSourceDefaults } from '@tessera/schemas/testing';
import {
  fakeServers,
  problemOf,
  searchset,
  sendJson,
} from '../../test/support/fake-fhir-server.ts';
import type { FakeHandler, FakeServer } from '../../test/support/fake-fhir-server.ts';
import { createFhirSource } from './fhir-source.ts';
import type { EvaluableQuery, FhirSourceOptions } from './fhir-source.ts';

const SECRET = new Uint8Array(32).fill(7);
const UPSTREAM_TEXT = 'ERROR: relation "condition_secret_4711" does not exist';

const fake = fakeServers();

const STATEMENT = {
  resourceType: 'CapabilityStatement',
  fhirVersion: '4.0.1',
  rest: [
    {
      mode: 'server',
      resource: [
        { type: 'Patient', interaction: [{ code: 'search-type' }] },
        {
          type: 'Condition',
          interaction: [{ code: 'search-type' }],
          searchParam: [{ name: 'code', type: 'token' }],
        },
      ],
    },
  ],
};

const PATIENTS = [
  { resourceType: 'Patient', id: 'p1', gender: 'female', birthDate: '1970-01-01' },
  { resourceType: 'Patient', id: 'p2', gender: 'male' },
];

const CONDITIONS = [
  {
    resourceType: 'Condition',
    id: 'c1',
    subject: { reference: 'Patient/p1' },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '15777000' }] },
  },
  {
    resourceType: 'Condition',
    id: 'c2',
    subject: { reference: 'Patient/p2' },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '1' }] },
  },
];

/** A small FHIR server whose Condition search the test scripts. */
async function fhirLike(conditions: FakeHandler): Promise<FakeServer> {
  return fake((req, res, base) => {
    const origin = new URL(base).origin;
    const path = new URL(req.url, origin).pathname;
    if (path === '/fhir/metadata') return sendJson(res, 200, STATEMENT);
    if (path === '/fhir/Patient')
      return sendJson(res, 200, searchset(req, origin, PATIENTS, { total: 2 }));
    if (path === '/fhir/Condition') return conditions(req, res, base);
    return sendJson(res, 404, { resourceType: 'OperationOutcome' });
  });
}

function query(q: Omit<CohortQuery, 'version'>): EvaluableQuery {
  return { ...canonicalQuery({ version: 1, ...q }), asOf: '2026-01-01' };
}

const PREDIABETES = query({
  cohort: { condition: { code: [{ system: 'http://snomed.info/sct', code: '15777000' }] } },
});

/** The live source's limits as a node configured without them has them. */
const { concurrency, timeoutMs, maxResources, pageSize, dataVersionTtlMs } = liveSourceDefaults();
const LIMITS = { concurrency, timeoutMs, maxResources, pageSize, dataVersionTtlMs };

function source(server: FakeServer, extra: Partial<FhirSourceOptions> = {}) {
  return createFhirSource({
    ...LIMITS,
    baseUrl: server.baseUrl,
    auth: { kind: 'none' },
    recordKeySecret: SECRET,
    retry: { backoffMs: 5 },
    ...extra,
  });
}

async function failure(promise: Promise<unknown>): Promise<ProblemError> {
  const problem = await problemOf(promise);
  const everything = [problem.message, problem.detail, JSON.stringify(problem.toProblem('r'))].join(
    '\n',
  );
  expect(everything).not.toContain('4711');
  expect(everything).not.toContain('p1');
  return problem;
}

describe('createFhirSource', () => {
  it('refuses a bad configuration at once, naming it', () => {
    const base = {
      ...LIMITS,
      baseUrl: 'https://fhir.example/r4',
      auth: { kind: 'none' } as const,
      recordKeySecret: SECRET,
    };
    const refuse = (options: FhirSourceOptions, pattern: RegExp): void => {
      expect(() => createFhirSource(options)).toThrow(pattern);
    };
    refuse({ ...base, recordKeySecret: new Uint8Array(8) }, /recordKeySecret/);
    refuse({ ...base, baseUrl: 'ftp://fhir.example' }, /baseUrl/);
    refuse({ ...base, baseUrl: 'https://fhir.example/r4?x=1' }, /baseUrl/);
    refuse(
      { ...base, baseUrl: 'http://fhir.example/r4', auth: { kind: 'bearer', token: 't' } },
      /https/,
    );
    refuse({ ...base, concurrency: 0 }, /concurrency/);
    refuse({ ...base, maxResources: 1.5 }, /maxResources/);
    expect(() =>
      createFhirSource({
        ...base,
        baseUrl: 'http://127.0.0.1:1/fhir',
        auth: { kind: 'bearer', token: 't' },
      }),
    ).not.toThrow();
  });
});

describe('evaluate', () => {
  it('answers from a plain FHIR server', async () => {
    const server = await fhirLike((req, res, base) =>
      sendJson(res, 200, searchset(req, new URL(base).origin, CONDITIONS)),
    );
    const raw = await source(server).evaluate(PREDIABETES);
    expect(raw.total.count).toBe(1);
    // The data version reads each type's first page; the criterion sends its code.
    const sent = server.requests
      .map((r) => decodeURIComponent(r.url))
      .filter((u) => u.startsWith('/fhir/Condition'));
    expect(sent).toEqual([
      '/fhir/Condition',
      '/fhir/Condition?code=http://snomed.info/sct|15777000',
    ]);
  });

  it('a server that is down is unavailable', async () => {
    const server = await fhirLike(() => undefined);
    const s = source(server);
    await server.close();
    const err = await failure(s.evaluate(PREDIABETES));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
  });

  it('a 500 with an OperationOutcome is unavailable, and its text goes nowhere', async () => {
    const server = await fhirLike((_req, res) =>
      sendJson(res, 500, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'fatal', code: 'exception', diagnostics: UPSTREAM_TEXT }],
      }),
    );
    const err = await failure(source(server).evaluate(PREDIABETES));
    expect(err.code).toBe('ERR_SOURCE_UNAVAILABLE');
    expect(err.status).toBe(503);
  });

  it('a 200 OperationOutcome instead of results is invalid', async () => {
    const server = await fhirLike((_req, res) =>
      sendJson(res, 200, {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'error', diagnostics: UPSTREAM_TEXT }],
      }),
    );
    const err = await failure(source(server).evaluate(PREDIABETES));
    expect(err.code).toBe('ERR_SOURCE_INVALID');
    expect(err.status).toBe(502);
  });

  it('a Bundle that answers another search is invalid', async () => {
    const server = await fhirLike((_req, res, base) =>
      sendJson(res, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [{ relation: 'self', url: `${base}/Condition` }],
        entry: CONDITIONS.map((resource) => ({ resource })),
      }),
    );
    expect((await failure(source(server).evaluate(PREDIABETES))).code).toBe('ERR_SOURCE_INVALID');
  });

  it('a Bundle holding other resources than asked for is invalid', async () => {
    const server = await fhirLike((req, res, base) =>
      sendJson(res, 200, searchset(req, new URL(base).origin, PATIENTS)),
    );
    expect((await failure(source(server).evaluate(PREDIABETES))).code).toBe('ERR_SOURCE_INVALID');
  });

  it('more resources than allowed is too large', async () => {
    const many = Array.from({ length: 30 }, (_, i) => ({ ...CONDITIONS[0]!, id: `c${i}` }));
    const server = await fhirLike((req, res, base) =>
      sendJson(res, 200, searchset(req, new URL(base).origin, many)),
    );
    const err = await failure(source(server, { maxResources: 20 }).evaluate(PREDIABETES));
    expect(err.code).toBe('ERR_SOURCE_TOO_LARGE');
    expect(err.status).toBe(422);
  });

  it('a closed source answers nothing more', async () => {
    const server = await fhirLike((req, res, base) =>
      sendJson(res, 200, searchset(req, new URL(base).origin, CONDITIONS)),
    );
    const s = source(server);
    await s.close();
    expect((await failure(s.evaluate(PREDIABETES))).code).toBe('ERR_SOURCE_UNAVAILABLE');
  });

  it('a server that is not R4 is invalid', async () => {
    const server = await fake((_req, res) =>
      sendJson(res, 200, { ...STATEMENT, fhirVersion: '3.0.2' }),
    );
    expect((await failure(source(server).capabilities())).code).toBe('ERR_SOURCE_INVALID');
  });
});
