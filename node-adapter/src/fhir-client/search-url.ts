// Every search URL the node sends a FHIR server (live source and sync) is
// built here, and only from allow-listed parts (threat 35): a resource type
// from a fixed list, a parameter name from that type's fixed list, an
// allow-listed modifier, and values rendered from typed parts. Each part of
// a value taken from a query (systems, codes, units, ids) is escaped by the
// FHIR search rules (`\` `,` `|` `$`), and the whole value is then
// percent-encoded, so no code can end a value, start another parameter
// (`&_has:...`) or cut the URL (`#`).

/** Resource types the source reads. */
export const SEARCH_TYPES = [
  'Patient',
  'Condition',
  'Observation',
  'Procedure',
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
  'Medication',
  'Immunization',
  'Encounter',
  'Consent',
] as const;
export type SearchType = (typeof SEARCH_TYPES)[number];

/** FHIR R4 search parameters the source may send, per resource type. */
export const TYPE_PARAMS: Readonly<Record<SearchType, readonly string[]>> = Object.freeze({
  Patient: [],
  Condition: ['code', 'onset-date', 'onset-age', 'recorded-date'],
  Observation: [
    'code',
    'date',
    'value-quantity',
    'value-concept',
    'component-code',
    'component-value-quantity',
    'component-value-concept',
  ],
  Procedure: ['code', 'date'],
  MedicationRequest: ['code', 'medication', 'authoredon'],
  MedicationStatement: ['code', 'medication', 'effective'],
  MedicationAdministration: ['code', 'medication', 'effective-time'],
  Medication: ['code', 'ingredient-code'],
  Immunization: ['vaccine-code', 'date'],
  Encounter: ['type', 'class', 'date'],
  // Consents are few per patient and read whole: a provision's code and type
  // are not searchable together in plain FHIR R4.
  Consent: [],
});

/** Result parameters the source may send on any type. */
export const COMMON_PARAMS = ['_count', '_summary', '_elements', '_sort'] as const;
export type CommonParam = (typeof COMMON_PARAMS)[number];

/** Token parameters, the only ones `:below` may qualify. */
const TOKEN_PARAMS = new Set([
  'code',
  'ingredient-code',
  'vaccine-code',
  'type',
  'class',
  'value-concept',
  'component-code',
  'component-value-concept',
]);

/** Quantity parameters. */
const QUANTITY_PARAMS = new Set(['value-quantity', 'component-value-quantity']);

/** Modifiers the source may send, and the parameters each may qualify. */
const MODIFIER_PARAMS: Readonly<Record<Modifier, ReadonlySet<string>>> = {
  below: TOKEN_PARAMS,
  missing: new Set([
    'medication',
    'value-quantity',
    'component-value-quantity',
    'date',
    'onset-date',
    'onset-age',
    'effective-time',
  ]),
};
export type Modifier = 'below' | 'missing';

export type Prefix = 'ge' | 'le';

/** One value of a search parameter; several values of one parameter are alternatives (OR). */
export type SearchValue =
  /** `system|code`, or `system|` (any code of the system) when `code` is undefined. */
  | { readonly kind: 'token'; readonly system: string; readonly code?: string }
  | { readonly kind: 'date'; readonly prefix: Prefix; readonly date: string }
  | {
      readonly kind: 'quantity';
      readonly prefix: Prefix;
      readonly value: number;
      readonly system: string;
      readonly code: string;
    }
  | { readonly kind: 'reference'; readonly type: 'Medication'; readonly id: string }
  /** For `:missing`: `false` asks for resources that have the element. */
  | { readonly kind: 'missing'; readonly value: boolean }
  | { readonly kind: 'count'; readonly value: number }
  | { readonly kind: 'summary-count' }
  | { readonly kind: 'elements'; readonly names: readonly string[] }
  | { readonly kind: 'sort-last-updated-desc' };

export interface SearchParam {
  readonly name: string;
  readonly modifier?: Modifier;
  /** Alternatives, joined by `,`; at least one. */
  readonly values: readonly SearchValue[];
}

/** A search before paging and element selection are added. */
export interface SearchSpec {
  readonly type: SearchType;
  /** All must hold (AND). */
  readonly params: readonly SearchParam[];
}

/** Thrown for anything the allow-list refuses: a bug in the caller, never data-dependent. */
export class SearchUrlError extends Error {
  override readonly name = 'SearchUrlError';
}

/**
 * Escapes one part of a search value by the FHIR search rules.
 * @example escapeSearchValue('a,b|c$d\\e') // 'a\\,b\\|c\\$d\\\\e'
 */
export function escapeSearchValue(value: string): string {
  return value
    .replaceAll('\\', '\\\\')
    .replaceAll(',', '\\,')
    .replaceAll('|', '\\|')
    .replaceAll('$', '\\$');
}

/**
 * Splits a search value on its unescaped separators and unescapes the parts:
 * the inverse of what `renderValue` does, as a server reads it.
 * @example splitEscaped('a\\,b,c', ',') // ['a,b', 'c']
 */
export function splitEscaped(value: string, separator: ',' | '|'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && i + 1 < value.length) {
      current += `\\${value[i + 1]!}`;
      i += 1;
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * Removes FHIR search escapes.
 * @example unescapeSearchValue('a\\|b') // 'a|b'
 */
export function unescapeSearchValue(value: string): string {
  return value.replace(/\\(.)/g, '$1');
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ELEMENT_NAME = /^[a-z][A-Za-z]{0,63}$/;

/** A decimal without exponent notation, as FHIR number and quantity searches need. */
export function plainNumber(value: number): string {
  if (!Number.isFinite(value)) throw new SearchUrlError('a search number must be finite');
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
}

function renderValue(param: string, value: SearchValue): string {
  switch (value.kind) {
    case 'token':
      if (!TOKEN_PARAMS.has(param)) throw new SearchUrlError(`${param} takes no token`);
      return `${escapeSearchValue(value.system)}|${value.code === undefined ? '' : escapeSearchValue(value.code)}`;
    case 'date':
      if (!ISO_DATE.test(value.date)) throw new SearchUrlError('a search date must be YYYY-MM-DD');
      return `${value.prefix}${value.date}`;
    case 'quantity':
      if (!QUANTITY_PARAMS.has(param)) throw new SearchUrlError(`${param} takes no quantity`);
      return `${value.prefix}${plainNumber(value.value)}|${escapeSearchValue(value.system)}|${escapeSearchValue(value.code)}`;
    case 'reference':
      if (param !== 'medication') throw new SearchUrlError(`${param} takes no reference`);
      return `${value.type}/${escapeSearchValue(value.id)}`;
    case 'missing':
      return value.value ? 'true' : 'false';
    case 'count':
      if (param !== '_count') throw new SearchUrlError(`${param} takes no count`);
      if (!Number.isInteger(value.value) || value.value < 0 || value.value > 10_000) {
        throw new SearchUrlError('_count must be an integer from 0 to 10000');
      }
      return String(value.value);
    case 'summary-count':
      if (param !== '_summary') throw new SearchUrlError(`${param} takes no summary`);
      return 'count';
    case 'elements':
      if (param !== '_elements') throw new SearchUrlError(`${param} takes no element list`);
      if (value.names.length === 0 || !value.names.every((n) => ELEMENT_NAME.test(n))) {
        throw new SearchUrlError('_elements takes element names');
      }
      return value.names.join(',');
    case 'sort-last-updated-desc':
      if (param !== '_sort') throw new SearchUrlError(`${param} takes no sort`);
      return '-_lastUpdated';
  }
}

const SINGLE_VALUED = new Set(['_count', '_summary', '_elements', '_sort']);

function checkParam(type: SearchType, param: SearchParam): void {
  const allowed =
    TYPE_PARAMS[type].includes(param.name) ||
    (COMMON_PARAMS as readonly string[]).includes(param.name);
  if (!allowed) throw new SearchUrlError(`${param.name} is not an allowed parameter on ${type}`);
  const modifier = param.modifier;
  if (modifier !== undefined && MODIFIER_PARAMS[modifier]?.has(param.name) !== true) {
    throw new SearchUrlError(`:${String(modifier)} is not allowed on ${param.name}`);
  }
  const missing = param.values.some((v) => v.kind === 'missing');
  if (missing !== (modifier === 'missing')) {
    throw new SearchUrlError(':missing takes a true/false value, and only it does');
  }
  if (param.values.length === 0) throw new SearchUrlError(`${param.name} has no value`);
  if (SINGLE_VALUED.has(param.name) && param.values.length !== 1) {
    throw new SearchUrlError(`${param.name} takes one value`);
  }
}

/** `base` without a trailing slash. */
function trimBase(baseUrl: string): string {
  return baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
}

/**
 * The one way to build a search URL: `<base>/<Type>?<name>[:modifier]=<value>&...`.
 * @example buildSearchUrl('https://fhir.example/r4', { type: 'Condition', params: [
 *   { name: 'code', values: [{ kind: 'token', system: 'http://snomed.info/sct', code: '15777000' }] }] })
 * // 'https://fhir.example/r4/Condition?code=http%3A%2F%2Fsnomed.info%2Fsct%7C15777000'
 */
export function buildSearchUrl(baseUrl: string, spec: SearchSpec): string {
  if (!(SEARCH_TYPES as readonly string[]).includes(spec.type)) {
    throw new SearchUrlError('resource type not allowed');
  }
  const query = spec.params.map((param) => {
    checkParam(spec.type, param);
    const name = param.modifier === undefined ? param.name : `${param.name}:${param.modifier}`;
    const value = param.values.map((v) => renderValue(param.name, v)).join(',');
    return `${name}=${encodeURIComponent(value)}`;
  });
  const path = `${trimBase(baseUrl)}/${spec.type}`;
  return query.length === 0 ? path : `${path}?${query.join('&')}`;
}

// Parameters that only say how results are paged or shown. A server may add,
// drop or rewrite them in its links without changing what matches.
const PRESENTATION_PARAMS = new Set([
  '_count',
  '_offset',
  '_page',
  '_getpages',
  '_getpagesoffset',
  '_pretty',
  '_bundletype',
  '_format',
  '_total',
  '_cursor',
  '_elements',
  '__t',
  '__page-token',
]);

function matchParams(url: URL): string[] {
  return [...url.searchParams.entries()]
    .filter(([name]) => !PRESENTATION_PARAMS.has(name))
    .map(([name, value]) => `${name}=${value}`)
    .sort();
}

function trimPath(path: string): string {
  return path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * True when a page's `self` link names the same search as the URL that was
 * sent: same path and the same matching parameters with the same values
 * (order and percent-encoding aside). A server that dropped or rewrote a
 * criterion fails this, so its page is not trusted.
 * @example sameSearch('https://f/Condition?code=a%7Cb', 'https://f/Condition?code=a|b&_count=50') // true
 */
export function sameSearch(sent: string, self: string): boolean {
  let a: URL;
  let b: URL;
  try {
    a = new URL(sent);
    b = new URL(self, sent);
  } catch {
    return false;
  }
  if (trimPath(a.pathname) !== trimPath(b.pathname)) return false;
  const x = matchParams(a);
  const y = matchParams(b);
  return x.length === y.length && x.every((p, i) => p === y[i]);
}

/**
 * True when `url` lies under `baseUrl` (same origin, path below the base's):
 * the only URLs a server's links may send the node to, so credentials never
 * leave for another host.
 */
export function isUnderBase(baseUrl: string, url: string): boolean {
  let base: URL;
  let target: URL;
  try {
    base = new URL(trimBase(baseUrl));
    target = new URL(url);
  } catch {
    return false;
  }
  if (target.origin !== base.origin || target.username !== '' || target.password !== '') {
    return false;
  }
  const prefix = trimPath(base.pathname);
  return target.pathname === prefix || target.pathname.startsWith(`${prefix}/`);
}
