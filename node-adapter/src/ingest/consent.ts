// FHIR Consent resources as the store keeps them (store/layout.ts, table
// `consents`): the provisions of active Consents, each with its decision,
// its period and its codes. The query language's consent criterion and the
// node's opt-out policy read them. Pure, like flatten.ts, which calls it.
//
// How a Consent is read (docs/query-language.md, "Consent criterion"):
// - only `status: active` counts; a draft, proposed, rejected or inactive
//   (withdrawn) Consent permits and denies nothing;
// - every provision counts, the root one and the nested ones at any depth
//   (the MII broad consent nests one provision per policy code under a root
//   `deny`); a provision's decision is its own `type`, one without a type
//   decides nothing;
// - a provision is in force on the dates of its own `period`, else of the
//   nearest enclosing provision that has one, else always;
// - its codes are those of `provision.code` (CodeableConcepts).
import { subjectPatient } from './flatten.ts';
import type { FlattenContext, Malformed, Skipped } from './flatten.ts';
import { codingsOf, fhirDate, isObject, stringOf } from './fhir.ts';
import type { FlatCoding, JsonObject } from './fhir.ts';

export type ConsentDecision = 'permit' | 'deny';

export interface FlatProvision {
  readonly decision: ConsentDecision;
  /** `YYYY-MM-DD`, or null when open. */
  readonly start: string | null;
  readonly end: string | null;
  readonly codings: readonly FlatCoding[];
}

export interface FlatConsent {
  readonly type: 'consent';
  readonly resourceId: string;
  readonly patientId: string;
  /** Provisions with a decision and at least one code. */
  readonly provisions: readonly FlatProvision[];
}

/**
 * Flattens a Consent resource (its `resourceType` already checked).
 * @example flattenConsent({ resourceType: 'Consent', status: 'active', patient: { reference: 'Patient/p1' },
 *   provision: { type: 'permit', code: [{ coding: [{ system: 's', code: 'c' }] }] } }, 'c1')
 * // { type: 'consent', resourceId: 'c1', patientId: 'p1', provisions: [{ decision: 'permit', start: null, end: null, codings: [{ system: 's', code: 'c' }] }] }
 */
export function flattenConsent(
  resource: JsonObject,
  id: string,
  context: FlattenContext = {},
): FlatConsent | Skipped | Malformed {
  if (resource.status !== 'active') return { type: 'skipped', reason: 'consent not active' };
  // R4 names the patient `patient`; R5 renamed it `subject`.
  const subject = resource.patient ?? resource.subject;
  const patientId = subjectPatient(subject, context);
  if (typeof patientId !== 'string') return patientId;
  const provisions: FlatProvision[] = [];
  // Iterative, so no nesting depth can exhaust the stack.
  const stack: [unknown, string | null, string | null][] = [[resource.provision, null, null]];
  while (stack.length > 0) {
    const [provision, outerStart, outerEnd] = stack.pop()!;
    if (!isObject(provision)) continue;
    const period = isObject(provision.period) ? provision.period : undefined;
    const start = period === undefined ? outerStart : fhirDate(period.start);
    const end = period === undefined ? outerEnd : fhirDate(period.end);
    const decision = stringOf(provision.type);
    if (decision === 'permit' || decision === 'deny') {
      const codings: FlatCoding[] = [];
      if (Array.isArray(provision.code))
        for (const code of provision.code) codingsOf(code, codings);
      if (codings.length > 0) provisions.push({ decision, start, end, codings });
    }
    if (Array.isArray(provision.provision)) {
      for (const inner of provision.provision) stack.push([inner, start, end]);
    }
  }
  return { type: 'consent', resourceId: id, patientId, provisions };
}
