// The test repository pages without copying every match, and answers every
// search exactly as Medplum's MemoryRepository does on the same resources.
import { describe, expect, it } from 'vitest';
import { parseSearchRequest } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Patient } from '@medplum/fhirtypes';
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
    for (const [query, count, offset] of queries) {
      const request = parseSearchRequest<Patient>('Patient', query);
      request.count = count;
      request.offset = offset;
      const ours = await repo.search(request);
      const theirs = await MemoryRepository.prototype.search.call(repo, request);
      expect(ours, JSON.stringify([query, count, offset])).toEqual(theirs);
    }
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
