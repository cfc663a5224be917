// How the node reads FHIR resources, in ingest, sync and the live source:
// code-system aliases (one code system published under several URLs) and
// which Conditions count. The settings come from the node configuration
// (`reading`, schemas/json/node-config.schema.json, where their defaults
// are); a store records the aliases it was built with.
import { normaliseCode } from '@tessera/schemas';
import type { LoadedConfig } from '@tessera/schemas';
import type { FlatCoding } from './fhir.ts';

/** The reading settings ingest, sync and the live source apply. */
export interface FhirReading {
  /** More aliases (alias URL -> the URL it stands for) beside KNOWN_CODE_SYSTEM_ALIASES. */
  readonly codeSystemAliases?: Readonly<Record<string, string>>;
  /** Leave out Conditions whose verificationStatus is unconfirmed, provisional or differential. */
  readonly excludeUnconfirmedConditions?: boolean;
}

/**
 * The reading settings of a node configuration (its `reading` block, with
 * the schema's defaults filled in).
 * @example readingFromConfig(config.reading) // { codeSystemAliases: {}, excludeUnconfirmedConditions: false }
 */
export function readingFromConfig(reading: LoadedConfig<'node-config'>['reading']): FhirReading {
  const aliases: Record<string, string> = {};
  for (const [alias, target] of Object.entries(reading.codeSystemAliases)) {
    if (target !== undefined) aliases[alias] = target;
  }
  return {
    codeSystemAliases: aliases,
    excludeUnconfirmedConditions: reading.unconfirmedConditions === 'exclude',
  };
}

const BFARM = 'http://fhir.de/CodeSystem/bfarm';
const DIMDI = 'http://fhir.de/CodeSystem/dimdi';

/**
 * Code systems known under more than one URL. DIMDI merged into BfArM in
 * 2020 and the German code systems moved from dimdi to bfarm URLs; data
 * written before (and some written since) uses the old ones.
 */
export const KNOWN_CODE_SYSTEM_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  [`${DIMDI}/icd-10-gm`]: `${BFARM}/icd-10-gm`,
  [`${DIMDI}/ops`]: `${BFARM}/ops`,
  [`${DIMDI}/atc`]: `${BFARM}/atc`,
  [`${DIMDI}/alpha-id`]: `${BFARM}/alpha-id`,
});

/** One code system per class of URLs: each alias read as the URL it stands for. */
export interface CodeSystemAliases {
  /** The URL a system is stored and compared under. */
  canonical(system: string): string;
  /** Every URL of the system's class, the canonical one first. */
  variants(system: string): readonly string[];
  /** Every alias and the URL it stands for, built-in ones included. */
  readonly table: Readonly<Record<string, string>>;
}

/**
 * The alias table: the known aliases and `extra` (from the node
 * configuration). Refuses, naming the URL, an alias of a URL that is itself
 * an alias (no chains) and an extra alias that contradicts a known one.
 * @example createCodeSystemAliases().canonical('http://fhir.de/CodeSystem/dimdi/ops') // 'http://fhir.de/CodeSystem/bfarm/ops'
 */
export function createCodeSystemAliases(
  extra: Readonly<Record<string, string>> = {},
): CodeSystemAliases {
  const table: Record<string, string> = { ...KNOWN_CODE_SYSTEM_ALIASES };
  for (const [alias, target] of Object.entries(extra)) {
    const known = table[alias];
    if (known !== undefined && known !== target) {
      throw new RangeError(`code system alias ${alias}: already stands for ${known}`);
    }
    if (alias === target) throw new RangeError(`code system alias ${alias}: stands for itself`);
    table[alias] = target;
  }
  const variants = new Map<string, string[]>();
  for (const [alias, target] of Object.entries(table)) {
    if (table[target] !== undefined) {
      throw new RangeError(`code system alias ${alias}: ${target} is itself an alias`);
    }
    const list = variants.get(target) ?? [target];
    list.push(alias);
    variants.set(target, list);
  }
  const frozen = Object.freeze(table);
  return {
    canonical: (system) => frozen[system] ?? system,
    variants: (system) => {
      const canonical = frozen[system] ?? system;
      return variants.get(canonical) ?? [canonical];
    },
    table: frozen,
  };
}

/**
 * Codings with each system read as its canonical URL and the code
 * normalised for it (a dimdi ICD-10-GM code loses its dot as a bfarm one
 * does), without repeats; the same array when nothing changes.
 * @example canonicalCodings([{ system: 'http://fhir.de/CodeSystem/dimdi/icd-10-gm', code: 'E11.9' }], aliases)
 */
export function canonicalCodings(
  codings: readonly FlatCoding[],
  aliases: CodeSystemAliases,
): readonly FlatCoding[] {
  if (codings.every((c) => aliases.canonical(c.system) === c.system)) return codings;
  const out: FlatCoding[] = [];
  for (const c of codings) {
    const system = aliases.canonical(c.system);
    const code = normaliseCode(system, c.code);
    if (!out.some((o) => o.system === system && o.code === code)) out.push({ system, code });
  }
  return out;
}
