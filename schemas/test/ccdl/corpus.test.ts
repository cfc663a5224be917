// CCDL documents written by others (schemas/fixtures/ccdl/corpus, with their
// sources and licences): every one imports or is refused as recorded, and an
// import keeps the document's meaning. The meaning check reads the CCDL
// itself, independently of the translator: every criterion's codes are in
// the query, under the kind its context names, with the same polarity
// (inclusion, exclusion, negated), its time restriction and its value filter,
// each hierarchical code with its children, and nothing else is there.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ccdlToQuery } from '../../src/ccdl/ccdl-to-query.ts';
import type { CodeSet, CohortQuery, Expr } from '../../src/generated/query.ts';
import { ProblemError } from '../../src/problem.ts';
import { queryHash } from '../../src/query/canonical.ts';
import { exprNode, normaliseCode } from '../../src/query/walk.ts';
import { fixturesDir } from '../support/fixtures.ts';

type Outcome =
  | { readonly imports: string }
  | { readonly refused: string; readonly pointer: string; readonly detail: string };

interface Source {
  readonly repository: string;
  readonly commit: string;
  readonly path: string;
  readonly licence: string;
}

const dir = fixturesDir('ccdl');
const read = (path: string): unknown => JSON.parse(readFileSync(dir + path, 'utf8'));
const outcomes = Object.entries(read('corpus-outcomes.json') as Record<string, Outcome>);
const sources = read('corpus-sources.json') as Record<string, Source>;

/** One criterion as the meaning check compares it. */
interface Reading {
  readonly kind: string | undefined;
  readonly codes: string;
  readonly positive: boolean;
  readonly period: boolean;
  readonly value: boolean;
  /** The medication resource types it keeps to; empty for any. */
  readonly types: string;
}

// Stated here from the MII ontology, not taken from the translator.
const CONTEXT_KINDS: Record<string, string> = {
  Diagnose: 'condition',
  Laboruntersuchung: 'observation',
  Procedure: 'procedure',
  Prozedur: 'procedure',
  Patient: 'patient',
  Einwilligung: 'consent',
  Medikamentenverabreichung: 'medication',
  Medikamentenanordnung: 'medication',
  Medikamentenverordnung: 'medication',
};
const CONTEXT_TYPES: Record<string, string> = {
  Medikamentenverabreichung: 'MedicationAdministration',
  Medikamentenanordnung: 'MedicationRequest',
  Medikamentenverordnung: 'MedicationStatement',
};
const RENAMED: Record<string, string> = {
  'http://fhir.de/CodeSystem/dimdi/icd-10-gm': 'http://fhir.de/CodeSystem/bfarm/icd-10-gm',
  'http://fhir.de/CodeSystem/dimdi/ops': 'http://fhir.de/CodeSystem/bfarm/ops',
  'http://fhir.de/CodeSystem/dimdi/atc': 'http://fhir.de/CodeSystem/bfarm/atc',
};
const HIERARCHICAL = new Set([
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd-10-cm',
  'http://fhir.de/CodeSystem/bfarm/icd-10-gm',
  'http://www.whocc.no/atc',
  'http://fhir.de/CodeSystem/bfarm/ops',
]);
const PATIENT_CONCEPTS = new Set([
  'http://snomed.info/sct|263495000',
  'http://snomed.info/sct|424144002',
]);

type Json = Record<string, unknown>;

function codeKey(system: string, code: string, descendants: boolean): string {
  return `${system}|${normaliseCode(system, code)}${descendants ? '*' : ''}`;
}

/** What the CCDL document says, criterion by criterion (patient concepts apart). */
function ccdlReadings(doc: Json): Reading[] {
  const out: Reading[] = [];
  const visit = (groups: unknown, positive: boolean) => {
    for (const group of groups as Json[][]) {
      for (const c of group) {
        const termCodes = (c.termCodes ?? [c.termCode]) as Json[];
        const context = (c.context as Json | undefined)?.code as string | undefined;
        if (termCodes.some((t) => PATIENT_CONCEPTS.has(`${String(t.system)}|${String(t.code)}`))) {
          continue;
        }
        const codes = termCodes
          .map((t) => {
            const system = RENAMED[String(t.system)] ?? String(t.system);
            return codeKey(system, String(t.code), HIERARCHICAL.has(system));
          })
          .sort()
          .join(' ');
        out.push({
          kind: context === undefined ? undefined : CONTEXT_KINDS[context],
          codes,
          positive: positive !== (c.negated === true),
          period: c.timeRestriction !== undefined,
          value: c.valueFilter !== undefined,
          types: context === undefined ? '' : (CONTEXT_TYPES[context] ?? ''),
        });
      }
    }
  };
  visit(doc.inclusionCriteria, true);
  if (doc.exclusionCriteria !== undefined) visit(doc.exclusionCriteria, false);
  return out;
}

/**
 * What the query says: one reading per CCDL criterion. A criterion whose
 * codes fell into several kinds is an `any` of single-kind criteria, so
 * those are joined back into one reading, its kind the set of kinds.
 */
function queryReadings(query: CohortQuery): Reading[] {
  const out: Reading[] = [];
  const codesOf = (set: CodeSet) =>
    set.map((c) => codeKey(c.system, c.code, c.descendants === true));
  const leaf = (expr: Expr, positive: boolean): Reading | undefined => {
    const node = exprNode(expr);
    if (node.op === 'event') {
      const c = node.criterion;
      return {
        kind: node.kind,
        codes: codesOf(c.code).sort().join(' '),
        positive,
        period: c.period !== undefined,
        value:
          ('value' in c && c.value !== undefined) ||
          ('valueCode' in c && c.valueCode !== undefined),
        types: 'resourceTypes' in c && c.resourceTypes ? c.resourceTypes.join(' ') : '',
      };
    }
    if (node.op === 'consent') {
      const codes = codesOf(node.criterion.code).sort().join(' ');
      return { kind: 'consent', codes, positive, period: false, value: false, types: '' };
    }
    return undefined;
  };
  const visit = (expr: Expr, positive: boolean): void => {
    const node = exprNode(expr);
    if (node.op === 'not') return visit(node.child, !positive);
    if (node.op === 'all' || node.op === 'any') {
      const leaves = node.children.map((c) => leaf(c, positive));
      // The `any` one criterion becomes when its codes span kinds.
      if (node.op === 'any' && leaves.every((l) => l !== undefined) && leaves.length > 1) {
        const kinds = new Set(leaves.map((l) => l.kind));
        if (kinds.size === leaves.length) {
          out.push({
            ...leaves[0]!,
            kind: [...kinds].sort().join('+'),
            codes: leaves
              .flatMap((l) => l.codes.split(' '))
              .sort()
              .join(' '),
          });
          return;
        }
      }
      for (const child of node.children) visit(child, positive);
      return;
    }
    const reading = leaf(expr, positive);
    if (reading !== undefined) out.push(reading);
  };
  visit(query.cohort, true);
  return out;
}

const sorted = (readings: Reading[]) => readings.map((r) => JSON.stringify(r)).sort();

describe('the corpus of public CCDL documents', () => {
  it('records the source and licence of every file, and an outcome for each', () => {
    expect(outcomes.length).toBeGreaterThan(250);
    expect(Object.keys(sources).sort()).toEqual(outcomes.map(([name]) => name).sort());
    for (const source of Object.values(sources)) {
      expect(source.licence).toBe('Apache-2.0');
      expect(source.commit).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it.each(outcomes)('%s', (name, outcome) => {
    const doc = read(`corpus/${name}`) as Json;
    if ('imports' in outcome) {
      const query = ccdlToQuery(doc);
      expect(queryHash(query)).toBe(outcome.imports);
      const expected = ccdlReadings(doc);
      const found = queryReadings(query);
      // Kinds the context names must be the kinds translated to.
      const withKind = (rs: Reading[], from: Reading[]) =>
        rs.map((r, i) => (from[i]?.kind === undefined ? { ...r, kind: undefined } : r));
      expect(found).toHaveLength(expected.length);
      const byCodes = (rs: Reading[]) => [...rs].sort((a, b) => (a.codes < b.codes ? -1 : 1));
      const [e, f] = [byCodes(expected), byCodes(found)];
      expect(sorted(withKind(f, e))).toEqual(sorted(e));
      return;
    }
    let problem: unknown;
    try {
      ccdlToQuery(doc);
    } catch (err) {
      problem = err;
    }
    expect(problem).toBeInstanceOf(ProblemError);
    const p = problem as ProblemError;
    expect([p.code, p.pointer, p.detail]).toEqual([
      outcome.refused,
      outcome.pointer,
      outcome.detail,
    ]);
    expect(p.detail?.length).toBeGreaterThan(20);
  });
});
