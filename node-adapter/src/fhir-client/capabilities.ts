// What a FHIR server says it can search, read from its CapabilityStatement
// once at start. The node asks the server only for what it declared; the
// rest it evaluates itself. Modifiers and prefixes are taken from the
// SearchParameter a declaration points to when the statement contains it
// (`definition: "#id"`, SearchParameter.modifier / .comparator).
import { nodeProblem } from '../errors.ts';
import { SEARCH_TYPES } from './search-url.ts';
import type { SearchType } from './search-url.ts';

export interface ParamSupport {
  readonly type: string;
  readonly modifiers: ReadonlySet<string>;
  /** Prefixes the definition lists; undefined when the statement does not say. */
  readonly comparators: ReadonlySet<string> | undefined;
}

export interface SourceCapabilities {
  readonly fhirVersion: string | undefined;
  /** Searchable resource types, each with its declared parameters. */
  readonly types: ReadonlyMap<SearchType, ReadonlyMap<string, ParamSupport>>;
  /** Parameters declared for every type (rest.searchParam). */
  readonly common: ReadonlyMap<string, ParamSupport>;
}

type Json = Record<string, unknown>;

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: unknown): Set<string> {
  return new Set(list(value).filter((v): v is string => typeof v === 'string'));
}

function invalid(detail: string): Error {
  return nodeProblem('ERR_SOURCE_INVALID', { detail });
}

function readParams(
  declared: unknown,
  definitions: ReadonlyMap<string, Json>,
): Map<string, ParamSupport> {
  const params = new Map<string, ParamSupport>();
  for (const item of list(declared)) {
    if (!isJson(item) || typeof item.name !== 'string' || typeof item.type !== 'string') continue;
    const definition =
      typeof item.definition === 'string' ? definitions.get(item.definition) : undefined;
    params.set(item.name, {
      type: item.type,
      modifiers: definition === undefined ? new Set() : strings(definition.modifier),
      comparators:
        definition === undefined || !Array.isArray(definition.comparator)
          ? undefined
          : strings(definition.comparator),
    });
  }
  return params;
}

function searchable(resource: Json): boolean {
  if (!Array.isArray(resource.interaction)) return true;
  return resource.interaction.some((i) => isJson(i) && i.code === 'search-type');
}

/**
 * Reads a CapabilityStatement; a document that is not one, a server that is
 * not FHIR R4, or one that cannot search Patient is ERR_SOURCE_INVALID.
 * @example readCapabilities(await http.getJson(`${base}/metadata`)).types.has('Condition')
 */
export function readCapabilities(statement: unknown): SourceCapabilities {
  if (!isJson(statement) || statement.resourceType !== 'CapabilityStatement') {
    throw invalid('the FHIR server’s /metadata is not a CapabilityStatement');
  }
  const fhirVersion = typeof statement.fhirVersion === 'string' ? statement.fhirVersion : undefined;
  if (fhirVersion !== undefined && !fhirVersion.startsWith('4.')) {
    throw invalid('the FHIR server is not a FHIR R4 server');
  }
  const definitions = new Map<string, Json>();
  for (const item of list(statement.contained)) {
    if (!isJson(item) || item.resourceType !== 'SearchParameter') continue;
    if (typeof item.id === 'string') definitions.set(`#${item.id}`, item);
    if (typeof item.url === 'string') definitions.set(item.url, item);
  }
  const rest = list(statement.rest).find((r) => isJson(r) && r.mode === 'server');
  if (!isJson(rest)) throw invalid('the FHIR server declares no server REST interface');
  const common = readParams(rest.searchParam, definitions);
  const types = new Map<SearchType, ReadonlyMap<string, ParamSupport>>();
  for (const resource of list(rest.resource)) {
    if (!isJson(resource) || typeof resource.type !== 'string') continue;
    const type = SEARCH_TYPES.find((t) => t === resource.type);
    if (type === undefined || !searchable(resource)) continue;
    types.set(type, readParams(resource.searchParam, definitions));
  }
  if (!types.has('Patient')) throw invalid('the FHIR server cannot search Patient');
  return { fhirVersion, types, common };
}

function param(caps: SourceCapabilities, type: SearchType, name: string): ParamSupport | undefined {
  return caps.types.get(type)?.get(name) ?? caps.common.get(name);
}

/** True when the server declared `name` for `type` (or for every type). */
export function supportsParam(caps: SourceCapabilities, type: SearchType, name: string): boolean {
  return param(caps, type, name) !== undefined;
}

/** True when `name:modifier` was declared (`below`, `missing`). */
export function supportsModifier(
  caps: SourceCapabilities,
  type: SearchType,
  name: string,
  modifier: string,
): boolean {
  return param(caps, type, name)?.modifiers.has(modifier) === true;
}

/**
 * True when `ge` and `le` may be used on `name`: a date or quantity
 * parameter whose definition lists both prefixes, or a date parameter whose
 * statement says nothing about prefixes (FHIR defines them for every date
 * parameter). A quantity parameter needs them stated.
 */
export function supportsRange(caps: SourceCapabilities, type: SearchType, name: string): boolean {
  const p = param(caps, type, name);
  if (p === undefined || (p.type !== 'date' && p.type !== 'quantity')) return false;
  if (p.comparators === undefined) return p.type === 'date';
  return p.comparators.has('ge') && p.comparators.has('le');
}

/** True when the server can search `type` at all. */
export function canSearch(caps: SourceCapabilities, type: SearchType): boolean {
  return caps.types.has(type);
}

/** What the source uses of a server, as plain JSON for operators and health checks. */
export interface CapabilitySummary {
  readonly fhirVersion: string | undefined;
  /** Per searchable type: declared parameters, and declared modifiers as `name:modifier`. */
  readonly types: Readonly<
    Partial<
      Record<
        SearchType,
        { readonly params: readonly string[]; readonly modifiers: readonly string[] }
      >
    >
  >;
  readonly unsearchable: readonly SearchType[];
  readonly common: readonly string[];
}

export function summariseCapabilities(caps: SourceCapabilities): CapabilitySummary {
  const types: Partial<Record<SearchType, { params: string[]; modifiers: string[] }>> = {};
  for (const [type, params] of caps.types) {
    types[type] = {
      params: [...params.keys()].sort(),
      modifiers: [...params].flatMap(([n, p]) => [...p.modifiers].map((m) => `${n}:${m}`)).sort(),
    };
  }
  return {
    fhirVersion: caps.fhirVersion,
    types,
    unsearchable: SEARCH_TYPES.filter((t) => !caps.types.has(t)),
    common: [...caps.common.keys()].sort(),
  };
}
