// The query builder's model is the query v1 document itself: the builder
// shows and edits the JSON the researcher also sees, so the two never drift
// apart. Pure functions: read a node of the document by path, write one
// immutably, make new criteria, and find codings no node holds.
import type { CatalogueEntry } from '@tessera/schemas';
import {
  EVENT_KINDS,
  type EventKind,
  PREFIX_HIERARCHY_SYSTEMS,
  normaliseCode,
} from '@tessera/schemas/query-walk';

export { EVENT_KINDS, type EventKind };
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };
export type Path = readonly (string | number)[];

export const GENDERS = ['female', 'male', 'other', 'unknown'] as const;
export const PICKS = ['latest', 'earliest', 'mean'] as const;

/** Code systems offered in the builder; the catalogue adds those the nodes hold. */
export const KNOWN_SYSTEMS: readonly { readonly url: string; readonly name: string }[] = [
  { url: 'http://hl7.org/fhir/sid/icd-10', name: 'ICD-10' },
  { url: 'http://hl7.org/fhir/sid/icd-10-cm', name: 'ICD-10-CM' },
  { url: 'http://fhir.de/CodeSystem/bfarm/icd-10-gm', name: 'ICD-10-GM' },
  { url: 'http://snomed.info/sct', name: 'SNOMED CT' },
  { url: 'http://loinc.org', name: 'LOINC' },
  { url: 'http://www.whocc.no/atc', name: 'ATC' },
  { url: 'http://www.nlm.nih.gov/research/umls/rxnorm', name: 'RxNorm' },
  { url: 'http://hl7.org/fhir/sid/cvx', name: 'CVX' },
];

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `/cohort/all/0` for `['cohort', 'all', 0]` (RFC 6901). */
export function pointerOf(path: Path): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function getAt(doc: Json | undefined, path: Path): Json | undefined {
  let node: Json | undefined = doc;
  for (const key of path) {
    if (Array.isArray(node) && typeof key === 'number') node = node[key];
    else if (isObject(node) && typeof key === 'string')
      node = Object.hasOwn(node, key) ? node[key] : undefined;
    else return undefined;
  }
  return node;
}

/**
 * A copy of `doc` with the value at `path` replaced; `undefined` removes
 * the key (or the array item). Objects and arrays on the way are created.
 * @example setAt({ a: { b: 1 } }, ['a', 'b'], 2) // { a: { b: 2 } }
 */
export function setAt(doc: Json | undefined, path: Path, value: Json | undefined): Json {
  if (path.length === 0) return value ?? null;
  const [key, ...rest] = path as [string | number, ...(string | number)[]];
  if (typeof key === 'number') {
    const list = Array.isArray(doc) ? [...doc] : [];
    if (rest.length === 0 && value === undefined) list.splice(key, 1);
    else list[key] = setAt(list[key], rest, value);
    return list;
  }
  const object: JsonObject = isObject(doc) ? { ...doc } : {};
  if (rest.length === 0 && value === undefined) delete object[key];
  else object[key] = setAt(object[key], rest, value);
  return object;
}

export type ExprKind = 'all' | 'any' | 'not' | 'patient' | EventKind;

/** The kind of an expression (its one key), or undefined when it is not one. */
export function exprKind(expr: Json | undefined): ExprKind | undefined {
  if (!isObject(expr)) return undefined;
  const keys = Object.keys(expr);
  if (keys.length !== 1) return undefined;
  const key = keys[0]!;
  return ['all', 'any', 'not', 'patient', ...EVENT_KINDS].includes(key)
    ? (key as ExprKind)
    : undefined;
}

/** A new criterion of a kind, with the one required part left for the researcher to fill in. */
export function newExpr(kind: ExprKind, system = KNOWN_SYSTEMS[0]!.url): JsonObject {
  switch (kind) {
    case 'all':
    case 'any':
      return { [kind]: [] };
    case 'not':
      return { not: { patient: { deceased: true } } };
    case 'patient':
      return { patient: { gender: ['female'] } };
    default:
      return { [kind]: { code: [{ system, code: '' }] } };
  }
}

export function descendantsAllowed(system: string): boolean {
  return PREFIX_HIERARCHY_SYSTEMS.has(system);
}

/** A coding of the query with where it sits, for flagging. */
export interface PlacedCoding {
  /** Where its code field is. */
  readonly pointer: string;
  /** The criterion kind whose codes these are (observation for measures). */
  readonly kind: EventKind;
  readonly system: string;
  readonly code: string;
  readonly descendants: boolean;
}

function codingsOf(set: Json | undefined, path: Path, kind: EventKind, out: PlacedCoding[]): void {
  if (!Array.isArray(set)) return;
  set.forEach((c, i) => {
    if (
      isObject(c) &&
      typeof c.system === 'string' &&
      typeof c.code === 'string' &&
      c.code !== ''
    ) {
      out.push({
        pointer: pointerOf([...path, i, 'code']),
        kind,
        system: c.system,
        code: c.code,
        descendants: c.descendants === true,
      });
    }
  });
}

function walkExpr(expr: Json | undefined, path: Path, out: PlacedCoding[]): void {
  const kind = exprKind(expr);
  if (kind === undefined || !isObject(expr)) return;
  const body = expr[kind];
  if (kind === 'all' || kind === 'any') {
    if (Array.isArray(body)) body.forEach((child, i) => walkExpr(child, [...path, kind, i], out));
  } else if (kind === 'not') {
    walkExpr(body, [...path, 'not'], out);
  } else if (kind !== 'patient' && isObject(body)) {
    codingsOf(body.code, [...path, kind, 'code'], kind, out);
    // An observation's coded value is not in the catalogue's code list.
  }
}

/** Every coding the query names (criteria, codes dimensions, measures), with its pointer. */
export function placedCodings(query: Json | undefined): PlacedCoding[] {
  const out: PlacedCoding[] = [];
  if (!isObject(query)) return out;
  walkExpr(query.cohort, ['cohort'], out);
  if (Array.isArray(query.stratify)) {
    query.stratify.forEach((d, i) => {
      if (
        isObject(d) &&
        isObject(d.codes) &&
        typeof d.codes.of === 'string' &&
        (EVENT_KINDS as readonly string[]).includes(d.codes.of)
      ) {
        codingsOf(d.codes.in, ['stratify', i, 'codes', 'in'], d.codes.of as EventKind, out);
      }
    });
  }
  if (Array.isArray(query.measures)) {
    query.measures.forEach((m, i) => {
      if (!isObject(m)) return;
      for (const type of ['histogram', 'summary']) {
        const spec = m[type];
        if (isObject(spec))
          codingsOf(spec.observation, ['measures', i, type, 'observation'], 'observation', out);
      }
    });
  }
  return out;
}

/** Whether any node's catalogue lists a code matching the coding (a prefix, with descendants). */
export function heldBySomeNode(
  catalogue: readonly CatalogueEntry[],
  coding: PlacedCoding,
): boolean {
  const wanted = normaliseCode(coding.system, coding.code);
  return catalogue.some((entry) =>
    (entry.codes ?? []).some((held) => {
      if (held.system !== coding.system || held.kind !== coding.kind) return false;
      const code = normaliseCode(held.system, held.code);
      return coding.descendants ? code.startsWith(wanted) : code === wanted;
    }),
  );
}

/**
 * Pointers of the codings no node lists in its catalogue. Only when the
 * catalogue lists codes at all: a federation whose nodes publish none
 * cannot tell a rare code from a misspelt one.
 */
export function unheldCodings(
  query: Json | undefined,
  catalogue: readonly CatalogueEntry[],
): PlacedCoding[] {
  if (!catalogue.some((e) => (e.codes ?? []).length > 0)) return [];
  return placedCodings(query).filter((c) => !heldBySomeNode(catalogue, c));
}

/** Codes for a kind and system the catalogue lists, for the code field's suggestions. */
export function catalogueCodes(
  catalogue: readonly CatalogueEntry[],
  kind: EventKind,
  system: string,
): { code: string; display: string | undefined }[] {
  const seen = new Map<string, string | undefined>();
  for (const entry of catalogue) {
    for (const c of entry.codes ?? []) {
      if (c.kind === kind && c.system === system && !seen.has(c.code)) seen.set(c.code, c.display);
    }
  }
  return [...seen]
    .map(([code, display]) => ({ code, display }))
    .sort((a, b) => a.code.localeCompare(b.code));
}

/**
 * The steps of an attrition table for a cohort that is an AND: the first
 * criterion, then the first two, and so on, each a query of its own with the
 * rest of the document (stratification dropped: one total per step).
 */
export function attritionSteps(query: Json | undefined): JsonObject[] {
  if (!isObject(query) || !isObject(query.cohort) || exprKind(query.cohort) !== 'all') return [];
  const children = query.cohort.all;
  if (!Array.isArray(children) || children.length < 2) return [];
  const base: JsonObject = { ...query };
  delete base.stratify;
  delete base.measures;
  return children.map((_, i) => ({
    ...base,
    label: `attrition step ${i + 1}`,
    cohort: i === 0 ? children[0]! : { all: children.slice(0, i + 1) },
  }));
}

/** Where a field's message goes: the pointer itself, or below it for a field that holds a value. */
export function errorFor(
  error: { pointer?: string } | undefined,
  pointer: string,
  leaf: boolean,
): boolean {
  if (error?.pointer === undefined) return false;
  return error.pointer === pointer || (leaf && error.pointer.startsWith(`${pointer}/`));
}
