// What the test FHIR server declares at /metadata, and the same declaration
// read back as the server's own rule book: a search parameter, modifier or
// prefix is served only when the CapabilityStatement says so, so a node that
// trusts the statement never sends anything the server would misread.
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  ResourceType,
  SearchParameter,
} from '@medplum/fhirtypes';

export type CapabilityLevel = 'full' | 'trimmed';

type ParamType = NonNullable<SearchParameter['type']>;

interface DeclaredParam {
  readonly name: string;
  readonly type: ParamType;
  /** Modifiers served, declared through the parameter's contained SearchParameter. */
  readonly modifiers?: readonly NonNullable<SearchParameter['modifier']>[number][];
}

/** Date prefixes the in-memory repository evaluates correctly. */
const DATE_COMPARATORS = ['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb'] as const;

// Searches the in-memory repository answers correctly. Not declared, because
// it gets them wrong: `:below` (treated as an exact match) and
// `value-quantity` (quantity parameters match nothing).
const FULL: Readonly<Record<string, readonly DeclaredParam[]>> = {
  Patient: [
    { name: 'gender', type: 'token' },
    { name: 'birthdate', type: 'date' },
  ],
  Condition: [
    { name: 'code', type: 'token' },
    { name: 'onset-date', type: 'date', modifiers: ['missing'] },
    { name: 'onset-age', type: 'quantity', modifiers: ['missing'] },
    { name: 'recorded-date', type: 'date' },
    { name: 'subject', type: 'reference' },
  ],
  Observation: [
    { name: 'code', type: 'token' },
    { name: 'date', type: 'date', modifiers: ['missing'] },
    { name: 'value-concept', type: 'token' },
    { name: 'component-code', type: 'token' },
    { name: 'component-value-concept', type: 'token' },
    { name: 'subject', type: 'reference' },
  ],
  Procedure: [
    { name: 'code', type: 'token' },
    { name: 'date', type: 'date' },
  ],
  MedicationRequest: [
    { name: 'code', type: 'token' },
    { name: 'medication', type: 'reference', modifiers: ['missing'] },
    { name: 'authoredon', type: 'date' },
  ],
  MedicationStatement: [
    { name: 'code', type: 'token' },
    { name: 'medication', type: 'reference', modifiers: ['missing'] },
    { name: 'effective', type: 'date' },
  ],
  MedicationAdministration: [
    { name: 'code', type: 'token' },
    { name: 'medication', type: 'reference', modifiers: ['missing'] },
    { name: 'effective-time', type: 'date', modifiers: ['missing'] },
  ],
  Medication: [
    { name: 'code', type: 'token' },
    { name: 'ingredient-code', type: 'token' },
  ],
  Immunization: [
    { name: 'vaccine-code', type: 'token' },
    { name: 'date', type: 'date' },
  ],
  Encounter: [
    { name: 'type', type: 'token' },
    { name: 'class', type: 'token' },
    { name: 'date', type: 'date' },
  ],
  Consent: [],
};

// A server that can do little beyond reading by type: codes on two resource
// types, no dates, no paging control, no summaries, no element subsets.
const TRIMMED: Readonly<Record<string, readonly DeclaredParam[]>> = {
  Patient: [],
  Condition: [{ name: 'code', type: 'token' }],
  Observation: [],
  Procedure: [],
  MedicationRequest: [],
  MedicationStatement: [],
  MedicationAdministration: [],
  Medication: [],
  Immunization: [{ name: 'vaccine-code', type: 'token' }],
  Encounter: [],
  Consent: [],
};

/** Parameters valid on every resource type ('full' only). */
const FULL_COMMON: readonly DeclaredParam[] = [
  { name: '_count', type: 'number' },
  { name: '_summary', type: 'token' },
  { name: '_elements', type: 'string' },
  { name: '_sort', type: 'string' },
];

/** Bulk Data `$export`, system level and per Patient ('full' only). */
const BULK_DATA = 'http://hl7.org/fhir/uv/bulkdata';
const EXPORT_OPERATIONS = {
  system: { name: 'export', definition: `${BULK_DATA}/OperationDefinition/export` },
  patient: { name: 'export', definition: `${BULK_DATA}/OperationDefinition/patient-export` },
} as const;

/**
 * The server's own paging parameter: it appears in the server's next links
 * (never in the statement, as clients do not send it), so it is always accepted.
 */
export const OFFSET_PARAM = '_offset';

export interface ServerRules {
  readonly statement: CapabilityStatement;
  /** Resource types served. */
  readonly types: ReadonlySet<string>;
  /** Parameter type of `name` on `type`, when declared. */
  paramType(type: string, name: string): ParamType | undefined;
  /** True when `name:modifier` is declared on `type`. */
  hasModifier(type: string, name: string, modifier: string): boolean;
  /** Date prefixes accepted on a declared date parameter. */
  readonly dateComparators: ReadonlySet<string>;
}

function definitionId(type: string, name: string): string {
  return `${type}-${name}`.replace(/[^A-Za-z0-9-]/g, '');
}

/** The CapabilityStatement of a test server and the rules it implies. */
export function serverRules(level: CapabilityLevel, baseUrl: string): ServerRules {
  const perType = level === 'full' ? FULL : TRIMMED;
  const common = level === 'full' ? FULL_COMMON : [];
  const bulk = level === 'full';
  // Date parameters and parameters with modifiers point at a contained
  // SearchParameter that lists the prefixes (SearchParameter.comparator) and
  // modifiers (SearchParameter.modifier) served.
  const contained: SearchParameter[] = [];
  const definitions = new Map<string, string>();
  for (const [type, params] of Object.entries(perType)) {
    for (const p of params) {
      if (p.type !== 'date' && p.modifiers === undefined) continue;
      const id = definitionId(type, p.name);
      definitions.set(`${type}|${p.name}`, `#${id}`);
      contained.push({
        resourceType: 'SearchParameter',
        id,
        url: `${baseUrl}/SearchParameter/${id}`,
        name: p.name,
        status: 'active',
        description: `${p.name} on ${type}`,
        code: p.name,
        base: [type as ResourceType],
        type: p.type,
        ...(p.type === 'date' ? { comparator: [...DATE_COMPARATORS] } : {}),
        ...(p.modifiers === undefined ? {} : { modifier: [...p.modifiers] }),
      });
    }
  }
  const statement: CapabilityStatement = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    fhirVersion: '4.0.1',
    format: ['json'],
    ...(bulk ? { instantiates: [`${BULK_DATA}/CapabilityStatement/bulk-data`] } : {}),
    software: { name: `Tessera test FHIR server (${level})` },
    implementation: {
      description: `In-memory FHIR R4 server, ${level} capabilities`,
      url: baseUrl,
    },
    contained,
    rest: [
      {
        mode: 'server',
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
        searchParam: common.map((p) => ({ name: p.name, type: p.type })),
        ...(bulk ? { operation: [EXPORT_OPERATIONS.system] } : {}),
        resource: Object.entries(perType).map(
          ([type, params]): CapabilityStatementRestResource => ({
            type: type as ResourceType,
            interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'update' }],
            searchParam: params.map((p) => ({
              name: p.name,
              type: p.type,
              ...(definitions.has(`${type}|${p.name}`)
                ? { definition: definitions.get(`${type}|${p.name}`)! }
                : {}),
            })),
            ...(bulk && type === 'Patient' ? { operation: [EXPORT_OPERATIONS.patient] } : {}),
          }),
        ),
      },
    ],
  };
  return {
    statement,
    types: new Set(Object.keys(perType)),
    paramType(type, name) {
      return (
        perType[type]?.find((p) => p.name === name)?.type ??
        common.find((p) => p.name === name)?.type
      );
    },
    hasModifier(type, name, modifier) {
      const declared = perType[type]?.find((p) => p.name === name)?.modifiers ?? [];
      return (declared as readonly string[]).includes(modifier);
    },
    dateComparators: new Set(DATE_COMPARATORS),
  };
}
