// Medplum's MemoryRepository with two things a FHIR server has and the
// in-memory one lacks. Paging that costs one page: the repository copies
// every match of a search before it cuts the page out, so reading N resources
// page by page copied N²/pageSize of them (30,000 Observations in pages of
// 1000: 900,000 copies). Without sort rules, or sorted by `_lastUpdated`
// alone, only the page is copied now: the same filter (the repository's own
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
    const sort = request.sortRules ?? [];
    const byLastUpdated = sort.length === 1 && sort[0]!.code === '_lastUpdated';
    if (maps === undefined || (sort.length > 0 && !byLastUpdated)) {
      return super.search(request);
    }
    const offset = request.offset ?? 0;
    const count = request.count;
    let matches: Resource[] = [];
    for (const resource of maps.get(request.resourceType)?.values() ?? []) {
      if (matchesSearchRequest(resource, request)) matches.push(resource);
    }
    // `_sort=-_lastUpdated&_count=1` is how a client asks what changed last;
    // a server answers it from an index, not by copying the whole type.
    if (byLastUpdated) {
      const sign = sort[0]!.descending === true ? -1 : 1;
      const at = (r: Resource): string => r.meta?.lastUpdated ?? '';
      matches = matches.sort((a, b) => sign * (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0));
    }
    const page = matches.slice(offset, count === undefined ? undefined : offset + count);
    const entry: BundleEntry<WithId<T>>[] = page.map((resource) => ({
      resource: deepClone(resource) as WithId<T>,
    }));
    const total = matches.length;
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
