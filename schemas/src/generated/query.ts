// Generated from schemas/json/query.schema.json by `npm run generate:types`. Do not edit.

/**
 * A JSON object with exactly one key.
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Expr".
 */
export type Expr =
  | AllExpr
  | AnyExpr
  | NotExpr
  | PatientExpr
  | ConditionExpr
  | ObservationExpr
  | ProcedureExpr
  | MedicationExpr
  | ImmunizationExpr
  | EncounterExpr
  | ConsentExpr;
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Gender".
 */
export type Gender = 'female' | 'male' | 'other' | 'unknown';
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "IsoDate".
 */
export type IsoDate = string;
/**
 * @minItems 1
 * @maxItems 200
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "CodeSet".
 */
export type CodeSet = [Coding, ...Coding[]];
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Unit".
 */
export type Unit = string;
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "MedicationResourceType".
 */
export type MedicationResourceType =
  'MedicationRequest' | 'MedicationStatement' | 'MedicationAdministration';
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ConsentDecision".
 */
export type ConsentDecision = 'permit' | 'deny';
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Dimension".
 */
export type Dimension = ('gender' | 'deceased') | AgeBandDimension | CodesDimension;
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Measure".
 */
export type Measure = CountMeasure | HistogramMeasure | SummaryMeasure;
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Pick".
 */
export type Pick = 'latest' | 'earliest' | 'mean';
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "NodeId".
 */
export type NodeId = string;

/**
 * Cohort query language, version 1: the contract between researcher, gateway and nodes.
 */
export interface CohortQuery {
  version: 1;
  cohort: Expr;
  /**
   * Reference date for ages; the gateway pins it to the submission date when absent.
   */
  asOf?: string;
  /**
   * @maxItems 3
   */
  stratify?: Dimension[];
  /**
   * @minItems 1
   * @maxItems 10
   */
  measures?: [Measure, ...Measure[]];
  /**
   * @minItems 1
   * @maxItems 100
   */
  nodes?: [NodeId, ...NodeId[]];
  label?: string;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "AllExpr".
 */
export interface AllExpr {
  /**
   * @minItems 1
   * @maxItems 32
   */
  all: [Expr, ...Expr[]];
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "AnyExpr".
 */
export interface AnyExpr {
  /**
   * @minItems 1
   * @maxItems 32
   */
  any: [Expr, ...Expr[]];
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "NotExpr".
 */
export interface NotExpr {
  not: Expr;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "PatientExpr".
 */
export interface PatientExpr {
  patient: PatientCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "PatientCriterion".
 */
export interface PatientCriterion {
  /**
   * @minItems 1
   * @maxItems 4
   */
  gender?: [Gender, ...Gender[]];
  age?: AgeRange;
  birthDate?: Period;
  deceased?: boolean;
}
/**
 * Whole years, both bounds inclusive.
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "AgeRange".
 */
export interface AgeRange {
  min?: number;
  max?: number;
}
/**
 * Inclusive date range; either bound may be omitted.
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Period".
 */
export interface Period {
  from?: IsoDate;
  to?: IsoDate;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ConditionExpr".
 */
export interface ConditionExpr {
  condition: EventCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "EventCriterion".
 */
export interface EventCriterion {
  code: CodeSet;
  period?: Period;
  ageAtEvent?: AgeRange;
  atLeast?: number;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "Coding".
 */
export interface Coding {
  system: string;
  code: string;
  /**
   * Also match every code that begins with this one; only for the prefix-hierarchical systems: ICD-10 (WHO, CM, GM), ATC and OPS.
   */
  descendants?: boolean;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ObservationExpr".
 */
export interface ObservationExpr {
  observation: ObservationCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ObservationCriterion".
 */
export interface ObservationCriterion {
  code: CodeSet;
  period?: Period;
  value?: ValueRange;
  valueCode?: CodeSet;
  ageAtEvent?: AgeRange;
  atLeast?: number;
}
/**
 * valueQuantity range in a UCUM unit; values in other units are converted when UCUM can (or, for HbA1c between % and mmol/mol, by the IFCC-NGSP master equation), otherwise they do not match.
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ValueRange".
 */
export interface ValueRange {
  min?: number;
  max?: number;
  unit: Unit;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ProcedureExpr".
 */
export interface ProcedureExpr {
  procedure: EventCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "MedicationExpr".
 */
export interface MedicationExpr {
  medication: MedicationCriterion;
}
/**
 * An event criterion on medication uses; resourceTypes keeps to some of the three resource types (default: all three).
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "MedicationCriterion".
 */
export interface MedicationCriterion {
  code: CodeSet;
  period?: Period;
  ageAtEvent?: AgeRange;
  atLeast?: number;
  /**
   * @minItems 1
   * @maxItems 3
   */
  resourceTypes?: [MedicationResourceType, ...MedicationResourceType[]];
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ImmunizationExpr".
 */
export interface ImmunizationExpr {
  immunization: EventCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "EncounterExpr".
 */
export interface EncounterExpr {
  encounter: EventCriterion;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ConsentExpr".
 */
export interface ConsentExpr {
  consent: ConsentCriterion;
}
/**
 * A provision of an active FHIR Consent, in force on asOf, whose type is the decision (default permit) and whose code is in the set.
 *
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "ConsentCriterion".
 */
export interface ConsentCriterion {
  code: CodeSet;
  decision?: ConsentDecision;
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "AgeBandDimension".
 */
export interface AgeBandDimension {
  /**
   * Ascending edges, first edge 0.
   *
   * @minItems 2
   * @maxItems 12
   */
  ageBand: [number, number, ...number[]];
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "CodesDimension".
 */
export interface CodesDimension {
  codes: {
    of: 'condition';
    in: CodeSet;
  };
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "CountMeasure".
 */
export interface CountMeasure {
  count: 'patients';
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "HistogramMeasure".
 */
export interface HistogramMeasure {
  histogram: {
    observation: CodeSet;
    unit: Unit;
    /**
     * @minItems 2
     * @maxItems 50
     */
    edges: [number, number, ...number[]];
    pick?: Pick;
    period?: Period;
  };
}
/**
 * This interface was referenced by `CohortQuery`'s JSON-Schema
 * via the `definition` "SummaryMeasure".
 */
export interface SummaryMeasure {
  summary: {
    observation: CodeSet;
    unit: Unit;
    pick?: Pick;
    period?: Period;
  };
}
