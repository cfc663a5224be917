// The consent criterion on a live FHIR server: Consents are read whole (few
// per patient; a provision's code and type cannot be searched together in
// FHIR R4), each the way ingest reads it (ingest/consent.ts), and the
// criterion is applied in the node with the engine's rule: a provision of
// the criterion's decision, coded in the set, in force on asOf.
import type { ConsentCriterion, Expr } from '@tessera/schemas';
import { exprNode } from '@tessera/schemas';
import { flattenConsent } from '../ingest/consent.ts';
import type { FlatProvision } from '../ingest/consent.ts';
import { isObject, stringOf } from '../ingest/fhir.ts';
import type { JsonObject } from '../fhir-client/fhir-search.ts';
import type { SearchSpec } from '../fhir-client/search-url.ts';
import { codingIn } from './cohort.ts';

/** The provisions of one active Consent of a known patient. */
export interface LiveConsent {
  readonly patientId: string;
  readonly provisions: readonly FlatProvision[];
}

/** Every Consent: the node keeps the active ones. */
export const CONSENT_SEARCH: SearchSpec = Object.freeze({ type: 'Consent', params: [] });

/** A Consent resource as the node reads it, or undefined when it permits and denies nothing. */
export function toLiveConsent(resource: JsonObject): LiveConsent | undefined {
  if (!isObject(resource) || resource.resourceType !== 'Consent') return undefined;
  const id = stringOf(resource.id);
  if (id === undefined) return undefined;
  const flat = flattenConsent(resource, id);
  return flat.type === 'consent'
    ? { patientId: flat.patientId, provisions: flat.provisions }
    : undefined;
}

/** True when the provision is in force on `asOf` (both ends included, open ends open). */
function inForce(p: FlatProvision, asOf: string): boolean {
  return (p.start === null || p.start <= asOf) && (p.end === null || p.end >= asOf);
}

/**
 * The patients holding a provision that meets the criterion on `asOf`.
 * @example patientsConsenting(consents, { code: [{ system, code }] }, '2026-01-01')
 */
export function patientsConsenting(
  consents: Iterable<LiveConsent>,
  criterion: ConsentCriterion,
  asOf: string,
): Set<string> {
  const decision = criterion.decision ?? 'permit';
  const out = new Set<string>();
  for (const consent of consents) {
    const meets = consent.provisions.some(
      (p) =>
        p.decision === decision &&
        inForce(p, asOf) &&
        p.codings.some((coding) => codingIn(coding, criterion.code)),
    );
    if (meets) out.add(consent.patientId);
  }
  return out;
}

/** True when an Expr holds a consent criterion anywhere. */
export function hasConsentCriterion(expr: Expr): boolean {
  const stack: Expr[] = [expr];
  while (stack.length > 0) {
    const node = exprNode(stack.pop()!);
    if (node.op === 'consent') return true;
    if (node.op === 'all' || node.op === 'any') stack.push(...node.children);
    else if (node.op === 'not') stack.push(node.child);
  }
  return false;
}
