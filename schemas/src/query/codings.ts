// The codings a query names, each with the JSON pointer of its code field,
// and which of them no node's catalogue lists. The page flags them at the
// field while the query is built; the gateway returns the same as warnings
// in the merged answer. Pure, and free of Node: the web page loads it too.
import type { CatalogueEntry } from '../generated/catalogue.ts';
import { EVENT_KINDS, type EventKind, normaliseCode } from './walk.ts';

/** A coding of the query with where it sits, for flagging. */
export interface PlacedCoding {
  /** Where its code field is (RFC 6901). */
  readonly pointer: string;
  /** The criterion kind whose codes these are (observation for measures). */
  readonly kind: EventKind;
  readonly system: string;
  readonly code: string;
  readonly descendants: boolean;
}

type JsonObject = { readonly [key: string]: unknown };

export const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `/cohort/all/0` for `['cohort', 'all', 0]` (RFC 6901). */
export function pointerOf(path: readonly (string | number)[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

type Path = readonly (string | number)[];
const CODED: readonly string[] = EVENT_KINDS;

function codingsOf(set: unknown, path: Path, kind: EventKind, out: PlacedCoding[]): void {
  if (!Array.isArray(set)) return;
  set.forEach((c: unknown, i) => {
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

function walkExpr(expr: unknown, path: Path, out: PlacedCoding[]): void {
  if (!isObject(expr)) return;
  const keys = Object.keys(expr);
  if (keys.length !== 1) return;
  const kind = keys[0]!;
  const body = expr[kind];
  if (kind === 'all' || kind === 'any') {
    if (Array.isArray(body)) body.forEach((child, i) => walkExpr(child, [...path, kind, i], out));
  } else if (kind === 'not') {
    walkExpr(body, [...path, 'not'], out);
  } else if (CODED.includes(kind) && isObject(body)) {
    codingsOf(body.code, [...path, kind, 'code'], kind as EventKind, out);
    // An observation's coded value is not in the catalogue's code list.
  }
}

/** Every coding the query names (criteria, codes dimensions, measures), with its pointer. */
export function placedCodings(query: unknown): PlacedCoding[] {
  const out: PlacedCoding[] = [];
  if (!isObject(query)) return out;
  walkExpr(query.cohort, ['cohort'], out);
  if (Array.isArray(query.stratify)) {
    query.stratify.forEach((d: unknown, i) => {
      if (
        isObject(d) &&
        isObject(d.codes) &&
        typeof d.codes.of === 'string' &&
        CODED.includes(d.codes.of)
      ) {
        codingsOf(d.codes.in, ['stratify', i, 'codes', 'in'], d.codes.of as EventKind, out);
      }
    });
  }
  if (Array.isArray(query.measures)) {
    query.measures.forEach((m: unknown, i) => {
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

/** Whether any node's catalogue lists a code of the system, or names it among its systems. */
export function systemHeldBySomeNode(
  catalogue: readonly CatalogueEntry[],
  system: string,
): boolean {
  return catalogue.some(
    (entry) =>
      entry.hasCodingSystem.includes(system) ||
      (entry.codes ?? []).some((c) => c.system === system),
  );
}

/**
 * The codings no node lists in its catalogue. Only when the catalogue lists
 * codes at all: a federation whose nodes publish none cannot tell a rare
 * code from a misspelt one.
 */
export function unheldCodings(
  query: unknown,
  catalogue: readonly CatalogueEntry[],
): PlacedCoding[] {
  if (!catalogue.some((e) => (e.codes ?? []).length > 0)) return [];
  return placedCodings(query).filter((c) => !heldBySomeNode(catalogue, c));
}
