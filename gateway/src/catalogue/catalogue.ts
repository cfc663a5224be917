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

/** What a code search finds: one code, named, with each node's band. */
export interface CodeMatch {
  readonly kind: NonNullable<CatalogueEntry['codes']>[number]['kind'];
  readonly system: string;
  readonly code: string;
  readonly display?: string;
  /** Each node holding the code, with its rounded patient count, largest first. */
  readonly nodes: readonly { readonly node: string; readonly patients: number }[];
}

export interface CodeSearchResult {
  readonly q: string;
  readonly codes: readonly CodeMatch[];
  /** More codes matched than the limit. */
  readonly truncated: boolean;
  /** When nothing matched, says so. */
  readonly message?: string;
}

/** Text for matching: accents dropped, lower case. @example fold('Diabète') // 'diabete' */
export function fold(text: string): string {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** A code as it is compared: folded, without the dots ICD-10 codes are written with. @example codeKey('E11.9') // 'e119' */
export function codeKey(code: string): string {
  return fold(code).replaceAll('.', '');
}

/**
 * Codes the nodes hold, found by the start of their code (`E11` finds
 * `E11.9`, stored `E119`) or by words of their name (`diabet` finds
 * "Type 2 diabetes mellitus"), accents and case ignored; codes found by
 * their code first, then the most widely held. Pure.
 * @example searchCodes(entries, { q: 'diabet', limit: 20 })
 */
export function searchCodes(
  entries: readonly CatalogueEntry[],
  search: { readonly q: string; readonly system?: string | undefined; readonly limit: number },
): CodeSearchResult {
  const q = search.q.trim();
  const prefix = codeKey(q);
  const words = fold(q).split(/\s+/).filter(Boolean);
  const found = new Map<string, { match: CodeMatch; byCode: boolean; total: number }>();
  for (const entry of entries) {
    for (const c of entry.codes ?? []) {
      if (search.system !== undefined && c.system !== search.system) continue;
      const byCode = prefix !== '' && codeKey(c.code).startsWith(prefix);
      const name = c.display === undefined ? '' : fold(c.display);
      if (!byCode && (words.length === 0 || !words.every((w) => name.includes(w)))) continue;
      const key = `${c.kind}|${c.system}|${c.code}`;
      const seen = found.get(key);
      const node = { node: entry.node, patients: c.patients };
      if (seen === undefined) {
        found.set(key, {
          match: {
            kind: c.kind,
            system: c.system,
            code: c.code,
            ...(c.display === undefined ? {} : { display: c.display }),
            nodes: [node],
          },
          byCode,
          total: c.patients,
        });
      } else {
        found.set(key, {
          match: {
            ...seen.match,
            ...(seen.match.display === undefined && c.display !== undefined
              ? { display: c.display }
              : {}),
            nodes: [...seen.match.nodes, node],
          },
          byCode: seen.byCode || byCode,
          total: seen.total + c.patients,
        });
      }
    }
  }
  const ranked = [...found.values()].sort(
    (a, b) =>
      Number(b.byCode) - Number(a.byCode) ||
      b.total - a.total ||
      a.match.code.localeCompare(b.match.code),
  );
  const codes = ranked.slice(0, search.limit).map(({ match }) => ({
    ...match,
    nodes: [...match.nodes].sort((a, b) => b.patients - a.patients || a.node.localeCompare(b.node)),
  }));
  return {
    q,
    codes,
    truncated: ranked.length > search.limit,
    ...(codes.length === 0 ? { message: `No code or name in the catalogue matches "${q}".` } : {}),
  };
}

/** The vocabularies of the catalogue's JSON-LD (HealthDCAT-AP). */
export const HEALTH_DCAT_CONTEXT = Object.freeze({
  dcat: 'http://www.w3.org/ns/dcat#',
  dct: 'http://purl.org/dc/terms/',
  foaf: 'http://xmlns.com/foaf/0.1/',
  vcard: 'http://www.w3.org/2006/vcard/ns#',
  healthdcatap: 'http://healthdataportal.eu/ns/health#',
  xsd: 'http://www.w3.org/2001/XMLSchema#',
});

/** A node's dataset in the catalogue's JSON-LD: the identifier a data request names. */
export function datasetId(catalogueUrl: string, node: string): string {
  return `${catalogueUrl}#${node}`;
}

/** An entry as HealthDCAT-AP JSON-LD (dcat:Dataset). */
export function toJsonLd(
  entries: readonly CatalogueEntry[],
  catalogueUrl: string,
): Record<string, unknown> {
  return {
    '@context': HEALTH_DCAT_CONTEXT,
    '@id': catalogueUrl,
    '@type': 'dcat:Catalog',
    'dcat:dataset': entries.map((e) => ({
      '@id': datasetId(catalogueUrl, e.node),
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
  /** Per node: the last good entry, and when it was last asked (answered or not). */
  const cache = new Map<string, { entry: CatalogueEntry | undefined; askedAt: number }>();
  /** Fetches under way: readers meanwhile wait for the same one. */
  const inFlight = new Map<string, Promise<CatalogueEntry | undefined>>();
  const limits = { timeoutMs: options.timeoutMs, maxBodyBytes: options.maxBytes };

  /**
   * A node's entry, asked again once the last ask is `ttlSec` old, whatever
   * came of it: every finished query reads the catalogue (for its warnings),
   * and a node that has none, or is down, must not be asked once per query.
   * When it cannot be had (or is refused), the last good one.
   */
  function entryOf(node: { id: string }): Promise<CatalogueEntry | undefined> {
    const cached = cache.get(node.id);
    if (cached && now() - cached.askedAt < options.ttlSec * 1000) {
      return Promise.resolve(cached.entry);
    }
    let fetching = inFlight.get(node.id);
    if (fetching === undefined) {
      fetching = fetchOne(node.id, cached?.entry).finally(() => inFlight.delete(node.id));
      inFlight.set(node.id, fetching);
    }
    return fetching;
  }

  async function fetchOne(
    id: string,
    last: CatalogueEntry | undefined,
  ): Promise<CatalogueEntry | undefined> {
    let entry = last;
    try {
      const { statusCode, body } = await options.client.getJson(id, '/v1/catalogue', limits);
      // A node may only describe itself, and only in the catalogue's shape.
      if (statusCode === 200 && isValid('catalogue', body) && body.node === id) entry = body;
    } catch {
      // Unreachable, too slow or too large: the last good entry stands.
    }
    cache.set(id, { entry, askedAt: now() });
    return entry;
  }

  return {
    async entries() {
      const all = await Promise.all(nodes.map(entryOf));
      return all.filter((e): e is CatalogueEntry => e !== undefined);
    },
  };
}
