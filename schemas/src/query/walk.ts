// Traversal of the Expr tree shared by the semantic checks, the canonical
// form and every engine: one place that knows which keys are which.
import type {
  CodeSet,
  ConsentCriterion,
  EventCriterion,
  Expr,
  MedicationCriterion,
  ObservationCriterion,
  PatientCriterion,
} from '../generated/query.ts';

export const EVENT_KINDS = [
  'condition',
  'observation',
  'procedure',
  'medication',
  'immunization',
  'encounter',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];
export const EXPR_KEYS = ['all', 'any', 'not', 'patient', ...EVENT_KINDS, 'consent'] as const;

/** The resource types the `medication` kind reads; a criterion's `resourceTypes` keeps to some. */
export const MEDICATION_RESOURCE_TYPES = [
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
] as const;

/** An Expr as a tagged value, so callers can switch exhaustively. */
export type ExprNode =
  | { readonly op: 'all' | 'any'; readonly children: readonly Expr[] }
  | { readonly op: 'not'; readonly child: Expr }
  | { readonly op: 'patient'; readonly criterion: PatientCriterion }
  | { readonly op: 'consent'; readonly criterion: ConsentCriterion }
  | { readonly op: 'event'; readonly kind: 'observation'; readonly criterion: ObservationCriterion }
  | { readonly op: 'event'; readonly kind: 'medication'; readonly criterion: MedicationCriterion }
  | {
      readonly op: 'event';
      readonly kind: Exclude<EventKind, 'observation' | 'medication'>;
      readonly criterion: EventCriterion;
    };

/**
 * Reads an Expr (already schema-valid) as a tagged node.
 * @example exprNode({ not: { patient: { deceased: true } } }).op // 'not'
 */
export function exprNode(expr: Expr): ExprNode {
  if ('all' in expr) return { op: 'all', children: expr.all };
  if ('any' in expr) return { op: 'any', children: expr.any };
  if ('not' in expr) return { op: 'not', child: expr.not };
  if ('patient' in expr) return { op: 'patient', criterion: expr.patient };
  if ('consent' in expr) return { op: 'consent', criterion: expr.consent };
  if ('observation' in expr)
    return { op: 'event', kind: 'observation', criterion: expr.observation };
  if ('condition' in expr) return { op: 'event', kind: 'condition', criterion: expr.condition };
  if ('procedure' in expr) return { op: 'event', kind: 'procedure', criterion: expr.procedure };
  if ('medication' in expr) return { op: 'event', kind: 'medication', criterion: expr.medication };
  if ('immunization' in expr) {
    return { op: 'event', kind: 'immunization', criterion: expr.immunization };
  }
  return { op: 'event', kind: 'encounter', criterion: expr.encounter };
}

/** Code systems whose hierarchy is their prefix, so `descendants` is a prefix match. */
export const PREFIX_HIERARCHY_SYSTEMS = new Set([
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://fhir.de/CodeSystem/bfarm/icd-10-gm',
  'http://www.whocc.no/atc',
  // OPS: `5-39` is the parent of `5-390` to `5-399`, `8-810` of `8-810.*`.
  'http://fhir.de/CodeSystem/bfarm/ops',
]);

const ICD10_SYSTEMS = new Set([
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://fhir.de/CodeSystem/bfarm/icd-10-gm',
]);

/** True for the ICD-10 systems, whose codes compare without their dot. */
export function isIcd10(system: string): boolean {
  return ICD10_SYSTEMS.has(system);
}

/**
 * A code as stored and compared: ICD-10 without its dot, others untouched.
 * @example normaliseCode('http://hl7.org/fhir/sid/icd-10', 'E11.9') // 'E119'
 */
export function normaliseCode(system: string, code: string): string {
  return isIcd10(system) ? code.replaceAll('.', '') : code;
}

/** Every CodeSet a criterion carries, with its pointer suffix. */
export function criterionCodeSets(
  criterion: EventCriterion | ObservationCriterion | ConsentCriterion,
): [string, CodeSet][] {
  const sets: [string, CodeSet][] = [['code', criterion.code]];
  if ('valueCode' in criterion && criterion.valueCode)
    sets.push(['valueCode', criterion.valueCode]);
  return sets;
}
