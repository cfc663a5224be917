// Searchset paging, and the checks that decide whether a page can be
// trusted: it is a searchset Bundle, its `self` link names the search that
// was sent, it holds only resources of the searched type, and its `next`
// link stays under the server's base URL (so credentials never travel
// elsewhere) and never loops. A read is bounded by a resource budget.
import { nodeProblem } from '../errors.ts';
import type { FhirHttp } from './fhir-http.ts';
import { buildSearchUrl, isUnderBase, sameSearch } from './search-url.ts';
import type { SearchSpec, SearchType } from './search-url.ts';

export type JsonObject = Record<string, unknown>;

function isJson(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function invalid(detail: string): Error {
  return nodeProblem('ERR_SOURCE_INVALID', { detail });
}

/** How many resources one evaluation may read; shared by all its searches. */
export class ResourceBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get remaining(): number {
    return this.limit - this.#used;
  }

  /** Counts `n` resources read; past the limit it is ERR_SOURCE_TOO_LARGE. */
  take(n: number): void {
    this.#used += n;
    if (this.#used > this.limit) throw this.tooLarge();
  }

  /** Refuses early when a search announces more than is left. */
  expect(total: number): void {
    if (total > this.remaining) throw this.tooLarge();
  }

  private tooLarge(): Error {
    return nodeProblem('ERR_SOURCE_TOO_LARGE', {
      detail: `the query would read more than ${this.limit} FHIR resources`,
    });
  }
}

export interface SearchPage {
  readonly resources: readonly JsonObject[];
  readonly total: number | undefined;
  /** Absolute URL of the next page. */
  readonly next: string | undefined;
}

function linkUrl(links: unknown, relation: string): string | undefined {
  if (!Array.isArray(links)) return undefined;
  for (const link of links) {
    if (isJson(link) && link.relation === relation && typeof link.url === 'string') return link.url;
  }
  return undefined;
}

function hasError(outcome: unknown): boolean {
  if (!isJson(outcome) || !Array.isArray(outcome.issue)) return false;
  return outcome.issue.some((i) => isJson(i) && (i.severity === 'error' || i.severity === 'fatal'));
}

/**
 * Reads one searchset page of `type` that answers `sentUrl`, or throws
 * ERR_SOURCE_INVALID.
 */
export function readSearchPage(json: unknown, type: SearchType, sentUrl: string): SearchPage {
  if (!isJson(json)) throw invalid('the FHIR server answered no search Bundle');
  if (json.resourceType === 'OperationOutcome') {
    throw invalid('the FHIR server answered an OperationOutcome instead of results');
  }
  if (json.resourceType !== 'Bundle' || json.type !== 'searchset') {
    throw invalid('the FHIR server answered no search Bundle');
  }
  const self = linkUrl(json.link, 'self');
  if (self !== undefined && !sameSearch(sentUrl, self)) {
    throw invalid('the FHIR server answered a different search than the one sent');
  }
  const resources: JsonObject[] = [];
  const entries = json.entry ?? [];
  if (!Array.isArray(entries)) throw invalid('the FHIR server’s Bundle entries are not a list');
  for (const entry of entries) {
    if (!isJson(entry)) throw invalid('the FHIR server’s Bundle holds an unreadable entry');
    const mode = isJson(entry.search) ? entry.search.mode : undefined;
    const resource = entry.resource;
    if (mode === 'outcome') {
      if (!isJson(resource) || resource.resourceType !== 'OperationOutcome' || hasError(resource)) {
        throw invalid('the FHIR server reported a problem with the search');
      }
      continue;
    }
    if (mode !== undefined && mode !== 'match') {
      throw invalid('the FHIR server’s Bundle holds resources the search did not ask for');
    }
    if (
      !isJson(resource) ||
      resource.resourceType !== type ||
      typeof resource.id !== 'string' ||
      resource.id.length === 0
    ) {
      throw invalid('the FHIR server’s Bundle holds resources the search did not ask for');
    }
    resources.push(resource);
  }
  const total =
    typeof json.total === 'number' && Number.isInteger(json.total) && json.total >= 0
      ? json.total
      : undefined;
  const nextLink = linkUrl(json.link, 'next');
  let next: string | undefined;
  if (nextLink !== undefined) {
    try {
      next = new URL(nextLink, sentUrl).toString();
    } catch {
      throw invalid('the FHIR server’s next link is not a URL');
    }
  }
  return { resources, total, next };
}

/** Consecutive empty pages that still point to a next page before paging is refused. */
const MAX_EMPTY_PAGES = 3;

/**
 * Reads every page of a search, handing each page's resources to `onPage`.
 * The first page's `total` (when given) is checked against the budget before
 * anything else is read.
 */
export async function searchAll(
  http: FhirHttp,
  baseUrl: string,
  spec: SearchSpec,
  budget: ResourceBudget,
  onPage: (resources: readonly JsonObject[]) => void,
  signal?: AbortSignal,
): Promise<void> {
  let url: string | undefined = buildSearchUrl(baseUrl, spec);
  const visited = new Set<string>();
  let empty = 0;
  let first = true;
  while (url !== undefined) {
    if (visited.has(url)) throw invalid('the FHIR server’s paging links loop');
    visited.add(url);
    const page = readSearchPage(await http.getJson(url, signal), spec.type, url);
    if (first && page.total !== undefined) budget.expect(page.total);
    first = false;
    budget.take(page.resources.length);
    onPage(page.resources);
    empty = page.resources.length === 0 ? empty + 1 : 0;
    if (page.next !== undefined) {
      if (empty >= MAX_EMPTY_PAGES) throw invalid('the FHIR server’s paging returns empty pages');
      if (!isUnderBase(baseUrl, page.next)) {
        throw invalid('the FHIR server’s next link leaves its base URL');
      }
    }
    url = page.next;
  }
}

/** The first page of a search (for `total` and the first entries). */
export async function firstPage(
  http: FhirHttp,
  baseUrl: string,
  spec: SearchSpec,
  signal?: AbortSignal,
): Promise<SearchPage> {
  const url = buildSearchUrl(baseUrl, spec);
  return readSearchPage(await http.getJson(url, signal), spec.type, url);
}
