// What a CCDL termCode means in query v1: which criterion kind its code
// system belongs to, which context names which kind, and the two patient
// concepts (gender, age) the MII ontology writes as criteria.
import type { MedicationResourceType } from '../generated/query.ts';
import type { EventKind } from '../query/walk.ts';

/** A v1 criterion kind: an event kind, `patient` (demographics) or `consent`. */
export type CriterionKind = EventKind | 'patient' | 'consent';

/** What a criterion's context selects: a kind, and for medications the resource types. */
export interface ContextRule {
  readonly kind: CriterionKind;
  readonly resourceTypes?: readonly [MedicationResourceType];
}

export interface SystemRule {
  /** The kind codes of this system select; undefined when the context decides (SNOMED CT). */
  readonly kind: EventKind | undefined;
  /** The system URI to write into the v1 coding. */
  readonly system: string;
  /**
   * Whether a CCDL code also selects the codes below it. The MII ontology
   * expands a selected concept to its children; v1 can say so only for
   * prefix-hierarchical systems, so those carry `descendants: true`.
   */
  readonly descendants: boolean;
  /** When set, only codes of this length are accepted (leaves of a hierarchy v1 cannot expand). */
  readonly leafLength?: number;
}

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
const ICD10_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';
const ATC_GM = 'http://fhir.de/CodeSystem/bfarm/atc';
const OPS = 'http://fhir.de/CodeSystem/bfarm/ops';

// DIMDI merged into BfArM in 2020 and the German code systems moved to
// bfarm URLs; the dimdi URLs name the same code systems, so they are
// written under the current URL.
const SYSTEM_RULES: ReadonlyMap<string, SystemRule> = new Map<string, SystemRule>([
  ['http://hl7.org/fhir/sid/icd-10', { kind: 'condition', system: 'http://hl7.org/fhir/sid/icd-10', descendants: true }],
  ['http://hl7.org/fhir/sid/icd-10-cm', { kind: 'condition', system: 'http://hl7.org/fhir/sid/icd-10-cm', descendants: true }],
  [ICD10_GM, { kind: 'condition', system: ICD10_GM, descendants: true }],
  ['http://fhir.de/CodeSystem/dimdi/icd-10-gm', { kind: 'condition', system: ICD10_GM, descendants: true }],
  [LOINC, { kind: 'observation', system: LOINC, descendants: false }],
  ['http://www.whocc.no/atc', { kind: 'medication', system: 'http://www.whocc.no/atc', descendants: true }],
  // ATC-GM shares WHO ATC's prefix hierarchy, but v1 expands only the WHO
  // system; a seven-character substance code has no children, so it is exact.
  [ATC_GM, { kind: 'medication', system: ATC_GM, descendants: false, leafLength: 7 }],
  ['http://fhir.de/CodeSystem/dimdi/atc', { kind: 'medication', system: ATC_GM, descendants: false, leafLength: 7 }],
  // OPS is prefix-hierarchical like ICD-10 (`5-39` heads `5-390` to `5-399`).
  [OPS, { kind: 'procedure', system: OPS, descendants: true }],
  ['http://fhir.de/CodeSystem/dimdi/ops', { kind: 'procedure', system: OPS, descendants: true }],
  ['http://hl7.org/fhir/sid/cvx', { kind: 'immunization', system: 'http://hl7.org/fhir/sid/cvx', descendants: false }],
  [SNOMED, { kind: undefined, system: SNOMED, descendants: false }],
]); // prettier-ignore

/**
 * The rule for a termCode's system, or undefined when v1 has none.
 * @example systemRule('http://fhir.de/CodeSystem/dimdi/icd-10-gm')?.system // 'http://fhir.de/CodeSystem/bfarm/icd-10-gm'
 */
export function systemRule(system: string): SystemRule | undefined {
  return SYSTEM_RULES.get(system);
}

/** Where a value code's system is known, the same renaming and expansion applies. */
export function valueCodeRule(system: string): SystemRule {
  return SYSTEM_RULES.get(system) ?? { kind: undefined, system, descendants: false };
}

// SNOMED CT names a concept's top-level hierarchy in the semantic tag that
// ends its fully specified name ("Colonoscopy (procedure)"). Without a
// context, only the tags that name one resource type decide the kind; a
// finding may be recorded as a Condition or as an Observation, so it does not.
const SEMANTIC_TAG_KINDS: ReadonlyMap<string, EventKind> = new Map<string, EventKind>([
  ['disorder', 'condition'],
  ['procedure', 'procedure'],
  ['regime/therapy', 'procedure'],
  ['observable entity', 'observation'],
]);

const SEMANTIC_TAGS_V1_LACKS: ReadonlyMap<string, string> = new Map([
  ['specimen', 'v1 has no specimen criterion'],
  ['finding', 'a finding may be recorded as a Condition or an Observation; the criterion needs a context to say which'],
]); // prettier-ignore

/**
 * The kind a SNOMED CT display's semantic tag names: a kind, a reason v1
 * cannot follow it, or undefined when the display carries no tag.
 * @example semanticTagKind('Colonoscopy (procedure)') // 'procedure'
 */
export function semanticTagKind(
  display: string | undefined,
): EventKind | { readonly reason: string } | undefined {
  const tag = display === undefined ? undefined : /\(([a-z][a-z /-]*)\)\s*$/.exec(display)?.[1];
  if (tag === undefined) return undefined;
  return (
    SEMANTIC_TAG_KINDS.get(tag) ?? {
      reason:
        SEMANTIC_TAGS_V1_LACKS.get(tag) ??
        `the semantic tag "${tag}" names no resource type v1 has a criterion for`,
    }
  );
}

/** The code system of the MII ontology's criterion contexts. */
export const CONTEXT_SYSTEM = 'fdpg.mii.cds';

// The medication contexts each name one resource type of the MII medication
// module, as the MII's CQL translator (sq2cql) reads them: an administration
// is not "any medication", so the criterion keeps to that type.
const CONTEXT_RULES: ReadonlyMap<string, ContextRule> = new Map<string, ContextRule>([
  ['Patient', { kind: 'patient' }],
  ['Diagnose', { kind: 'condition' }],
  ['Laboruntersuchung', { kind: 'observation' }],
  ['Procedure', { kind: 'procedure' }],
  ['Prozedur', { kind: 'procedure' }],
  ['Einwilligung', { kind: 'consent' }],
  ['Medikamentenverabreichung', { kind: 'medication', resourceTypes: ['MedicationAdministration'] }],
  ['Medikamentenanordnung', { kind: 'medication', resourceTypes: ['MedicationRequest'] }],
  ['Medikamentenverordnung', { kind: 'medication', resourceTypes: ['MedicationStatement'] }],
]); // prettier-ignore

// Contexts that select a resource type v1 lacks.
const CONTEXTS_V1_LACKS: ReadonlyMap<string, string> = new Map([
  ['Specimen', 'v1 has no specimen criterion'],
  ['Bioprobe', 'v1 has no specimen criterion'],
]); // prettier-ignore

/** What a context selects, or the reason v1 cannot follow it. */
export function contextRule(code: string): ContextRule | { readonly reason: string } {
  return (
    CONTEXT_RULES.get(code) ?? {
      reason: CONTEXTS_V1_LACKS.get(code) ?? `v1 knows no criterion for the context "${code}"`,
    }
  );
}

/**
 * The MII broad consent's policy codes (Einwilligung, module "Consent" of
 * the MII core data set), the codes a v1 consent criterion names.
 */
export const MII_CONSENT_POLICY = 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3';

// Codes of the FDPG ontology that stand for a combination of policy codes,
// defined in the FDPG's own mapping files rather than in the query.
const COMBINED_CONSENT_SYSTEMS: ReadonlySet<string> = new Set([
  'fdpg.consent.combined',
  'mii.abide',
]);

/** Why a consent code cannot be translated, or undefined when it can. */
export function consentCodeProblem(system: string): string | undefined {
  if (system === MII_CONSENT_POLICY) return undefined;
  if (COMBINED_CONSENT_SYSTEMS.has(system)) {
    return `${system} codes name a combination of consent policies defined outside the query; select the policy codes of ${MII_CONSENT_POLICY} themselves`;
  }
  return `v1 consent criteria name the MII broad consent's policy codes (${MII_CONSENT_POLICY}), not ${system}`;
}

/** The patient concept a termCode names, if any. */
export function patientConcept(system: string, code: string): 'gender' | 'age' | undefined {
  const key = `${system}|${code}`;
  // SNOMED CT codes are the current MII ontology's; the LOINC ones are the
  // pseudo-codes of the first structured-query examples.
  if (key === `${SNOMED}|263495000` || key === `${LOINC}|LL2191-6`) return 'gender';
  if (key === `${SNOMED}|424144002` || key === `${LOINC}|30525-0`) return 'age';
  return undefined;
}

export const ADMINISTRATIVE_GENDER = 'http://hl7.org/fhir/administrative-gender';

/** UCUM's year, the only age unit v1's whole-year ages can take exactly. */
export const AGE_UNIT = 'a';
