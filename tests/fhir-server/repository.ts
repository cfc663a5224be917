// Medplum's MemoryRepository with two things a FHIR server has and the
// in-memory one lacks. Paging that costs one page: the repository copies
// every match of a search before it cuts the page out, so reading N resources
// page by page copied N²/pageSize of them (30,000 Observations in pages of
// 1000: 900,000 copies). Without sort rules the matches are now counted and
// only the page is copied: the same filter (the repository's own
// matchesSearchRequest), order, total and page as before. And a log of
// deletions, as a server's history keeps them, for Bulk Data `_since`
// exports to report.
import { deepClone, matchesSearchRequest } from '@medplum/core';
import type { SearchRequest, WithId } from '@medplum/core';
import { MemoryRepository } from '@medplum/fhir-router';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';

export interface Deletion {
  readonly resourceType: string;
  readonly id: string;
  /** When it was deleted, as an ISO instant. */
  readonly at: string;
}

/** The repository's own store: resources by type, then by id, in insertion order. */
type ResourceMaps = Map<string, Map<string, Resource>>;

export class TestRepository extends MemoryRepository {
  readonly #deletions: Deletion[] = [];

  /** The repository's resource maps, when this version of Medplum keeps them where expected. */
  #maps(): ResourceMaps | undefined {
    const maps = (this as unknown as { resources?: unknown }).resources;
    return maps instanceof Map ? (maps as ResourceMaps) : undefined;
  }

  override search<T extends Resource>(request: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const maps = this.#maps();
    if (maps === undefined || (request.sortRules !== undefined && request.sortRules.length > 0)) {
      return super.search(request);
    }
    const offset = request.offset ?? 0;
    const count = request.count;
    const entry: BundleEntry<WithId<T>>[] = [];
    let total = 0;
    for (const resource of maps.get(request.resourceType)?.values() ?? []) {
      if (!matchesSearchRequest(resource, request)) continue;
      if (total >= offset && (count === undefined || entry.length < count)) {
        entry.push({ resource: deepClone(resource) as WithId<T> });
      }
      total += 1;
    }
    return Promise.resolve({
      resourceType: 'Bundle',
      type: 'searchset',
      ...(entry.length > 0 ? { entry } : {}),
      total,
    });
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.#deletions.push({ resourceType, id, at: new Date().toISOString() });
  }

  /** Resources deleted at or after `since` that do not exist now, latest deletion per resource. */
  deletedSince(since: string, types: ReadonlySet<string>): Deletion[] {
    const from = Date.parse(since);
    const found = new Map<string, Deletion>();
    for (const d of this.#deletions) {
      if (!types.has(d.resourceType) || Date.parse(d.at) < from) continue;
      if (this.#maps()?.get(d.resourceType)?.has(d.id) === true) continue;
      found.set(`${d.resourceType}/${d.id}`, d);
    }
    return [...found.values()];
  }
}
