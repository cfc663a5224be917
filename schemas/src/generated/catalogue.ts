// Generated from schemas/json/catalogue.schema.json by `npm run generate:types`. Do not edit.

/**
 * One node's dataset description with HealthDCAT-AP fields; every figure is disclosure-safe (rounded, codes only when at least threshold patients have them).
 */
export interface CatalogueEntry {
  node: string;
  title: string;
  description: string;
  publisher: {
    name: string;
    url?: string;
  };
  /**
   * Region, e.g. a NUTS code or name (dct:spatial).
   */
  spatial: string;
  temporalCoverage?: {
    start?: string;
    end?: string;
  };
  /**
   * Resources held, rounded.
   */
  numberOfRecords?: number;
  /**
   * Patients, rounded.
   */
  numberOfUniqueIndividuals: number;
  minTypicalAge?: number;
  maxTypicalAge?: number;
  hasCodingSystem: string[];
  healthTheme?: string[];
  accessRights: 'PUBLIC' | 'RESTRICTED' | 'NON_PUBLIC';
  contactPoint?: {
    name?: string;
    email?: string;
  };
  dataVersion: string;
  /**
   * True when the node leaves patients who opted out (an active Consent denying the codes of its policy's optOut) out of every answer.
   */
  appliesOptOut?: boolean;
  /**
   * Codes held by at least the node's threshold of patients, with rounded patient counts.
   */
  codes?: {
    kind: 'condition' | 'observation' | 'procedure' | 'medication' | 'immunization' | 'encounter';
    system: string;
    code: string;
    /**
     * The code's name as the node's data gives it: the display most of its patients' records carry, published only when at least threshold patients' records carry it.
     */
    display?: string;
    patients: number;
  }[];
}
