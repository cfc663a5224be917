// Paging, and the pages the node refuses to trust.
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@tessera/schemas';
import { createAuthProvider } from './auth.ts';
import {
  fakeServers,
  problemOf,
  searchset,
  sendJson,
} from '../../test/support/fake-fhir-server.ts';
import type { FakeHandler, FakeServer } from '../../test/support/fake-fhir-server.ts';
import { createFhirHttp } from './fhir-http.ts';
import { ResourceBudget, readSearchPage, searchAll } from './fhir-search.ts';
import type { JsonObject } from './fhir-search.ts';
import type { SearchSpec } from './search-url.ts';

const fake = fakeServers();

const http = createFhirHttp({
  fetch,
  auth: createAuthProvider({ kind: 'none' }, { fetch, timeoutMs: 1000, now: Date.now }),
  concurrency: 4,
  timeoutMs: 30_000,
  backoffMs: 5,
});

const CONDITIONS: SearchSpec = {
  type: 'Condition',
  params: [
    { name: 'code', values: [{ kind: 'token', system: 'http://snomed.info/sct', code: '1' }] },
  ],
};

function conditions(from: number, n: number): JsonObject[] {
  return Array.from({ length: n }, (_, i) => ({ resourceType: 'Condition', id: `c${from + i}` }));
}

/** 23 Conditions in pages of 10, linked by `_offset`. */
const paging: FakeHandler = (req, res, base) => {
  const url = new URL(req.url, 'http://x');
  const offset = Number(url.searchParams.get('_offset') ?? 0);
  const next = new URL(`${base}/Condition`);
  url.searchParams.forEach((v, k) => next.searchParams.set(k, v));
  next.searchParams.set('_offset', String(offset + 10));
  const origin = new URL(base).origin;
  sendJson(
    res,
    200,
    searchset(req, origin, conditions(offset, Math.min(10, 23 - offset)), {
      total: 23,
      ...(offset + 10 < 23 ? { next: next.toString() } : {}),
    }),
  );
};

async function collect(
  server: FakeServer,
  budget = new ResourceBudget(1000),
  spec = CONDITIONS,
): Promise<string[]> {
  const ids: string[] = [];
  await searchAll(http, server.baseUrl, spec, budget, (page) => {
    for (const r of page) ids.push(String(r.id));
  });
  return ids;
}

describe('searchAll', () => {
  it('follows next links to the last page', async () => {
    const server = await fake(paging);
    expect(await collect(server)).toEqual(conditions(0, 23).map((c) => c.id));
    expect(
      server.requests.map((r) => new URL(r.url, 'http://x').searchParams.get('_offset')),
    ).toEqual([null, '10', '20']);
  });

  it('refuses a search larger than the budget from its total, before reading further', async () => {
    const server = await fake(paging);
    const err = await problemOf(collect(server, new ResourceBudget(20)));
    expect(err.code).toBe('ERR_SOURCE_TOO_LARGE');
    expect(err.status).toBe(422);
    expect(server.requests).toHaveLength(1);
  });

  it('refuses by counting when the server gives no total', async () => {
    const server = await fake((req, res, base) => {
      const offset = Number(new URL(req.url, 'http://x').searchParams.get('_offset') ?? 0);
      sendJson(
        res,
        200,
        searchset(req, new URL(base).origin, conditions(offset, 10), {
          next: `${base}/Condition?_offset=${offset + 10}`,
        }),
      );
    });
    const err = await problemOf(collect(server, new ResourceBudget(35)));
    expect(err.code).toBe('ERR_SOURCE_TOO_LARGE');
    expect(server.requests).toHaveLength(4);
  });

  it('refuses a next link that leaves the server, without following it', async () => {
    const elsewhere = await fake(paging);
    const server = await fake((req, res, base) =>
      sendJson(
        res,
        200,
        searchset(req, new URL(base).origin, conditions(0, 2), {
          next: `${elsewhere.baseUrl}/Condition?_offset=2`,
        }),
      ),
    );
    const err = await problemOf(collect(server));
    expect(err.code).toBe('ERR_SOURCE_INVALID');
    expect(elsewhere.requests).toHaveLength(0);
  });

  it('refuses paging that loops', async () => {
    const server = await fake((req, res, base) =>
      sendJson(
        res,
        200,
        searchset(req, new URL(base).origin, conditions(0, 1), {
          next: `${base}/Condition?_offset=0`,
        }),
      ),
    );
    const err = await problemOf(collect(server));
    expect(err.code).toBe('ERR_SOURCE_INVALID');
    expect(server.requests.length).toBeLessThanOrEqual(3);
  });

  it('refuses a page whose self link shows a dropped criterion (a lenient server)', async () => {
    const server = await fake((_req, res, base) =>
      sendJson(res, 200, {
        resourceType: 'Bundle',
        type: 'searchset',
        link: [{ relation: 'self', url: `${base}/Condition?_count=50` }],
        entry: conditions(0, 3).map((resource) => ({ resource })),
      }),
    );
    const err = await problemOf(collect(server));
    expect(err.code).toBe('ERR_SOURCE_INVALID');
  });
});

describe('readSearchPage', () => {
  const sent = 'http://f/Condition?code=s%7C1';
  const page = (entry: unknown[], extra: JsonObject = {}): JsonObject => ({
    resourceType: 'Bundle',
    type: 'searchset',
    link: [{ relation: 'self', url: sent }],
    entry,
    ...extra,
  });
  const refuse = (json: unknown): void => {
    expect(() => readSearchPage(json, 'Condition', sent)).toThrow(ProblemError);
  };

  it('reads matches, skips informational outcomes, resolves a relative next link', () => {
    const result = readSearchPage(
      page(
        [
          { resource: { resourceType: 'Condition', id: 'a' }, search: { mode: 'match' } },
          {
            resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'information' }] },
            search: { mode: 'outcome' },
          },
        ],
        {
          total: 7,
          link: [
            { relation: 'self', url: sent },
            { relation: 'next', url: '/Condition?page=2' },
          ],
        },
      ),
      'Condition',
      sent,
    );
    expect(result.resources.map((r) => r.id)).toEqual(['a']);
    expect(result.total).toBe(7);
    expect(result.next).toBe('http://f/Condition?page=2');
  });

  it('refuses anything that does not answer the search', () => {
    refuse({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', diagnostics: 'x' }] });
    refuse({ resourceType: 'Bundle', type: 'transaction-response' });
    refuse(page([{ resource: { resourceType: 'Observation', id: 'o' } }]));
    refuse(page([{ resource: { resourceType: 'Condition' } }]));
    refuse(page([{ resource: { resourceType: 'Patient', id: 'p' }, search: { mode: 'include' } }]));
    refuse(
      page([
        {
          resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'error' }] },
          search: { mode: 'outcome' },
        },
      ]),
    );
    refuse(page([], { entry: 'nope' }));
    refuse(page([], { link: [{ relation: 'self', url: 'http://f/Condition?code=s%7C2' }] }));
    refuse([]);
  });
});
