// The federated catalogue: each node's self-description, fetched, validated,
// cached, merged and searchable by code or text. Served as JSON, or as
// JSON-LD in the HealthDCAT-AP vocabulary.
import { type CatalogueEntry, isValid } from '@tessera/schemas';
import type { NodeClient } from '../nodes/node-client.ts';

export interface CatalogueSearch {
  /** `system|code`: nodes holding that code (for at least their threshold of patients). */
  readonly code?: string | undefined;
  /** Words matched against title, description, spatial, themes and code displays. */
  readonly q?: string | undefined;
}

/**
 * Entries matching a search; pure.
 * @example searchCatalogue(entries, { code: 'http://hl7.org/fhir/sid/icd-10|E11' })
 */
export function searchCatalogue(
  entries: readonly CatalogueEntry[],
  search: CatalogueSearch,
): CatalogueEntry[] {
  const [system, code] = search.code?.includes('|')
    ? search.code.split('|', 2)
    : [undefined, search.code];
  const words = (search.q ?? '').toLowerCase().split(/\s+/).filter(Boolean);
  return entries.filter((entry) => {
    if (code !== undefined && code !== '') {
      const held = (entry.codes ?? []).some(
        (c) => c.code === code && (system === undefined || system === '' || c.system === system),
      );
      if (!held) return false;
    }
    if (words.length === 0) return true;
    const text = [
      entry.title,
      entry.description,
      entry.spatial,
      entry.publisher.name,
      ...(entry.healthTheme ?? []),
      ...(entry.codes ?? []).map((c) => `${c.code} ${c.display ?? ''}`),
    ]
      .join(' ')
      .toLowerCase();
    return words.every((w) => text.includes(w));
  });
}

/** An entry as HealthDCAT-AP JSON-LD (dcat:Dataset). */
export function toJsonLd(
  entries: readonly CatalogueEntry[],
  catalogueUrl: string,
): Record<string, unknown> {
  return {
    '@context': {
      dcat: 'http://www.w3.org/ns/dcat#',
      dct: 'http://purl.org/dc/terms/',
      foaf: 'http://xmlns.com/foaf/0.1/',
      vcard: 'http://www.w3.org/2006/vcard/ns#',
      healthdcatap: 'http://healthdataportal.eu/ns/health#',
      xsd: 'http://www.w3.org/2001/XMLSchema#',
    },
    '@id': catalogueUrl,
    '@type': 'dcat:Catalog',
    'dcat:dataset': entries.map((e) => ({
      '@id': `${catalogueUrl}#${e.node}`,
      '@type': 'dcat:Dataset',
      'dct:identifier': e.node,
      'dct:title': e.title,
      'dct:description': e.description,
      'dct:publisher': { '@type': 'foaf:Agent', 'foaf:name': e.publisher.name },
      'dct:spatial': e.spatial,
      'dct:accessRights': e.accessRights,
      ...(e.temporalCoverage
        ? {
            'dct:temporal': {
              '@type': 'dct:PeriodOfTime',
              'dcat:startDate': e.temporalCoverage.start,
              'dcat:endDate': e.temporalCoverage.end,
            },
          }
        : {}),
      'healthdcatap:numberOfRecords': e.numberOfRecords,
      'healthdcatap:numberOfUniqueIndividuals': e.numberOfUniqueIndividuals,
      'healthdcatap:minTypicalAge': e.minTypicalAge,
      'healthdcatap:maxTypicalAge': e.maxTypicalAge,
      'healthdcatap:hasCodingSystem': e.hasCodingSystem,
      'healthdcatap:healthTheme': e.healthTheme,
      'dct:hasVersion': e.dataVersion,
      ...(e.contactPoint
        ? {
            'dcat:contactPoint': {
              '@type': 'vcard:Kind',
              'vcard:fn': e.contactPoint.name,
              'vcard:hasEmail': e.contactPoint.email,
            },
          }
        : {}),
    })),
  };
}

export interface FederatedCatalogue {
  /** Every reachable node's entry, from cache when fresh. */
  entries(): Promise<CatalogueEntry[]>;
}

export interface FederatedCatalogueOptions {
  /** Reaches the nodes; each listed node must be one of its nodes. */
  readonly client: NodeClient;
  /** How long a fetched entry is served before it is fetched again. */
  readonly ttlSec: number;
  /** A fetch's deadline (config `catalogue.timeoutMs`). */
  readonly timeoutMs: number;
  /** Largest entry read; a larger one is refused like a broken one (config `catalogue.maxBytes`). */
  readonly maxBytes: number;
  readonly now?: () => number;
}

/**
 * @example const catalogue = createFederatedCatalogue(config.nodes,
 *   { client, ttlSec: 300, timeoutMs: 5000, maxBytes: 4_194_304 });
 *   const entries = await catalogue.entries();
 */
export function createFederatedCatalogue(
  nodes: readonly { id: string }[],
  options: FederatedCatalogueOptions,
): FederatedCatalogue {
  const now = options.now ?? Date.now;
  const cache = new Map<string, { entry: CatalogueEntry; fetchedAt: number }>();
  const limits = { timeoutMs: options.timeoutMs, maxBodyBytes: options.maxBytes };

  /** A node's fresh entry; when it cannot be had (or is refused), the last good one. */
  async function fetchOne(node: { id: string }): Promise<CatalogueEntry | undefined> {
    const cached = cache.get(node.id);
    if (cached && now() - cached.fetchedAt < options.ttlSec * 1000) return cached.entry;
    try {
      const { statusCode, body } = await options.client.getJson(node.id, '/v1/catalogue', limits);
      // A node may only describe itself, and only in the catalogue's shape.
      if (statusCode !== 200 || !isValid('catalogue', body) || body.node !== node.id) {
        return cached?.entry;
      }
      cache.set(node.id, { entry: body, fetchedAt: now() });
      return body;
    } catch {
      return cached?.entry;
    }
  }

  return {
    async entries() {
      const all = await Promise.all(nodes.map(fetchOne));
      return all.filter((e): e is CatalogueEntry => e !== undefined);
    },
  };
}
