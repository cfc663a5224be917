// Medplum's MemoryRepository with three things a FHIR server has and the
// in-memory one lacks. Paging that costs one page: the repository copies every
// match of a search before it cuts the page out, so reading N resources page by
// page copied N²/pageSize of them (30,000 Observations in pages of 1000:
// 900,000 copies). Without sort rules, or sorted by `_lastUpdated` alone, only
// the page is copied now, and a page of the first few by `_lastUpdated` is
// found without sorting every match: the same filter (the repository's own
// matchesSearchRequest), order, total and page as before. A token index: the
// repository evaluates each filter's FHIRPath on every resource of the type
// (about 0.3 ms each, as a shared parameter like `code` probes the paths of
// every resource type it covers), so a search by code took seconds at 1,000
// patients; now a search by `system|code`, `system|`, `code` or
// `:missing=false` reads the resources from an index built on first use and
// dropped on the next write to the type, and evaluates only its other filters.
// And a log of deletions, as a server's history keeps them, for Bulk Data
// `_since` exports to report.
import {
  Operator,
  convertToSearchableTokens,
  deepClone,
  evalFhirPathTyped,
  getExpressionForResourceType,
  globalSchema,
  matchesSearchRequest,
  splitSearchOnComma,
  toTypedValue,
} from '@medplum/core';
import type { Filter, SearchRequest, WithId } from '@medplum/core';
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

/** One resource type's token index, valid until the next write to the type. */
interface TypeIndex {
  /** Each resource's place in the repository's insertion order. */
  readonly position: Map<Resource, number>;
  /** Per search parameter: resources by each key of each token they carry (see tokenKey). */
  readonly byParam: Map<string, Map<string, Resource[]>>;
}

/**
 * An index key: what one token filter value asks for, lower-cased as Medplum
 * compares. A token carries three: its system and code, its system, its code.
 */
function tokenKey(system: string | undefined, code: string | undefined): string {
  return JSON.stringify([system?.toLowerCase() ?? null, code?.toLowerCase() ?? null]);
}

/** The index key of resources with any value for the parameter. */
const PRESENT = JSON.stringify(['present']);

/** What the index answers of one filter: the keys whose resources hold its matches. */
interface IndexedFilter {
  readonly keys: readonly string[];
  /** True when they hold only its matches, so the filter needs no evaluation. */
  readonly exact: boolean;
}

/**
 * The index keys of a filter: token values (`system|code`, `system|`, `|code`
 * and `code`, as Medplum's matchesTokenValue reads them) and `:missing=false`;
 * undefined for any other filter (other modifiers, negation, other types).
 * Exact but for `|code`, which asks for tokens without a system: its key holds
 * every token with that code.
 */
function indexFilter(resourceType: string, filter: Filter): IndexedFilter | undefined {
  const { operator, value } = filter;
  const param = globalSchema.types[resourceType]?.searchParams?.[filter.code];
  if (param === undefined) return undefined;
  const present =
    (operator === Operator.MISSING && value === 'false') ||
    (operator === Operator.PRESENT && value === 'true');
  if (present) return { keys: [PRESENT], exact: true };
  if (param.type !== 'token' || operator !== Operator.EQUALS) return undefined;
  let exact = true;
  const keys = splitSearchOnComma(value).flatMap((one) => {
    if (!one.includes('|')) return [tokenKey(undefined, one)];
    const [system, code] = one.split('|');
    if (!system && !code) return [];
    if (system) return [tokenKey(system, code || undefined)];
    exact = false;
    return [tokenKey(undefined, code)];
  });
  return { keys, exact };
}

/**
 * The first `limit` of `items` in a stable sort by `compare`, without sorting
 * them all: each item is placed after those it does not precede.
 */
function firstInOrder<T>(items: readonly T[], compare: (a: T, b: T) => number, limit: number): T[] {
  const first: T[] = [];
  for (const item of items) {
    if (first.length === limit && compare(item, first.at(-1)!) >= 0) continue;
    let at = first.length;
    while (at > 0 && compare(item, first[at - 1]!) < 0) at -= 1;
    first.splice(at, 0, item);
    if (first.length > limit) first.pop();
  }
  return first;
}

export class TestRepository extends MemoryRepository {
  readonly #deletions: Deletion[] = [];
  readonly #indexes = new Map<string, TypeIndex>();

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
    const { candidates, rest } = this.#candidates(maps, request);
    const remaining = { ...request, filters: rest };
    const matches: Resource[] = [];
    for (const resource of candidates) {
      if (rest.length === 0 || matchesSearchRequest(resource, remaining)) matches.push(resource);
    }
    const end = count === undefined ? undefined : offset + count;
    // `_sort=-_lastUpdated&_count=1` is how a client asks what changed last;
    // a server answers it from an index, not by sorting the whole type.
    let ordered = matches;
    if (byLastUpdated) {
      const sign = sort[0]!.descending === true ? -1 : 1;
      const at = (r: Resource): string => r.meta?.lastUpdated ?? '';
      const compare = (a: Resource, b: Resource): number =>
        sign * (at(a) < at(b) ? -1 : at(a) > at(b) ? 1 : 0);
      ordered =
        end !== undefined && end <= 32
          ? firstInOrder(matches, compare, end)
          : matches.sort(compare);
    }
    const page = ordered.slice(offset, end);
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

  /**
   * The resources a search need test, in insertion order, and the filters
   * left to test them with: through the first filter the index answers (see
   * indexFilter), or the whole type with every filter.
   */
  #candidates(
    maps: ResourceMaps,
    request: SearchRequest,
  ): { candidates: Iterable<Resource>; rest: Filter[] } {
    const all = maps.get(request.resourceType);
    const filters = request.filters ?? [];
    if (all === undefined) return { candidates: [], rest: filters };
    for (const filter of filters) {
      const indexed = indexFilter(request.resourceType, filter);
      if (indexed === undefined) continue;
      const index = this.#typeIndex(request.resourceType, all);
      const byKey = this.#paramIndex(request.resourceType, filter.code, index);
      const lists = indexed.keys.map((key) => byKey.get(key) ?? []);
      // One key's list is in insertion order already; a union is sorted back into it.
      const candidates =
        lists.length === 1
          ? lists[0]!
          : [...new Set(lists.flat())].sort(
              (a, b) => index.position.get(a)! - index.position.get(b)!,
            );
      return { candidates, rest: indexed.exact ? filters.filter((f) => f !== filter) : filters };
    }
    return { candidates: all.values(), rest: filters };
  }

  #typeIndex(resourceType: string, all: Map<string, Resource>): TypeIndex {
    let index = this.#indexes.get(resourceType);
    if (index === undefined) {
      const position = new Map<Resource, number>();
      for (const resource of all.values()) position.set(resource, position.size);
      index = { position, byParam: new Map() };
      this.#indexes.set(resourceType, index);
    }
    return index;
  }

  #paramIndex(resourceType: string, code: string, index: TypeIndex): Map<string, Resource[]> {
    let byKey = index.byParam.get(code);
    if (byKey === undefined) {
      byKey = new Map();
      const param = globalSchema.types[resourceType]!.searchParams![code]!;
      // A shared parameter's expression is a union over every type it covers;
      // the other types' branches select nothing here, at a cost.
      const expression =
        getExpressionForResourceType(resourceType, param.expression!) ?? param.expression!;
      for (const resource of index.position.keys()) {
        const values = evalFhirPathTyped(expression, [toTypedValue(resource)]);
        const keys = new Set<string>(values.length > 0 ? [PRESENT] : []);
        const tokens = param.type === 'token' ? convertToSearchableTokens(values) : [];
        for (const token of tokens) {
          if (token.system) keys.add(tokenKey(token.system, undefined));
          if (token.value === undefined) continue;
          keys.add(tokenKey(undefined, token.value));
          if (token.system) keys.add(tokenKey(token.system, token.value));
        }
        for (const key of keys) {
          const list = byKey.get(key);
          if (list === undefined) byKey.set(key, [resource]);
          else list.push(resource);
        }
      }
      index.byParam.set(code, byKey);
    }
    return byKey;
  }

  override createResource<T extends Resource>(resource: T): Promise<WithId<T>> {
    this.#indexes.delete(resource.resourceType);
    return super.createResource(resource);
  }

  override async deleteResource(resourceType: string, id: string): Promise<void> {
    await super.deleteResource(resourceType, id);
    this.#indexes.delete(resourceType);
    this.#deletions.push({ resourceType, id, at: new Date().toISOString() });
  }

  override clear(): void {
    super.clear();
    this.#indexes.clear();
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
