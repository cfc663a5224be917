// The test repository pages without copying every match, and answers every
// search exactly as Medplum's MemoryRepository does on the same resources.
import { describe, expect, it } from 'vitest';
import { parseSearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Observation, Patient, Resource } from '@medplum/fhirtypes';
import { TestRepository } from './repository.ts';
import { indexDefinitions } from './server.ts';

describe('TestRepository', () => {
  it('answers searches as MemoryRepository does', async () => {
    indexDefinitions();
    const repo = new TestRepository();
    for (let i = 0; i < 23; i++) {
      await repo.updateResource<Patient>({
        resourceType: 'Patient',
        id: `p${i}`,
        gender: i % 3 === 0 ? 'male' : 'female',
        birthDate: `19${50 + i}-01-01`,
      });
    }
    const queries: [Record<string, string>, number | undefined, number | undefined][] = [
      [{}, undefined, undefined],
      [{}, 5, 0],
      [{}, 5, 20],
      [{}, 5, 40],
      [{ gender: 'male' }, 3, 3],
      [{ gender: 'female', birthdate: 'ge1960-01-01' }, 100, 0],
      [{ _sort: '-birthdate' }, 4, 2],
      [{ _sort: '-_lastUpdated' }, 1, 0],
      [{ _sort: '-_lastUpdated' }, 5, 3],
      [{ _sort: '_lastUpdated', gender: 'female' }, 4, 0],
      [{ _sort: '_lastUpdated' }, undefined, undefined],
    ];
    await expectSameAnswers(repo, 'Patient', queries);
  });

  it('answers token searches from its index as MemoryRepository does, across writes', async () => {
    indexDefinitions();
    const repo = new TestRepository();
    const coding = (i: number): Observation['code'] => ({
      coding: [
        { system: i % 2 === 0 ? 'http://loinc.org' : 'http://LOINC.org', code: `c${i % 5}` },
        ...(i % 3 === 0 ? [{ system: 'http://snomed.info/sct', code: `s${i % 4}` }] : []),
        ...(i % 7 === 0 ? [{ code: 'bare' }] : []),
        ...(i % 11 === 0 ? [{ system: 'http://example.org/local', code: 'bare' }] : []),
      ],
    });
    for (let i = 0; i < 40; i++) {
      // Three instants only: sorting by _lastUpdated meets ties.
      await repo.createResource<Observation>({
        resourceType: 'Observation',
        id: `o${i}`,
        meta: { lastUpdated: `2024-01-0${(i % 3) + 1}T00:00:00.000Z` },
        status: i % 4 === 0 ? 'preliminary' : 'final',
        code: coding(i),
        subject: { reference: `Patient/p${i % 6}` },
        effectiveDateTime: `2020-01-${String((i % 28) + 1).padStart(2, '0')}`,
      });
    }
    const queries: [Record<string, string>, number | undefined, number | undefined][] = [
      [{ code: 'http://loinc.org|c1' }, undefined, undefined],
      [{ code: 'http://loinc.org|C1' }, undefined, undefined],
      [{ code: 'http://loinc.org|c1,http://snomed.info/sct|s2' }, 3, 1],
      [{ code: 'http://snomed.info/sct|s0', date: 'ge2020-01-10' }, undefined, undefined],
      [{ code: 'http://loinc.org|c2', subject: 'Patient/p2' }, undefined, undefined],
      [{ code: 'http://loinc.org|c3', status: 'final' }, undefined, undefined],
      [{ status: 'final', code: 'http://loinc.org|c3' }, 2, 0],
      [{ code: '|bare' }, undefined, undefined],
      [{ code: 'bare' }, undefined, undefined],
      [{ code: 'http://loinc.org|' }, 5, 0],
      [{ code: 'http://LOINC.org|,http://snomed.info/sct|s1' }, undefined, undefined],
      [{ code: '|' }, undefined, undefined],
      [{ code: 'http://loinc.org|c1|x' }, undefined, undefined],
      [{ status: 'final,preliminary', code: 'C2' }, undefined, undefined],
      [{ _id: 'o3,o5,o40' }, undefined, undefined],
      [{ 'subject:missing': 'false', code: 'http://loinc.org|c3' }, undefined, undefined],
      [{ 'subject:missing': 'false' }, 4, 30],
      [{ 'subject:missing': 'true' }, undefined, undefined],
      [{ 'code:not': 'http://loinc.org|c1' }, undefined, undefined],
      [{ code: 'http://loinc.org|nothing' }, undefined, undefined],
      [{ code: 'http://loinc.org|c4', _sort: '-_lastUpdated' }, 1, 0],
      [{ code: 'http://loinc.org|c4', _sort: 'date' }, undefined, undefined],
      [{ _sort: '-_lastUpdated' }, 1, 0],
      [{ _sort: '-_lastUpdated' }, 5, 10],
      [{ _sort: '_lastUpdated' }, 7, 3],
      [{ _sort: '_lastUpdated', status: 'final' }, 30, 0],
      [{ _sort: '-_lastUpdated' }, 40, 0],
    ];
    await expectSameAnswers(repo, 'Observation', queries);
    // Each write after a search: a deletion, a new match, a changed code.
    const writes: (() => Promise<unknown>)[] = [
      () => repo.deleteResource('Observation', 'o6'),
      () =>
        repo.updateResource<Observation>({
          resourceType: 'Observation',
          id: 'o40',
          status: 'final',
          code: coding(1),
        }),
      () =>
        repo.updateResource<Observation>({
          resourceType: 'Observation',
          id: 'o1',
          status: 'final',
          code: coding(2),
        }),
    ];
    for (const write of writes) {
      await write();
      await expectSameAnswers(repo, 'Observation', queries);
    }
    const found = await repo.search(
      parseSearchRequest<Observation>('Observation', { code: 'http://loinc.org|c1' }),
    );
    expect(found.entry?.map((e) => e.resource?.id)).toEqual([
      'o11',
      'o16',
      'o21',
      'o26',
      'o31',
      'o36',
      'o40',
    ]);
  });

  it('logs deletions, and reports only resources that stay deleted', async () => {
    indexDefinitions();
    const repo = new TestRepository();
    const before = new Date().toISOString();
    for (const id of ['a', 'b']) await repo.updateResource({ resourceType: 'Patient', id });
    await repo.deleteResource('Patient', 'a');
    await repo.deleteResource('Patient', 'b');
    await repo.updateResource({ resourceType: 'Patient', id: 'b' });
    expect(repo.deletedSince(before, new Set(['Patient'])).map((d) => d.id)).toEqual(['a']);
    expect(repo.deletedSince(before, new Set(['Condition']))).toEqual([]);
    expect(repo.deletedSince('2999-01-01T00:00:00Z', new Set(['Patient']))).toEqual([]);
  });
});

/** Each query's page, total and order equal MemoryRepository's own search on the same resources. */
async function expectSameAnswers(
  repo: TestRepository,
  resourceType: Resource['resourceType'],
  queries: [Record<string, string>, number | undefined, number | undefined][],
): Promise<void> {
  for (const [query, count, offset] of queries) {
    const request = parseSearchRequest(resourceType, query);
    if (count === undefined) delete request.count;
    else request.count = count;
    if (offset === undefined) delete request.offset;
    else request.offset = offset;
    const ours = await repo.search(request);
    const theirs = await MemoryRepository.prototype.search.call(repo, request);
    expect(ours, JSON.stringify([query, count, offset])).toEqual(theirs);
  }
}
