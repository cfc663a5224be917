// A query's codes read through the node's code-system aliases, by the
// engine and the live source alike: every coding is compared under its canonical URL (as ingest
// stores them), and the strata of a `codes` dimension keep the labels the
// query asked for, whatever URL it named the system by.
import { exprNode, normaliseCode } from '@tessera/schemas';
import type { CodeSet, Coding, Dimension, Expr, Measure } from '@tessera/schemas';
import type { SourceQuery } from './bounds.ts';
import { DECEASED_LABELS, GENDER_LABELS } from './compile.ts';
import type { RawResult } from './raw-result.ts';
import type { CodeSystemAliases } from '../ingest/reading.ts';

function canonicalCoding(coding: Coding, aliases: CodeSystemAliases): Coding {
  const system = aliases.canonical(coding.system);
  return system === coding.system
    ? coding
    : { ...coding, system, code: normaliseCode(system, coding.code) };
}

function canonicalSet(codes: CodeSet, aliases: CodeSystemAliases): CodeSet {
  return codes.map((c) => canonicalCoding(c, aliases)) as unknown as CodeSet;
}

function canonicalExpr(expr: Expr, aliases: CodeSystemAliases): Expr {
  const node = exprNode(expr);
  switch (node.op) {
    case 'all':
      return { all: node.children.map((c) => canonicalExpr(c, aliases)) } as Expr;
    case 'any':
      return { any: node.children.map((c) => canonicalExpr(c, aliases)) } as Expr;
    case 'not':
      return { not: canonicalExpr(node.child, aliases) };
    // Consent policy codes are read as written, at ingest and here.
    case 'patient':
    case 'consent':
      return expr;
    case 'event': {
      const c = node.criterion;
      const criterion = {
        ...c,
        code: canonicalSet(c.code, aliases),
        ...('valueCode' in c && c.valueCode !== undefined
          ? { valueCode: canonicalSet(c.valueCode, aliases) }
          : {}),
      };
      return { [node.kind]: criterion } as unknown as Expr;
    }
  }
}

function canonicalDimension(d: Dimension, aliases: CodeSystemAliases): Dimension {
  return typeof d === 'object' && 'codes' in d
    ? { codes: { ...d.codes, in: canonicalSet(d.codes.in, aliases) } }
    : d;
}

function canonicalMeasure(m: Measure, aliases: CodeSystemAliases): Measure {
  if ('histogram' in m) {
    return {
      histogram: { ...m.histogram, observation: canonicalSet(m.histogram.observation, aliases) },
    };
  }
  if ('summary' in m) {
    return { summary: { ...m.summary, observation: canonicalSet(m.summary.observation, aliases) } };
  }
  return m;
}

/**
 * The query with every coding under its canonical code-system URL, its
 * code normalised for that system (a dimdi ICD-10-GM code loses its dot).
 * @example canonicalQuerySystems(query, createCodeSystemAliases())
 */
export function canonicalQuerySystems(query: SourceQuery, aliases: CodeSystemAliases): SourceQuery {
  return {
    ...query,
    cohort: canonicalExpr(query.cohort, aliases),
    stratify: query.stratify.map((d) => canonicalDimension(d, aliases)),
    measures: query.measures.map((m) => canonicalMeasure(m, aliases)) as SourceQuery['measures'],
  };
}

function dimensionSize(d: Dimension): number {
  if (d === 'gender') return GENDER_LABELS.length;
  if (d === 'deceased') return DECEASED_LABELS.length;
  return 'ageBand' in d ? d.ageBand.length : d.codes.in.length;
}

/**
 * A result of the canonical query with its `codes` strata labelled as the
 * query asked (`system|code` as written). Strata come as the cross product
 * of the dimensions, first slowest, so a stratum's place gives its code.
 */
export function restoreCodeLabels(result: RawResult, query: SourceQuery): RawResult {
  const d = query.stratify.findIndex((x) => typeof x === 'object' && 'codes' in x);
  const dimension = query.stratify[d];
  if (dimension === undefined || typeof dimension !== 'object' || !('codes' in dimension)) {
    return result;
  }
  const labels = dimension.codes.in.map((c) => `${c.system}|${c.code}`);
  const after = query.stratify.slice(d + 1).reduce((n, x) => n * dimensionSize(x), 1);
  return {
    ...result,
    strata: result.strata.map((s, i) => ({
      ...s,
      key: { ...s.key, codes: labels[Math.floor(i / after) % labels.length]! },
    })),
  };
}
