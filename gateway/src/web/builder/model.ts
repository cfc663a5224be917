// The query builder's model is the query v1 document itself: the builder
// shows and edits the JSON the researcher also sees, so the two never drift
// apart. Pure functions: read a node of the document by path, write one
// immutably, make new criteria, and find codings no node holds.
import { EVENT_KINDS, type EventKind, PREFIX_HIERARCHY_SYSTEMS } from '@tessera/schemas/query-walk';

export {
  type PlacedCoding,
  heldBySomeNode,
  placedCodings,
  pointerOf,
  unheldCodings,
} from '@tessera/schemas/codings';

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

/** A code system's short name (`ICD-10`), or its URL when it is not a known one. */
export function systemName(url: string): string {
  return KNOWN_SYSTEMS.find((s) => s.url === url)?.name ?? url;
}

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

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

/** The value a JSON pointer (RFC 6901) names in a document, or undefined. @example atPointer({ a: [1] }, '/a/0') // 1 */
export function atPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else if (isObject(node) && Object.hasOwn(node, key)) node = node[key];
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
